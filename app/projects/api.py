"""The projects JSON API (seed 002's ProjectViewSet): `/api/projects/...`, bearer tokens or the session.

What it lets a script do is what the project pages let its user do, no more:
- the same people: a project is its owner's (anyone else, in or out of the organization, gets 404);
  customers only where the organization opened the projects area to them (`customer_access`);
- the same checks and words: bodies go through `ProjectForm` / `MetaForm` and then the same service
  functions the pages call (`project_create`, `project_update`, `project_publish`, `project_delete`,
  `meta_set`, `meta_delete`), which own the transaction and run the model's validation rules on flush;
- the same lists: `services.projects_query` (tabs and search of the projects page).

A project reads as its common fields plus its type's own fields nested (`school_data` or
`self_study_data`, the other one null) and its metadata (read-only here: it has its own routes).
What GET returns, PUT accepts with the same meaning; read-only fields (id, owner, timestamps,
published_at, metadata) are ignored on write. Errors: `{"error": message}` plus, for bad input (422),
`"errors"` keyed by field, the type's fields nested under their `*_data` key.

Project ids appear in routes through `PROJECT_ID` and in bodies through `project_id_json`, so a change
of id type is one line each (the OpenAPI document keeps it in `components/schemas/ProjectId`).
"""
from __future__ import annotations

import json
from typing import Any

from flask import abort, jsonify, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from app.accounts.tokens import bearer_scope_refusal, is_bearer_request
from app.extensions import csrf, db
from app.platform import json_api
from app.platform.idempotency import idempotent
from app.platform.pagination import paginate
from app.platform.parsing import parse_int
from app.platform.tenancy import get_or_404
from app.platform.transactions import plan_each_statement
from app.platform.validation import ModelValidationError
from app.projects import api_bp, services
from app.projects.forms import MetaForm, ProjectForm
from app.projects.models import (
    PROJECT_TYPES,
    SCHOOL,
    SELF_STUDY,
    TYPE_FIELDS,
    Project,
    ProjectMeta,
)

csrf.exempt(api_bp)

PROJECT_ID = "uuid:project_id"  # the URL converter of project ids (every route below uses it)
TYPE_DATA = {SCHOOL: "school_data", SELF_STUDY: "self_study_data"}
COMMON_TEXT = ("name", "description")
DATES = ("start_date", "end_date")
MAX_PAGE_SIZE = 200


def project_id_json(project_id):
    """A project id as the API writes it (the one place that knows its JSON type): a UUIDv7's text."""
    return str(project_id) if project_id is not None else None


class BadInput(Exception):
    """422 with messages keyed by field (nested under school_data / self_study_data for the type's fields)."""

    def __init__(self, errors: dict, message: str = "Some fields need fixing.") -> None:
        super().__init__(message)
        self.errors = errors



def _http_error(error: HTTPException):
    """Every refusal of this API is JSON (403 from the customer gate, 404, 405, 413...)."""
    db.session.rollback()
    message = json_api.refusal_message(error)
    if error.code == 404 and message == error.name:
        message = "Not found (or it isn't yours)."
    return json_api.error(error.code or 500, message)


# By code: the app's own handlers are per code, and Flask prefers a code handler over a class one.
for _code in (400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429):
    api_bp.register_error_handler(_code, _http_error)


@api_bp.errorhandler(BadInput)
def _bad_input(error: BadInput):
    db.session.rollback()
    return json_api.error(422, str(error), errors=error.errors)


@api_bp.before_request
def _guard():
    if not current_user.is_authenticated:
        return json_api.error(401, "Authentication required: send Authorization: Bearer <token>.")
    refusal = bearer_scope_refusal()  # a read-only token can't write, a write-only one can't read
    if refusal:
        return json_api.error(403, refusal)
    if request.method not in ("GET", "HEAD", "OPTIONS") and not is_bearer_request():
        csrf.protect()  # a browser session writes with its CSRF token, as on the pages
    return None


# --------------------------------------------------------------------------- reading

def meta_json(row: ProjectMeta) -> dict:
    return {"id": row.id, "key": row.key, "value": row.value, "created_at": json_api.iso(row.created_at),
            "updated_at": json_api.iso(row.updated_at)}


def project_json(project: Project) -> dict:
    data = {"id": project_id_json(project.id), "project_type": project.project_type, "name": project.name,
            "description": project.description, "start_date": json_api.iso(project.start_date),
            "end_date": json_api.iso(project.end_date), "is_draft": project.is_draft,
            "published_at": json_api.iso(project.published_at), "owner": project.owner_id,
            "created_at": json_api.iso(project.created_at), "updated_at": json_api.iso(project.updated_at)}
    for project_type, key in TYPE_DATA.items():
        data[key] = project.type_fields() if project.project_type == project_type else None
    data["metadata"] = [meta_json(m) for m in project.metadata_items]
    return data


def _page(stmt):
    size = parse_int(request.args.get("page_size"), minimum=1, maximum=MAX_PAGE_SIZE) or 25
    page = paginate(stmt, per_page=size)
    return jsonify({"count": page.total, "page": page.page, "pages": page.pages,
                    "results": [project_json(row) for row in page.items]})


def _project_or_404(project_id) -> Project:
    """The caller's own project, as on the pages; anyone else's answers 404."""
    project = get_or_404(Project, project_id)
    if project.owner_id != current_user.id:
        abort(404)
    return project


def _query(**filters):
    return services.projects_query(organization_id=current_user.organization_id, owner_id=current_user.id,
                                   **filters)


def _choice(name: str, choices: dict):
    raw = request.args.get(name, "")
    if raw not in choices:
        abort(400, description=f"{name} is one of: {', '.join(c for c in choices if c)}.")
    return choices[raw]


@api_bp.route("/", methods=["GET", "POST"])
@idempotent("projects_api.projects")
def projects():
    if request.method == "POST":
        return _create()
    project_type = _choice("type", {"": None, **{t: t for t in PROJECT_TYPES}})
    drafts = _choice("drafts", {"": None, "true": True, "false": False})
    return _page(_query(project_type=project_type, drafts=drafts))


@api_bp.route("/school-projects/")
def school_projects():
    """Seed 002's `school_projects` action: the caller's school projects."""
    return _page(_query(project_type=SCHOOL))


@api_bp.route("/search/")
def search():
    """Seed 002's `search` action: the projects page's search (name, course name, goal)."""
    q = request.args.get("q", "").strip()[:100]
    if q:
        plan_each_statement()  # as the projects page does before a search
    return _page(_query(q=q))


# --------------------------------------------------------------------------- writing
def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="Send a JSON object (Content-Type: application/json).")
    return data


def _text_or_none(body: dict, name: str, errors: dict, *, where: dict | None = None) -> None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        (where if where is not None else errors).setdefault(name, []).append(f"{name} is a string.")


def _form_values(body: dict, project_type: str, current: dict | None) -> dict:
    """The form fields of `body` over `current` (PATCH) or the defaults (POST, PUT), type-checked as JSON."""
    errors: dict[str, Any] = {}
    values = dict(current or {})
    for name in COMMON_TEXT + DATES:
        if name in body:
            _text_or_none(body, name, errors)
            values[name] = body[name]
    data_key = TYPE_DATA.get(project_type)
    for other_type, other_key in TYPE_DATA.items():
        if other_type != project_type and body.get(other_key) is not None:
            errors[other_key] = [f"A {project_type.replace('_', '-')} project has no {other_key} (send null)."]
    if data_key is not None and data_key in body:
        nested = body[data_key]
        if nested is None:
            nested = {}
        if not isinstance(nested, dict):
            errors[data_key] = [f"{data_key} is an object."]
        else:
            nested_errors: dict[str, list[str]] = {}
            for name in TYPE_FIELDS[project_type]:
                if name in nested:
                    _text_or_none(nested, name, errors, where=nested_errors)
                    values[name] = nested[name]
            if nested_errors:
                errors[data_key] = nested_errors
    if "is_draft" in body and not isinstance(body["is_draft"], bool):
        errors["is_draft"] = ["is_draft is true or false."]
    if errors:
        raise BadInput(errors)
    return values


def _keyed(errors: dict[str, list[str]], project_type: str) -> dict:
    """Form/model errors keyed as the JSON body: the type's fields under its `*_data` key."""
    out: dict[str, Any] = {}
    own = TYPE_FIELDS.get(project_type, ())
    for name, messages in errors.items():
        messages = list(messages) if isinstance(messages, (list, tuple)) else [str(messages)]
        if name in own:
            out.setdefault(TYPE_DATA[project_type], {}).setdefault(name, []).extend(messages)
        else:
            out.setdefault(name if name != "csrf_token" else "request", []).extend(messages)
    return out


def _validated(values: dict, project_type: str) -> ProjectForm:
    """Run the project form (the pages' validation: the model's rules, lengths, dates) on the values."""
    formdata = MultiDict({k: v for k, v in values.items() if v is not None})
    formdata["project_type"] = project_type
    form = ProjectForm(formdata=formdata, meta={"csrf": False})
    if not form.validate():
        raise BadInput(_keyed(form.errors, project_type))
    return form


def _service_failed(exc: Exception, project_type: str):
    db.session.rollback()
    if isinstance(exc, ModelValidationError):
        raise BadInput(_keyed(exc.errors, project_type))
    field = getattr(exc, "field", None) or "request"
    raise BadInput(_keyed({field: [str(exc)]}, project_type), str(exc))


def _created(project: Project):
    response = jsonify(project_json(project))
    response.status_code = 201
    response.headers["Location"] = url_for("projects_api.project", project_id=project.id)
    return response


def _create():
    body = _body()
    project_type = body.get("project_type")
    if project_type not in PROJECT_TYPES:
        raise BadInput({"project_type": [f"project_type is one of: {', '.join(PROJECT_TYPES)}."]})
    form = _validated(_form_values(body, project_type, None), project_type)
    try:
        project = services.project_create(
            owner=current_user, project_type=project_type, name=form.name.data,
            description=form.description.data or "", start_date=form.start_date.data, end_date=form.end_date.data,
            publish=body.get("is_draft") is False, **form.type_values())
    except (services.ProjectError, ModelValidationError) as exc:
        _service_failed(exc, project_type)
    return _created(project)


def _current_values(project: Project) -> dict:
    values = {"name": project.name, "description": project.description,
              "start_date": json_api.iso(project.start_date), "end_date": json_api.iso(project.end_date)}
    values.update(project.type_fields())
    return values


def _update(project: Project, *, partial: bool):
    body = _body()
    project_type = project.project_type
    if body.get("project_type", project_type) != project_type:
        raise BadInput({"project_type": ["The type of a project can't change once created."]})
    form = _validated(_form_values(body, project_type, _current_values(project) if partial else None),
                      project_type)
    if body.get("is_draft") is True and not project.is_draft:
        raise BadInput({"is_draft": ["A published project can't go back to being a draft."]})
    try:
        services.project_update(project=project, name=form.name.data, description=form.description.data or "",
                                start_date=form.start_date.data, end_date=form.end_date.data, **form.type_values())
        if body.get("is_draft") is False and project.is_draft:
            services.project_publish(project=project)
    except (services.ProjectError, ModelValidationError) as exc:
        _service_failed(exc, project_type)
    return jsonify(project_json(project))


@api_bp.route(f"/<{PROJECT_ID}>/", methods=["GET", "PUT", "PATCH", "DELETE"])
def project(project_id):
    row = _project_or_404(project_id)
    if request.method == "GET":
        return jsonify(project_json(row))
    if request.method == "DELETE":
        try:
            services.project_delete(project=row)
        except services.ProjectError as exc:  # active attachments protect their project
            db.session.rollback()
            return json_api.error(409, str(exc))
        return "", 204
    return _update(row, partial=request.method == "PATCH")


# --------------------------------------------------------------------------- metadata
def _meta_or_404(project: Project, meta_id) -> ProjectMeta:
    row = next((m for m in project.metadata_items if m.id == meta_id), None)
    if row is None:
        abort(404)
    return row


def _meta_values(body: dict, current: ProjectMeta | None) -> tuple[str, str]:
    """(key, raw value) through the page's metadata form; the JSON value travels as its JSON text."""
    key = body.get("key", current.key if current is not None else None)
    if key is not None and not isinstance(key, str):
        raise BadInput({"key": ["key is a string."]})
    if current is not None and key is not None and key.strip() != current.key:
        raise BadInput({"key": ["The key of an entry can't change: delete it and add the new key."]})
    if "value" in body:
        if _nan(body["value"]):
            raise BadInput({"value": ["Numbers in value must be finite (no NaN or Infinity)."]})
        raw = json.dumps(body["value"], ensure_ascii=False)
    else:
        raw = json.dumps(current.value, ensure_ascii=False) if current is not None else "null"
    form = MetaForm(formdata=MultiDict({"key": key or "", "value": raw}), meta={"csrf": False})
    if not form.validate():
        raise BadInput(_keyed(form.errors, ""))
    return form.key.data, form.value.data or ""


def _nan(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return True
    return False


def _meta_saved(project: Project, key: str, raw: str) -> ProjectMeta:
    try:
        return services.meta_set(project=project, key=key, raw_value=raw)
    except (services.ProjectError, ModelValidationError) as exc:
        _service_failed(exc, "")


@api_bp.route(f"/<{PROJECT_ID}>/metadata/", methods=["GET", "POST"])
def metadata(project_id):
    """GET: the project's entries by key. POST {key, value}: add an entry, or replace the value of that key."""
    project = _project_or_404(project_id)
    if request.method == "GET":
        return jsonify({"count": len(project.metadata_items),
                        "results": [meta_json(m) for m in project.metadata_items]})
    body = _body()
    existed = {m.key for m in project.metadata_items}
    key, raw = _meta_values(body, None)
    row = _meta_saved(project, key, raw)
    response = jsonify(meta_json(row))
    response.status_code = 200 if key in existed else 201
    response.headers["Location"] = url_for("projects_api.metadata_item", project_id=project.id, meta_id=row.id)
    return response


@api_bp.route(f"/<{PROJECT_ID}>/metadata/<int:meta_id>/", methods=["GET", "PUT", "PATCH", "DELETE"])
def metadata_item(project_id, meta_id: int):
    """One entry. PUT/PATCH change its value (its key is its name: it can't change); DELETE removes it."""
    project = _project_or_404(project_id)
    row = _meta_or_404(project, meta_id)
    if request.method == "GET":
        return jsonify(meta_json(row))
    if request.method == "DELETE":
        try:
            services.meta_delete(project=project, meta_id=row.id)
        except services.ProjectError:
            abort(404)
        return "", 204
    body = _body()
    if request.method == "PUT" and "value" not in body:
        raise BadInput({"value": ["value is required (any JSON value; null is a value)."]})
    key, raw = _meta_values(body, row)
    return jsonify(meta_json(_meta_saved(project, key, raw)))

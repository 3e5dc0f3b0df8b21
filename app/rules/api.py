"""The seed's REST resources, answering JSON when asked (`Accept: application/json`).

Scripts authenticate with a personal API token (`Authorization: Bearer ...`);
browsers with their session. CSRF is skipped only for bearer-token requests
(they carry no cookie); a cookie-authenticated POST still needs the token.
Browsers that don't ask for JSON are sent to the matching page.
"""
from __future__ import annotations

from flask import jsonify, redirect, request, url_for
from flask_login import current_user

from app.accounts.tokens import (
    bearer_scope_refusal,
    has_bearer_header,
    is_bearer_request,
)
from app.extensions import csrf, db
from app.platform import json_api
from app.platform.idempotency import idempotent
from app.platform.pagination import paginate
from app.platform.parsing import parse_id
from app.platform.tenancy import current_workspace, get_or_404, scoped
from app.rules import api_bp, services
from app.rules.models import ConflictCheck, GeneratedName, Generation, Rule, RulePreview

csrf.exempt(api_bp)


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    # Any bearer header means a script, even with a bad token: it gets a JSON 401, not the sign-in page.
    return best == "application/json" or request.is_json or is_bearer_request() or has_bearer_header()



@api_bp.before_request
def _guard():
    if not current_user.is_authenticated:
        if wants_json():
            return json_api.error(401, "Authentication required: send Authorization: Bearer <token>.")
        return redirect(url_for("accounts.sign_in", next=request.full_path))
    refusal = bearer_scope_refusal()  # a read-only token can't POST, a write-only one can't GET
    if refusal:
        return json_api.error(403, refusal)
    if request.method == "POST" and not is_bearer_request():
        csrf.protect()
    if current_user.role not in ("admin", "manager", "agent"):
        return json_api.error(403, "Your role doesn't give you access to naming rules.") if wants_json() else ("", 403)
    if current_workspace() is None:
        return json_api.error(404, "No workspace.")
    return None



def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        data = request.form.to_dict()
    return data


def _page(stmt, serialize):
    page = paginate(stmt, per_page=min(max(request.args.get("page_size", 25, type=int) or 25, 1), 200))
    return jsonify({"count": page.total, "page": page.page, "pages": page.pages,
                    "results": [serialize(row) for row in page.items]})


# --------------------------------------------------------------------------- generations
def generation_json(g: Generation, *, names: bool = False) -> dict:
    data = {"id": g.id, "rule": g.rule_id, "submission": g.submission_id, "dimension_values": g.dimension_values,
            "field_filter": g.field_filter, "options": g.options, "status": g.status, "progress": g.progress,
            "result_count": g.result_count, "error_message": g.error_message, "requested_by": g.requested_by_id,
            "created_at": json_api.iso(g.created_at), "updated_at": json_api.iso(g.updated_at)}
    if names:
        data["strings"] = [{"id": n.id, "value": n.value, "field": n.field_id, "dimension_values": n.dimension_values,
                            "is_active": n.is_active}
                           for n in db.session.scalars(scoped(GeneratedName).where(
                               GeneratedName.generation_id == g.id).order_by(GeneratedName.id).limit(1000))]
        data["errors"] = (g.result or {}).get("errors", [])
        if (g.options or {}).get("validate_only"):
            data["sample"] = (g.result or {}).get("sample", [])
    return data


GENERATION_FLAGS = ("validate_only", "continue_on_error", "auto_increment")


def generation_flags(body: dict) -> dict[str, bool]:
    """The options, read as GET returns them (`"options": {...}`) or as top-level keys; a top-level key wins.

    `size` in `options` is what the server computed: ignored, like any unknown key.
    """
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise services.RulesError("options is an object such as {\"validate_only\": true}.", "options")
    flags = {}
    for key in GENERATION_FLAGS:
        value = body.get(key, options.get(key, False))
        if not isinstance(value, (bool, int, type(None))) and value not in ("true", "false", "1", "0", "", "on", "y"):
            raise services.RulesError(f"{key} is true or false.", key)
        flags[key] = value not in (False, None, 0, "", "false", "0")
    return flags


@api_bp.route("/generations/", methods=["GET", "POST"])
@idempotent("rules_api.generations")
def generations():
    if not wants_json():
        return redirect(url_for("rules.generations" if request.method == "GET" else "rules.generation_new"))
    workspace = current_workspace()
    if request.method == "GET":
        return _page(services.generations_query(workspace, status=request.args.get("status", ""),
                                                rule_id=request.args.get("rule", "")), generation_json)
    body = _body()
    try:
        flags = generation_flags(body)
        generation = services.generation_create(
            workspace=workspace, rule_id=body.get("rule"), dimension_values=body.get("dimension_values") or {},
            field_filter=body.get("field_filter") or [], user=current_user, note=str(body.get("note") or ""), **flags)
    except services.RulesError as exc:
        db.session.rollback()
        return json_api.error(422, str(exc), field=exc.field, problems=exc.problems)
    response = jsonify(generation_json(generation))
    response.status_code = 201
    response.headers["Location"] = url_for("rules_api.generation", generation_id=generation.id)
    return response


@api_bp.route("/generations/<int:generation_id>/")
def generation(generation_id: int):
    row = get_or_404(Generation, generation_id)
    if not wants_json():
        return redirect(url_for("rules.generation_detail", generation_id=row.id))
    return jsonify(generation_json(row, names=True))


# --------------------------------------------------------------------------- conflict checks
RESULTS_SHOWN = 1000  # findings in one detail response; the page lists them all, a page at a time


def check_json(c: ConflictCheck, *, results: bool = False) -> dict:
    data = {"id": c.id, "proposed_count": c.proposed_count, "generation": c.generation_id, "scope": c.scope,
            "platform": c.platform_id, "rule": c.rule_id, "status": c.status, "progress": c.progress,
            "error_message": c.error_message, "conflicts_found": c.conflicts_found, "max_severity": c.max_severity,
            "severity_counts": c.severity_counts, "checked_by": c.checked_by_id, "created_at": json_api.iso(c.created_at)}
    if results:
        data["proposed_strings"] = c.proposed_strings
        rows = db.session.scalars(services.conflict_results_query(c).limit(RESULTS_SHOWN))
        data["results"] = [{"proposed_value": r.proposed_value, "conflicting_string": r.conflicting_string_id,
                            "severity": r.severity, "message": r.message} for r in rows]
        data["results_truncated"] = c.conflicts_found > RESULTS_SHOWN
    return data


@api_bp.route("/conflict-checks/", methods=["GET", "POST"])
@idempotent("rules_api.conflict_checks")
def conflict_checks():
    """POST {"proposed_strings": [...]} (up to MAX_CHECK_SIZE) or {"generation": id} (a validate-only
    generation's whole output): 201 with the pending check; GET its URL until status is completed."""
    if not wants_json():
        return redirect(url_for("rules.conflicts"))
    workspace = current_workspace()
    if request.method == "GET":
        return _page(scoped(ConflictCheck).order_by(ConflictCheck.created_at.desc(), ConflictCheck.id.desc()),
                     check_json)
    body = _body()
    try:
        if body.get("generation") not in (None, ""):
            generation = db.session.scalars(scoped(Generation).where(
                Generation.id == services._as_int(body["generation"]))).first()
            if generation is None:
                return json_api.error(422, "Choose a generation of this workspace.", field="generation")
            check = services.conflict_check_of_generation(generation=generation, user=current_user)
        else:
            check = services.conflict_check_create(workspace=workspace, proposed=body.get("proposed_strings"),
                                                   scope=body.get("scope") or "workspace",
                                                   platform_id=body.get("platform"), rule_id=body.get("rule"),
                                                   user=current_user)
    except services.RulesError as exc:
        db.session.rollback()
        return json_api.error(422, str(exc), field=exc.field)
    response = jsonify(check_json(check))
    response.status_code = 201
    response.headers["Location"] = url_for("rules_api.conflict_check", check_id=check.id)
    return response


@api_bp.route("/conflict-checks/<int:check_id>/")
def conflict_check(check_id: int):
    row = get_or_404(ConflictCheck, check_id)
    if not wants_json():
        return redirect(url_for("rules.conflict_detail", check_id=row.id))
    return jsonify(check_json(row, results=True))


# --------------------------------------------------------------------------- rule previews
def preview_json(p: RulePreview) -> dict:
    return {"id": p.id, "rule": p.rule_id, "label": p.label, "test_data": p.test_data,
            "generated_examples": p.generated_examples, "validation_results": p.validation_results,
            "created_by": p.created_by_id, "created_at": json_api.iso(p.created_at)}


@api_bp.route("/rule-previews/", methods=["GET", "POST"])
def rule_previews():
    if not wants_json():
        return redirect(url_for("rules.index"))
    if request.method == "GET":
        stmt = scoped(RulePreview).order_by(RulePreview.created_at.desc(), RulePreview.id.desc())
        if parse_id(request.args.get("rule")) is not None:
            stmt = stmt.where(RulePreview.rule_id == parse_id(request.args["rule"]))
        return _page(stmt, preview_json)
    body = _body()
    rule = db.session.scalars(scoped(Rule, Rule.select_active()).where(
        Rule.id == (parse_id(body.get("rule")) or -1))).first()
    if rule is None:
        return json_api.error(422, "Choose a rule of this workspace.", field="rule")
    test_data = body.get("test_data") or {}
    if not isinstance(test_data, dict):
        return json_api.error(422, "test_data maps dimension keys to sample values.", field="test_data")
    preview = services.rule_preview_save(rule=rule, test_data=test_data, user=current_user,
                                         label=str(body.get("label") or ""))
    return jsonify(preview_json(preview)), 201


@api_bp.route("/rule-previews/<int:preview_id>/")
def rule_preview(preview_id: int):
    row = get_or_404(RulePreview, preview_id)
    if not wants_json():
        return redirect(url_for("rules.preview_detail", preview_id=row.id))
    return jsonify(preview_json(row))


def _not_found(error):
    if wants_json():
        return json_api.error(404, "Not found (or it belongs to another workspace).")
    from flask import render_template

    return render_template("errors/error.html", status=404, title="Not found",
                           message="There is nothing here, or it belongs to someone else."), 404


def _refused(error):
    """A script gets every refusal as JSON (the 400 of unstorable text, a customer's 403...); a browser the page."""
    if not wants_json():
        from flask import current_app

        handlers = current_app.error_handler_spec[None][error.code]  # the app's page for this status
        handler = next((handlers[c] for c in type(error).__mro__ if c in handlers), None)
        return handler(error) if handler is not None else error
    described = json_api.refusal_message(error)
    return json_api.error(error.code, described)


api_bp.register_error_handler(404, _not_found)
for _code in (400, 403, 405, 413, 422, 429):  # by code: the app's handlers are per code and win over a class one
    api_bp.register_error_handler(_code, _refused)

"""The OpenAPI 3.1 description of the whole JSON API: the naming-rules resources (app/rules/api.py) and
the projects API (app/projects/api.py). Written by hand, next to the code it describes: when a route, a
field or a status changes there, change it here (tests/api/test_schemathesis.py calls every operation
described here and checks each answer against it; tests/api/test_openapi.py checks every API route is here).

Project ids are described once, in `components/schemas/ProjectId`.
"""
from __future__ import annotations

from copy import deepcopy

JSON = "application/json"
STUDY_FIELDS_MAX = {"course_name": 255, "course_code": 50, "teacher_name": 255, "study_frequency": 50}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def json_body(schema: dict, description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def error(description: str) -> dict:
    return json_body(ref("Error"), description)


# The answers every operation may give besides its own.
COMMON_ERRORS = {
    "400": error("Malformed request: a query parameter outside its choices, a body that is not a JSON object, "
                 "or text the database can't store (NUL bytes, unpaired surrogates)."),
    "401": error("No valid token (or session)."),
    "403": error("The token lacks the scope (read for GET, write for the others), or the user's role may not use "
                 "this area."),
}
NOT_FOUND = {"404": error("No such object, or it belongs to another user, organization or workspace.")}
INVALID = {"422": error("Some fields need fixing: `errors` (projects) or `field` (rules) says where.")}
REPEAT = {"303": {"description": "A repeat of an earlier POST with the same Idempotency-Key: "
                                 "`Location` is what the first one created."}}


def responses(ok: dict, *extra: dict) -> dict:
    out = dict(ok)
    for more in extra:
        out.update(more)
    out.update(COMMON_ERRORS)
    return out


def query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def path_id(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


PAGE_PARAMETERS = [
    query("page", {"type": "integer", "minimum": 1, "maximum": 100000}, "Page number (1 is the first)."),
    query("page_size", {"type": "integer", "minimum": 1, "maximum": 200}, "Results a page (default 25)."),
]
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
                   "description": "Send the same key again and get what the first request made (303) "
                                  "instead of a second one."}
ID = {"type": "integer", "minimum": 1, "maximum": 2147483647}
TIMESTAMP = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}


def page_of(item: str) -> dict:
    return {"type": "object", "required": ["count", "page", "pages", "results"],
            "properties": {"count": {"type": "integer", "minimum": 0}, "page": {"type": "integer", "minimum": 1},
                           "pages": nullable({"type": "integer", "minimum": 1}),
                           "results": {"type": "array", "items": ref(item)}}}


def text(max_length: int | None = None, **extra) -> dict:
    schema = {"type": "string", **extra}
    if max_length:
        schema["maxLength"] = max_length
    return schema


# --------------------------------------------------------------------------- schemas
SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "What went wrong, in words a user can act on."},
            "errors": {"type": "object", "description": "Projects API, 422: messages by field; a project type's "
                       "own fields nested under `school_data` / `self_study_data`.",
                       "additionalProperties": {"anyOf": [
                           {"type": "array", "items": {"type": "string"}},
                           {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}]}},
            "field": nullable({"type": "string", "description": "Rules API, 422: the field at fault."}),
            "problems": {"description": "Rules API, 422: details by dimension or field, when there are several."},
        },
    },
    # The one place that says what a project id is.
    "ProjectId": {"type": "string", "format": "uuid", "description": "A UUIDv7 (time-ordered)."},
    "SchoolData": {
        "type": "object", "description": "A school project's own fields (all required and non-blank).",
        "properties": {name: text(STUDY_FIELDS_MAX[name]) for name in ("course_name", "course_code", "teacher_name")},
    },
    "SelfStudyData": {
        "type": "object", "description": "A self-study project's own fields (both required and non-blank). "
                                         "study_frequency is free text; the page suggests daily, weekly, ...",
        "properties": {"goal_description": text(), "study_frequency": text(50)},
    },
    "ProjectMeta": {
        "type": "object", "required": ["id", "key", "value", "created_at", "updated_at"],
        "properties": {"id": {"type": "integer"}, "key": text(255),
                       "value": {"description": "Any JSON value (text, number, list, object, true/false, null)."},
                       "created_at": TIMESTAMP, "updated_at": TIMESTAMP},
    },
    "ProjectMetaWrite": {
        "type": "object",
        "properties": {"key": text(255, description="If sent, the entry's own key (it can't change)."),
                       "value": {"description": "Any JSON value; its JSON text is at most 20000 characters."}},
    },
    "ProjectMetaCreate": {
        "type": "object", "required": ["key"],
        "properties": {"key": text(255, pattern=r"\S"),
                       "value": {"description": "Any JSON value (default null); its JSON text is at most 20000 "
                                                "characters."}},
    },
    "ProjectMetaPut": {
        "type": "object", "required": ["value"],
        "properties": {"key": text(255, description="If sent, the entry's own key (it can't change)."),
                       "value": {"description": "Any JSON value; its JSON text is at most 20000 characters."}},
    },
    "ProjectMetaList": {
        "type": "object", "required": ["count", "results"],
        "properties": {"count": {"type": "integer", "minimum": 0},
                       "results": {"type": "array", "items": ref("ProjectMeta")}},
    },
    "Project": {
        "type": "object",
        "required": ["id", "project_type", "name", "description", "start_date", "end_date", "is_draft",
                     "published_at", "owner", "created_at", "updated_at", "school_data", "self_study_data",
                     "metadata"],
        "properties": {
            "id": ref("ProjectId"),
            "project_type": {"type": "string", "enum": ["school", "self_study"]},
            "name": text(255), "description": text(5000),
            "start_date": nullable(DATE), "end_date": nullable(DATE),
            "is_draft": {"type": "boolean"}, "published_at": nullable(TIMESTAMP),
            "owner": {"type": "integer"}, "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
            "school_data": nullable(ref("SchoolData")), "self_study_data": nullable(ref("SelfStudyData")),
            "metadata": {"type": "array", "items": ref("ProjectMeta"), "readOnly": True},
        },
    },
    "ProjectPatch": {
        "type": "object",
        "description": "PATCH: only the fields sent change (within school_data / self_study_data too). "
                       "Read-only fields (id, owner, timestamps, published_at, metadata) are ignored. "
                       "is_draft false publishes a draft; a published project can't become a draft again.",
        "properties": {
            "project_type": {"type": "string", "enum": ["school", "self_study"],
                             "description": "If sent, the project's own type (it can't change)."},
            "name": text(255), "description": nullable(text(5000)),
            "start_date": nullable(DATE), "end_date": {**nullable(DATE), "description": "Not before start_date."},
            "is_draft": {"type": "boolean"},
            "school_data": nullable(ref("SchoolData")), "self_study_data": nullable(ref("SelfStudyData")),
        },
    },
    "ProjectWrite": {
        "description": "POST and PUT: a whole project, as GET returns it (read-only fields are ignored). PUT clears "
                       "the optional fields it doesn't send; on PUT project_type may be left out (it can't change).",
        "oneOf": [ref("SchoolProjectWrite"), ref("SelfStudyProjectWrite")],
        "discriminator": {"propertyName": "project_type",
                          "mapping": {"school": "#/components/schemas/SchoolProjectWrite",
                                      "self_study": "#/components/schemas/SelfStudyProjectWrite"}},
    },
    **{f"{prefix}ProjectWrite": {
        "type": "object", "required": ["project_type", "name", data_key],
        "properties": {
            "project_type": {"type": "string", "const": project_type},
            "name": text(255, pattern=r"\S"), "description": nullable(text(5000)),
            "start_date": nullable(DATE), "end_date": {**nullable(DATE), "description": "Not before start_date."},
            "is_draft": {"type": "boolean", "description": "false publishes (default: a draft)."},
            data_key: {"type": "object", "required": list(fields),
                       "properties": {f: text(STUDY_FIELDS_MAX.get(f), pattern=r"\S") for f in fields}},
            other_key: {"type": "null", "description": "Always null for this type."},
        },
    } for prefix, project_type, data_key, other_key, fields in (
        ("School", "school", "school_data", "self_study_data", ("course_name", "course_code", "teacher_name")),
        ("SelfStudy", "self_study", "self_study_data", "school_data", ("goal_description", "study_frequency")))},
    "ProjectPage": page_of("Project"),
    # ----- rules
    "Generation": {
        "type": "object",
        "required": ["id", "rule", "submission", "dimension_values", "field_filter", "options", "status", "progress",
                     "result_count", "error_message", "requested_by", "created_at", "updated_at"],
        "properties": {
            "id": ID, "rule": {"type": "integer"}, "submission": nullable({"type": "integer"}),
            "dimension_values": {"type": "object"}, "field_filter": {"type": "array"}, "options": {"type": "object"},
            "status": {"type": "string", "description": "pending, generating, completed, failed"},
            "progress": {"type": "integer"}, "result_count": {"type": "integer"},
            "error_message": nullable({"type": "string"}), "requested_by": nullable({"type": "integer"}),
            "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
            "strings": {"type": "array", "description": "Detail only: the names made (the first 1000).",
                        "items": {"type": "object", "properties": {
                            "id": {"type": "integer"}, "value": {"type": "string"},
                            "field": nullable({"type": "integer"}), "dimension_values": {"type": "object"},
                            "is_active": {"type": "boolean"}}}},
            "errors": {"type": "array", "description": "Detail only."},
            "sample": {"type": "array", "description": "Detail of a validate-only generation."},
        },
    },
    "GenerationCreate": {
        "type": "object", "required": ["rule"],
        "properties": {
            "rule": {"type": "integer", "description": "A rule of the current workspace."},
            "dimension_values": {"type": "object", "description": "dimension key -> value or list of values"},
            "field_filter": {"type": "array", "items": {"type": "integer"}}, "note": {"type": "string"},
            "options": {"type": "object", "properties": {k: {"type": "boolean"} for k in (
                "validate_only", "continue_on_error", "auto_increment")}},
            **{k: {"type": "boolean"} for k in ("validate_only", "continue_on_error", "auto_increment")},
        },
    },
    "GenerationPage": page_of("Generation"),
    "ConflictCheck": {
        "type": "object",
        "required": ["id", "proposed_count", "generation", "scope", "platform", "rule", "status", "progress",
                     "error_message", "conflicts_found", "max_severity", "severity_counts", "checked_by",
                     "created_at"],
        "properties": {
            "id": ID, "proposed_count": {"type": "integer"}, "generation": nullable({"type": "integer"}),
            "scope": {"type": "string"}, "platform": nullable({"type": "integer"}), "rule": nullable({"type": "integer"}),
            "status": {"type": "string"}, "progress": {"type": "integer"}, "error_message": nullable({"type": "string"}),
            "conflicts_found": {"type": "integer"}, "max_severity": nullable({"type": "string"}),
            "severity_counts": {"type": "object"}, "checked_by": nullable({"type": "integer"}),
            "created_at": TIMESTAMP,
            "proposed_strings": {"type": "array", "items": {"type": "string"}, "description": "Detail only."},
            "results": {"type": "array", "description": "Detail only (the first 1000 findings).",
                        "items": {"type": "object", "properties": {
                            "proposed_value": {"type": "string"}, "conflicting_string": nullable({"type": "integer"}),
                            "severity": {"type": "string"}, "message": {"type": "string"}}}},
            "results_truncated": {"type": "boolean", "description": "Detail only."},
        },
    },
    "ConflictCheckCreate": {
        "type": "object",
        "description": "Either proposed_strings or generation (a validate-only generation's whole output).",
        "anyOf": [{"required": ["proposed_strings"]}, {"required": ["generation"]}],
        "properties": {
            "proposed_strings": {"type": "array", "items": {"type": "string"}},
            "generation": {"type": "integer"}, "scope": {"type": "string", "enum": ["workspace", "organization"]},
            "platform": nullable({"type": "integer"}), "rule": nullable({"type": "integer"}),
        },
    },
    "ConflictCheckPage": page_of("ConflictCheck"),
    "RulePreview": {
        "type": "object",
        "required": ["id", "rule", "label", "test_data", "generated_examples", "validation_results", "created_by",
                     "created_at"],
        "properties": {"id": ID, "rule": {"type": "integer"}, "label": {"type": "string"},
                       "test_data": {"type": "object"}, "generated_examples": {"type": "array"},
                       "validation_results": {"type": "object"}, "created_by": nullable({"type": "integer"}),
                       "created_at": TIMESTAMP},
    },
    "RulePreviewCreate": {
        "type": "object", "required": ["rule"],
        "properties": {"rule": {"type": "integer", "description": "An active rule of the workspace."},
                       "test_data": {"type": "object", "description": "dimension key -> sample value"},
                       "label": {"type": "string", "maxLength": 120}},
    },
    "RulePreviewPage": page_of("RulePreview"),
}

# --------------------------------------------------------------------------- paths
PROJECT_ID = path_id("project_id", ref("ProjectId"))
META_ID = path_id("meta_id", ID)
PROJECT_LIST_FILTERS = [
    query("type", {"type": "string", "enum": ["school", "self_study"]}, "Only projects of this type."),
    query("drafts", {"type": "string", "enum": ["true", "false"]}, "Only drafts (true) or only published (false)."),
]


def op(summary: str, tag: str, ok: dict, *extra: dict, parameters=(), body: dict | None = None,
       description: str = "") -> dict:
    operation = {"summary": summary, "tags": [tag], "responses": responses(ok, *extra)}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return operation


def rules_paths() -> dict:
    tag = "Naming rules"
    paths = {}
    for collection, item, name, param, filters in (
            ("/generations/", "/generations/{generation_id}/", "Generation", "generation_id",
             [query("status", {"type": "string", "enum": ["pending", "generating", "completed", "failed"]},
                    "Only generations in this status."),
              query("rule", {"type": "integer"}, "Only generations of this rule.")]),
            ("/conflict-checks/", "/conflict-checks/{check_id}/", "ConflictCheck", "check_id", []),
            ("/rule-previews/", "/rule-previews/{preview_id}/", "RulePreview", "preview_id",
             [query("rule", {"type": "integer"}, "Only previews of this rule.")])):
        post = op(f"Create a {name}", tag, {"201": json_body(ref(name), f"The new {name}; `Location` is its URL.")},
                  INVALID, body=ref(f"{name}Create"))
        if name != "RulePreview":  # generations and conflict checks are idempotent creates
            post["parameters"] = [IDEMPOTENCY_KEY]
            post["responses"].update(REPEAT)
        paths[collection] = {
            "get": op(f"List {name}s of the current workspace, newest first", tag,
                      {"200": json_body(ref(f"{name}Page"), "One page.")}, parameters=[*filters, *PAGE_PARAMETERS]),
            "post": post,
        }
        paths[item] = {"parameters": [path_id(param, ID)],
                       "get": op(f"Read a {name}", tag, {"200": json_body(ref(name), name)}, NOT_FOUND)}
    return paths


def projects_paths() -> dict:
    tag = "Projects"
    page = {"200": json_body(ref("ProjectPage"), "One page of the caller's projects, newest first.")}
    one = {"200": json_body(ref("Project"), "The project.")}
    meta_one = {"200": json_body(ref("ProjectMeta"), "The entry.")}
    gone = {"204": {"description": "Deleted."}}
    return {
        "/api/projects/": {
            "get": op("List the caller's projects", tag, page, parameters=[*PROJECT_LIST_FILTERS, *PAGE_PARAMETERS]),
            "post": op("Create a school or self-study project", tag,
                       {"201": json_body(ref("Project"), "The new project; `Location` is its URL.")}, INVALID, REPEAT,
                       parameters=[IDEMPOTENCY_KEY], body=ref("ProjectWrite"),
                       description="A draft unless is_draft is false. project_type and the type's data are required."),
        },
        "/api/projects/school-projects/": {
            "get": op("List the caller's school projects", tag, page, parameters=PAGE_PARAMETERS)},
        "/api/projects/search/": {
            "get": op("Search the caller's projects (name, course name, goal)", tag, page,
                      parameters=[query("q", {"type": "string", "maxLength": 100}, "Words to look for."),
                                  *PAGE_PARAMETERS])},
        "/api/projects/{project_id}/": {
            "parameters": [PROJECT_ID],
            "get": op("Read a project", tag, one, NOT_FOUND),
            "put": op("Replace a project's fields", tag, one, NOT_FOUND, INVALID, body=ref("ProjectWrite")),
            "patch": op("Change some of a project's fields", tag, one, NOT_FOUND, INVALID, body=ref("ProjectPatch")),
            "delete": op("Delete a project (and its metadata, dates and generations)", tag, gone, NOT_FOUND,
                         {"409": error("Active attachments protect the project: remove them first.")}),
        },
        "/api/projects/{project_id}/metadata/": {
            "parameters": [PROJECT_ID],
            "get": op("The project's metadata entries, by key", tag,
                      {"200": json_body(ref("ProjectMetaList"), "Every entry.")}, NOT_FOUND),
            "post": op("Add an entry (or replace the value of an existing key)", tag,
                       {"201": json_body(ref("ProjectMeta"), "Added; `Location` is its URL."),
                        "200": json_body(ref("ProjectMeta"), "The key existed: its value was replaced.")},
                       NOT_FOUND, INVALID, body=ref("ProjectMetaCreate")),
        },
        "/api/projects/{project_id}/metadata/{meta_id}/": {
            "parameters": [PROJECT_ID, META_ID],
            "get": op("Read an entry", tag, meta_one, NOT_FOUND),
            "put": op("Replace an entry's value", tag, meta_one, NOT_FOUND, INVALID, body=ref("ProjectMetaPut")),
            "patch": op("Change an entry's value", tag, meta_one, NOT_FOUND, INVALID, body=ref("ProjectMetaWrite")),
            "delete": op("Remove an entry", tag, gone, NOT_FOUND),
        },
    }


def build() -> dict:
    return deepcopy({
        "openapi": "3.1.0",
        "info": {"title": "Cairn JSON API", "version": "1",
                 "description": "Naming-rule generations, conflict checks and previews (in the current workspace), "
                                "and the caller's projects. Authenticate with a personal API token from "
                                "Preferences > API tokens: `Authorization: Bearer cairn_...`; a token with the read "
                                "scope may GET, one with the write scope may do the rest."},
        "security": [{"bearer": []}],
        "paths": {**rules_paths(), **projects_paths()},
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "A personal API token (cairn_...)."}}},
    })

"""Every route x every role: what the role may use answers 200/302, the rest 302/401/403/404; never 500.

The routes come from `app.url_map`, so a new route is exercised as soon as it exists;
it must also be listed in ACCESS (who may use it), or this test fails.

Roles: anonymous; the demo organization's customer, agent, manager and admin; a customer
and an admin of another organization (they use the demo organization's ids, which must
answer 403/404, never the page); and a bearer token of the demo agent. A GET the role
may use answers 200 or 302 (404 where the demo has no such row). A POST carries only a
CSRF token (an empty form): the role may use it if it is not refused with 403.
Bearer requests: every route outside the JSON API blueprints (`API_BLUEPRINTS`, nested
blueprints included: decided by the route's blueprint, never its path) answers exactly 401 with
a JSON reason and no cookie; an API route answers what the token's user may use, never 200 where
that role may not, and never sets a cookie.
"""
from __future__ import annotations

from app.accounts.tokens import API_BLUEPRINTS
from tests.security.matrix_run import exercise
from tests.security.world import ACTS_AS, FOREIGN, ID_CONVERTERS, build_world

PUBLIC, MEMBER, STAFF, MANAGER, ADMIN = "public", "member", "staff", "manager", "admin"
NOBODY = "nobody"  # operator pages: no organization role opens them (404 for all)
CUSTOMER = "customer"  # customers only (rating their own ticket)
OWNER = "owner"  # projects are private to their owner: the demo projects belong to the demo admin
ALLOWED = {
    PUBLIC: {None, "customer", "agent", "manager", "admin"},
    MEMBER: {"customer", "agent", "manager", "admin"},
    STAFF: {"agent", "manager", "admin"},
    MANAGER: {"manager", "admin"},
    ADMIN: {"admin"},
    CUSTOMER: {"customer"},
    OWNER: {"admin"},
    NOBODY: set(),
}
REFUSED = {302, 401, 403, 404}

# endpoint -> who may use it; "POST endpoint" where the POST differs from the GET.
# A trailing "?" means the route needs query arguments the matrix doesn't send: 404 is fine then.
ACCESS: dict[str, str] = {
    "static": PUBLIC, "core.index": PUBLIC, "core.favicon": PUBLIC, "core.dashboard": MEMBER, "core.jobs": STAFF,
    "core.job_status": STAFF, "core.job_retry_view": STAFF, "platform_undo.undo": MEMBER, "operator.indexes": NOBODY,
    # accounts
    "accounts.sign_in": PUBLIC, "accounts.sign_up": PUBLIC, "accounts.sign_out": PUBLIC,
    "accounts.accept_invite": PUBLIC, "accounts.password_forgot": PUBLIC, "accounts.password_reset": PUBLIC,
    "accounts.email_confirm": PUBLIC, "accounts.email_change": MEMBER, "accounts.preferences": MEMBER, "accounts.password": MEMBER,
    "accounts.profile": MEMBER, "accounts.session_end": MEMBER, "accounts.api_token_new": MEMBER,
    "accounts.api_token_revoke_view": MEMBER, "accounts.workspaces": STAFF, "POST accounts.workspaces": MANAGER,
    "accounts.workspace_switch": STAFF, "accounts.workspace_edit": MANAGER, "accounts.workspace_delete": MANAGER,
    "accounts.workspace_restore": MANAGER, "accounts.activity": MANAGER, "accounts.members": MANAGER,
    "accounts.trash": MANAGER, "accounts.member_add": ADMIN, "accounts.member_edit": ADMIN,
    "accounts.member_deactivate": ADMIN, "accounts.member_reinvite": ADMIN, "accounts.member_restore": ADMIN,
    "accounts.organization": ADMIN, "accounts.organization_delete": ADMIN, "accounts.usage": ADMIN,
    "accounts.usage_trim": ADMIN, "accounts.trash_purge": ADMIN, "accounts.trash_restore": MANAGER,
    # exports (customers: the helpdesk only, unless an admin opens more areas)
    "exports.index": STAFF, "exports.download_file": STAFF, "exports.request_new": STAFF,
    "exports.request_detail": STAFF, "exports.request_delete": STAFF, "exports.request_download": STAFF,
    "exports.preview": STAFF, "exports.schedules": STAFF, "exports.schedule_new": STAFF,
    "exports.schedule_edit": STAFF, "exports.schedule_delete": STAFF, "exports.schedule_toggle": STAFF,
    "exports.templates": STAFF, "exports.template_new": STAFF, "exports.template_edit": MANAGER,
    "exports.template_delete": STAFF, "exports.template_share": STAFF, "exports.timesheet": STAFF,
    "exports.entry_create": STAFF, "exports.entry_edit": STAFF, "POST exports.entry_edit": STAFF,
    "exports.entry_delete": STAFF, "exports.usage": STAFF, "exports.audit": MANAGER,
    # projects
    "projects.index": STAFF, "projects.create": STAFF, "projects.type_fields": STAFF,
    "projects.templates": STAFF, "POST projects.templates": MANAGER, "projects.template_remove": MANAGER,
    "projects.settings": ADMIN, "projects.cleanup_now": ADMIN,
    **{f"projects.{name}": OWNER for name in (
        "detail", "edit", "delete", "publish", "calendar", "generate", "meta_add", "meta_remove", "date_add",
        "date_remove", "generation_diff", "attachment_add", "attachment_download", "attachment_remove", "attachment_restore",
        "generation_detail", "generation_archive", "export_create", "export_download", "file_view", "manifest")},
    # the projects JSON API: as the project pages (customers only where the area is opened to them)
    "projects_api.projects": STAFF, "projects_api.school_projects": STAFF, "projects_api.search": STAFF,
    **{f"projects_api.{name}": OWNER for name in ("project", "metadata", "metadata_item")},
    "api_docs.openapi": PUBLIC,  # the JSON API's OpenAPI document
    # rules (staff only) and their JSON API
    **{f"rules.{name}": STAFF for name in (
        "index", "rule_detail", "rule_action", "field_save", "field_delete", "rule_live_preview", "preview_save",
        "conflicts", "conflict_detail", "dimensions", "dimension_detail", "dimension_action", "value_new", "export",
        "generations", "generation_detail", "generation_conflict_check", "generation_new", "import_rules", "names",
        "name_action", "platforms", "platform_edit", "platform_action", "preview_detail", "propagation_detail",
        "value_edit", "value_action", "value_propagate", "names_stale", "platform_catalogue", "platform_catalogue_add",
        "platform_catalogue_update", "name_now", "propagate", "names_stale_scan")},
    "rules.preview_compare": STAFF + "?",
    **{f"rules_api.{name}": STAFF for name in (
        "conflict_checks", "conflict_check", "generations", "generation", "rule_previews", "rule_preview")},
    # tickets
    "tickets.index": MEMBER, "tickets.new": MEMBER, "tickets.detail": MEMBER, "tickets.history": MEMBER,
    "tickets.comment": MEMBER, "tickets.attach": MEMBER, "tickets.download": MEMBER, "tickets.rate": CUSTOMER,
    "tickets.kb": MEMBER, "tickets.kb_article": MEMBER, "tickets.kb_edit": STAFF, "tickets.kb_delete": STAFF,
    "tickets.trash": STAFF, "tickets.trash_restore": STAFF, "tickets.sla": MANAGER, "tickets.sla_edit": MANAGER,
    "tickets.sla_toggle": MANAGER, "tickets.settings": MANAGER, "tickets.mailboxes": MANAGER,
    "tickets.mailbox_fetch_now": MANAGER, "tickets.mailbox_remove": MANAGER, "exports.settings": ADMIN,
    **{f"tickets.{name}": STAFF for name in (
        "change_assignee", "change_priority", "change_status", "change_subject", "delete", "restore", "merge",
        "set_custom_fields", "set_tags", "bulk_change", "canned_delete", "canned_insert", "canned_replies",
        "inbound_decide", "inbound_messages", "inbound_original", "report", "trash_empty", "view_delete", "view_save",
        "views_nav")},
}


def access_of(method: str, endpoint: str) -> str | None:
    return ACCESS.get(f"{method} {endpoint}") or ACCESS.get(endpoint)


def is_api_rule(rule) -> bool:
    """The route belongs to a JSON API blueprint, or to a blueprint nested in one ("api.projects.list")."""
    parts = rule.endpoint.split(".")[:-1]
    return any(".".join(parts[:i]) in API_BLUEPRINTS for i in range(1, len(parts) + 1))


def allowed_statuses(method: str, rule, role: str, found: bool) -> set[int] | None:
    """The statuses `role` may get from this route; None: anything but 403 and 5xx (a POST it may use)."""
    if role == "bearer" and not is_api_rule(rule):
        return {401}
    level = access_of(method, rule.endpoint)
    optional = level.endswith("?")
    level = level.rstrip("?")
    on_objects = any(f"<{converter}:" in rule.rule for converter in ID_CONVERTERS)
    may_use = ACTS_AS[role] in ALLOWED[level] and not (role in FOREIGN and on_objects)
    if not may_use:
        return REFUSED | ({400} if role == "bearer" else set())
    if role == "bearer":  # an API route the token's user may use; a bearer POST carries no CSRF token
        return {200, 201, 202, 301, 302, 400, 410, 422} | REFUSED
    if method != "GET":
        return None
    statuses = {200, 301, 302}
    if not found or optional or "<token>" in rule.rule or "<" in rule.rule and "token" in rule.rule:
        statuses |= {404, 410}
    return statuses


def test_every_route_is_in_the_access_list(app):
    missing = sorted({f"{method} {rule.endpoint}" for rule in app.url_map.iter_rules()
                      for method in rule.methods - {"HEAD", "OPTIONS"} if access_of(method, rule.endpoint) is None})
    assert not missing, "routes missing from ACCESS in tests/security/test_route_matrix.py: " + ", ".join(missing)


def test_every_route_answers_each_role_as_allowed(app):
    world = build_world(app)
    problems, count = [], 0
    bearer_api = bearer_refused = 0
    for method, rule, role, url, found, status, response in exercise(world):
        count += 1
        if access_of(method, rule.endpoint) is None:
            continue  # reported by the test above
        expected = allowed_statuses(method, rule, role, found)
        bad = status >= 500 or (status not in expected if expected is not None else status == 403)
        if bad:
            problems.append(f"{method} {url} as {role}: {status} (expected {sorted(expected or ['not 403'])})")
        if role == "bearer":
            if "Set-Cookie" in response.headers:
                problems.append(f"{method} {url} as bearer: sets a cookie")
            if is_api_rule(rule):
                bearer_api += 1
            elif not (response.is_json and "JSON API" in (response.get_json(silent=True) or {}).get("error", "")):
                problems.append(f"{method} {url} as bearer: the refusal is not the JSON one")
            else:
                bearer_refused += 1
    assert count > 8 * 140
    assert bearer_api >= 6 and bearer_refused > 200, (bearer_api, bearer_refused)
    assert not problems, f"{len(problems)} of {count} answers were wrong:\n" + "\n".join(problems)

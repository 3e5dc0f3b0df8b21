"""CSRF, security headers on every kind of response, safe redirects, GET without side effects."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from app.extensions import db
from app.platform.jobs import BackgroundTask
from app.platform.security import is_safe_redirect
from tests.factories import PASSWORD, workspace_of
from tests.helpers import browser, csrf_from, is_signed_in, page_text, signed_in

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.fixture()
def client(app):
    return browser(app)


def assert_security_headers(response) -> None:
    for name, expected in SECURITY_HEADERS.items():
        assert expected in response.headers.get(name, ""), (name, response.status_code, response.request.path)
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# --------------------------------------------------------------------------- CSRF
def test_forms_without_a_csrf_token_are_rejected(app, client, admin):
    response = client.post("/signin", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "security token was missing" in page_text(response)
    assert not is_signed_in(client)
    assert client.post("/signup", data={"organization_name": "X", "full_name": "X", "email": "x@example.com",
                                        "password": PASSWORD}).status_code == 400

    signed, auth = signed_in(app, admin)
    for url, data in (("/preferences", {"ui_theme": "dark"}), ("/members", {"email": "n@acme.example.com"}),
                      ("/workspaces", {"name": "Sneaky"}), ("/signout", {})):
        response = signed.post(url, data=data)
        assert response.status_code == 400, url
    assert is_signed_in(signed)
    assert db.session.get(type(admin), admin.id).preferences.ui_theme == "auto"


def test_a_token_from_another_session_is_rejected(app, admin):
    attacker = browser(app)
    token = csrf_from(page_text(attacker.get("/signin")))
    victim, _ = signed_in(app, admin)
    response = victim.post("/preferences", data={"csrf_token": token, "ui_theme": "dark", "preferred_date_format": "iso",
                                                 "default_page_size": "25", "default_workspace_id": "0"})
    assert response.status_code == 400


def test_htmx_requests_need_the_csrf_header(app, admin):
    client, auth = signed_in(app, admin)
    htmx = {"HX-Request": "true"}
    response = client.post("/trash/purge", headers=htmx)
    assert response.status_code == 400
    html = page_text(response)
    assert "security token" in html and "<html" not in html  # the error fragment, for the swap
    assert_security_headers(response)

    token = csrf_from(page_text(client.get("/trash")))
    response = client.post("/trash/purge", headers={**htmx, "X-CSRFToken": token})
    assert response.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BackgroundTask)) == 1


def test_the_page_gives_htmx_its_token(app, admin):
    client, _ = signed_in(app, admin)
    html = page_text(client.get("/dashboard"))
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


# --------------------------------------------------------------------------- GET is safe
def _state() -> dict:
    """Everything but the request log and the session's activity timestamps."""
    db.session.expire_all()
    skip = {"api_usage_logs"}
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name in skip:
            continue
        columns = [c for c in table.columns if c.name not in ("last_seen_at", "last_active_at", "updated_at")]
        state[table.name] = sorted(map(tuple, db.session.execute(sa.select(*columns)).all()), key=repr)
    return state


def test_get_requests_never_change_state(app, org, admin, make_user):
    member = make_user(org, "agent", "agent@acme.example.com")
    client, _ = signed_in(app, admin)
    before = _state()
    ids = {"member_id": member.id, "workspace_id": workspace_of(org).id, "session_id": 1,
           "token": "x", "kind_name": "purge_trash", "row_id": 1, "filename": "css/app.css"}
    visited = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        # Known ids where the platform has rows; any other argument gets a plausible value of its type.
        values = {arg: ids.get(arg, 1 if isinstance(rule._converters[arg], IntegerConverter) else "x")
                  for arg in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        response = client.get(url)
        assert response.status_code < 500, url
        visited += 1
    assert visited >= 12
    assert _state() == before
    assert is_signed_in(client)


@pytest.mark.parametrize("url", ["/signout", "/members/1/deactivate", "/members/1/restore", "/members/1/invite",
                                 "/workspaces/1/delete", "/workspaces/1/restore", "/workspaces/switch",
                                 "/preferences/sessions/1/end", "/preferences/profile", "/preferences/password",
                                 "/trash/purge", "/usage/trim"])
def test_state_changing_urls_refuse_get(app, admin, url):
    client, _ = signed_in(app, admin)
    response = client.get(url)
    assert response.status_code == 405
    assert_security_headers(response)
    assert is_signed_in(client)


# --------------------------------------------------------------------------- headers everywhere
def test_security_headers_on_pages_fragments_and_error_pages(app, org, admin, make_user):
    anonymous = browser(app)
    assert_security_headers(anonymous.get("/"))
    assert_security_headers(anonymous.get("/signin"))
    assert_security_headers(anonymous.get("/members"))  # redirect to sign-in

    agent_client, _ = signed_in(app, make_user(org, "agent", "agent@acme.example.com"))
    forbidden = agent_client.get("/members")
    assert forbidden.status_code == 403 and "Not allowed" in page_text(forbidden)
    assert_security_headers(forbidden)

    client, _ = signed_in(app, admin)
    for path in ("/dashboard", "/members", "/preferences", "/trash", "/usage", "/no-such-page", "/members/999999"):
        response = client.get(path)
        assert_security_headers(response)
    assert client.get("/no-such-page").status_code == 404

    task = BackgroundTask(organization_id=org.id, kind="purge_trash", title="Purge", requested_by_id=admin.id)
    db.session.add(task)
    db.session.commit()
    fragment = client.get(f"/jobs/purge_trash/{task.id}/status", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in page_text(fragment)
    assert_security_headers(fragment)
    missing = client.get("/jobs/purge_trash/999999/status", headers={"HX-Request": "true"})
    assert missing.status_code == 404 and "<html" not in page_text(missing)
    assert_security_headers(missing)


def test_security_headers_on_api_json_bearer_refusals_and_static(app, admin):
    """JSON answers (the API, a bearer refusal) and static files carry the same headers as pages."""
    client, _ = signed_in(app, admin)
    api = client.get("/generations/", headers={"Accept": "application/json"})
    assert api.is_json
    refused = browser(app).get("/members", headers={"Authorization": "Bearer cairn_x"})
    assert refused.status_code == 401 and refused.is_json
    for response in (api, refused):
        assert_security_headers(response)
    static = browser(app).get("/static/css/app.css")
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert name in static.headers, name


@pytest.mark.parametrize("environment, setting, secure", [
    ("production", None, True),  # nothing said: Secure
    ("production", "false", False),  # the operator serves plain http on purpose
    ("development", None, False),  # `make run` on http://127.0.0.1:5000
])
def test_cookie_flags_follow_the_environment(backend, app, monkeypatch, environment, setting, secure):
    """Outside development and tests the session and remember-me cookies are Secure by default, and always
    HttpOnly and SameSite=Lax; SESSION_COOKIE_SECURE=false is the operator's explicit choice."""
    from app.config import _env_bool
    from tests.conftest import make_test_app

    monkeypatch.setenv("CAIRN_ENV", environment)
    if setting is None:
        monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    else:
        monkeypatch.setenv("SESSION_COOKIE_SECURE", setting)
    made = make_test_app(backend, TESTING=False, SECRET_KEY="a-long-random-production-key-" + "x" * 20,
                         SESSION_COOKIE_SECURE=_env_bool("SESSION_COOKIE_SECURE", None),
                         REMEMBER_COOKIE_SECURE=None)
    assert made.config["SESSION_COOKIE_SECURE"] is secure
    assert made.config["REMEMBER_COOKIE_SECURE"] is secure
    page = made.test_client().get("/signin", base_url="https://localhost" if secure else "http://localhost")
    cookie = next(h for h in page.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure
    if secure:
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_static_files_may_be_cached(app):
    response = browser(app).get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture()
def failing_app(backend, app):
    """An app that renders errors as production does (no exception propagation), with a route that raises."""
    from tests.conftest import make_test_app

    failing = make_test_app(backend, PROPAGATE_EXCEPTIONS=False)

    @failing.route("/_test/boom")
    def boom():
        raise RuntimeError("secret-internal-detail in boom()")

    return failing


def test_a_server_error_shows_a_plain_page_without_the_traceback(failing_app):
    client = browser(failing_app)
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get("/_test/boom", headers=headers)
        assert response.status_code == 500
        html = page_text(response)
        assert "Something went wrong" in html
        assert "Traceback" not in html and "secret-internal-detail" not in html and "RuntimeError" not in html
        assert ("<html" in html) == (not headers)
        assert_security_headers(response)


# --------------------------------------------------------------------------- redirects
@pytest.mark.parametrize("target,safe", [
    ("/members", True), ("/members?role=agent&page=2", True), ("/", True),
    (None, False), ("", False), ("members", False), ("//evil.com", False), ("///evil.com", False),
    ("https://evil.com", False), ("http:/evil.com", False), ("/\\evil.com", False), ("\\\\evil.com", False),
    ("/\t/evil.com", False), ("/\r\n/evil.com", False), ("/%09/evil.com", True), ("javascript:alert(1)", False),
    (" /members", False), ("/members\x00", False),
])
def test_is_safe_redirect(target, safe):
    assert is_safe_redirect(target) is safe


def test_workspace_switch_returns_only_to_local_pages(app, org, admin):
    _, auth = signed_in(app, admin)
    workspace_id = str(workspace_of(org).id)
    response = auth.post("/workspaces/switch", {"workspace_id": workspace_id, "next": "/members"})
    assert response.headers["Location"] == "/members"
    response = auth.post("/workspaces/switch", {"workspace_id": workspace_id, "next": "https://evil.com/"})
    assert response.headers["Location"] == "/dashboard"

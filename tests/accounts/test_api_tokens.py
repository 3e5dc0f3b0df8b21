"""Issue 10.1: an API token is a key to the JSON API, within its scopes and lifetime, and nothing more.

Each test reproduces an attack a token holder tried and proves it refused.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import ApiToken, User
from app.extensions import db
from app.platform.models import utcnow
from tests.factories import PASSWORD
from tests.helpers import browser, page_text, reload, signed_in

JSON = {"Accept": "application/json"}
NEW_PASSWORD = "another-long-passphrase"


def _create(auth, name="ci script", scopes=("read", "write"), lifetime="90"):
    response = auth.post("/preferences/api-tokens", {"name": name, "scopes": list(scopes), "lifetime_days": lifetime})
    assert response.status_code == 200, page_text(response)
    return re.search(r"(cairn_[A-Za-z0-9_\-]+)", page_text(response)).group(1)


def _bearer(token: str) -> dict:
    return {**JSON, "Authorization": f"Bearer {token}"}


@pytest.fixture()
def admin_token(app, admin):
    client, auth = signed_in(app, admin)
    return _create(auth)


def _concrete(rule) -> str:
    """A URL for `rule` with a plausible value for each of its parameters."""
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        values[name] = 1 if kind in ("IntegerConverter", "NumberConverter") else "x"
    path = rule.rule
    for name, value in values.items():
        path = re.sub(r"<(?:[^<>:]+:)?" + name + r">", str(value), path)
    return path


def _refused(response) -> bool:
    """The answer every non-API route gives a bearer request: 401, a JSON reason, no cookie."""
    return (response.status_code == 401 and response.is_json and "JSON API" in response.get_json()["error"]
            and response.headers["WWW-Authenticate"].startswith("Bearer ") and "Set-Cookie" not in response.headers)


def test_a_token_opens_no_page_and_no_form(app, admin, admin_token):
    """The attack: send `Authorization: Bearer` to every page and form (members, tokens, organization...).
    Every route outside the JSON API blueprints refuses it with 401 JSON, and no response to a bearer request
    carries a cookie (no session, so no CSRF token to reuse). The matrix test does this for every role."""
    from app.accounts.tokens import API_BLUEPRINTS

    rules = [r for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] not in API_BLUEPRINTS]
    assert len(rules) > 50
    checked = 0
    for rule in rules:
        url = _concrete(rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            with_token = browser(app).open(url, method=method, headers=_bearer(admin_token))
            assert _refused(with_token), (method, url, with_token.status_code)
            checked += 1
    assert checked > 100
    # Nothing was managed: still one token, the same members.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


@pytest.mark.parametrize("header", ["Bearer {t}", "bearer {t}", "BEARER {t}", "Bearer   {t}  ", "Bearer not-a-token",
                                    "Bearer "])
def test_any_bearer_header_is_refused_off_the_api_even_beside_a_session(app, admin, admin_token, header):
    """Spelling the scheme differently, sending a bad token, or a signed-in browser adding the header:
    the page still refuses (a token never rides along with, or turns into, a browser session)."""
    client, _auth = signed_in(app, admin)
    assert client.get("/preferences").status_code == 200
    page = client.get("/preferences", headers={"Authorization": header.format(t=admin_token)})
    assert _refused(page)
    assert _refused(browser(app).get("/no-such-page", headers={"Authorization": header.format(t=admin_token)}))


def test_a_blueprint_nested_in_an_api_blueprint_is_api(app):
    """API-ness is decided by blueprint (nested ones included, whatever their path), not by path."""
    from flask import Blueprint, Flask, request

    from app.accounts.tokens import is_api_request

    probe = Flask("probe")
    api, child, page = Blueprint("rules_api", "probe"), Blueprint("child", "probe"), Blueprint("rules", "probe")
    child.add_url_rule("/nested", "nested", lambda: "")
    api.add_url_rule("/api/top", "top", lambda: "")
    api.register_blueprint(child, url_prefix="/elsewhere")
    page.add_url_rule("/api/lookalike", "lookalike", lambda: "")
    probe.register_blueprint(api)
    probe.register_blueprint(page)
    for path, expected in (("/api/top", True), ("/elsewhere/nested", True), ("/api/lookalike", False),
                           ("/api/nothing", False)):
        with probe.test_request_context(path):
            assert is_api_request(request) is expected, path


def test_a_bad_token_on_the_api_gets_a_json_401_even_without_accept(app):
    for header in ("Bearer cairn_not-a-token", "bearer nonsense", "Bearer "):
        response = browser(app).get("/generations/", headers={"Authorization": header})
        assert response.status_code == 401 and response.is_json, header
        assert "Set-Cookie" not in response.headers


def test_token_management_with_a_token_is_refused_even_with_a_csrf_token(app, admin, admin_token):
    """The attack of the report: use the token to load a page, take its CSRF token, mint more tokens
    and invite an admin. No page loads, so there is no CSRF token; a guessed POST is refused."""
    script = browser(app)
    page = script.get("/preferences", headers=_bearer(admin_token))
    assert _refused(page)
    for url, data in [("/preferences/api-tokens", {"name": "more", "scopes": ["read", "write"]}),
                      ("/members", {"email": "evil@evil.example.com", "full_name": "Evil", "role": "admin"}),
                      ("/organization", {"name": "Pwned", "trash_retention_days": "1"}),
                      (f"/members/{admin.id}", {"role": "customer"})]:
        response = script.post(url, data=data, headers=_bearer(admin_token))
        assert _refused(response), url
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1
    assert db.session.scalar(sa.select(User).where(User.email == "evil@evil.example.com")) is None
    assert reload(User, admin.id).role == "admin"


def test_api_requests_with_a_token_get_no_cookie(app, admin, admin_token):
    script = browser(app)
    listing = script.get("/generations/", headers=_bearer(admin_token))
    assert listing.status_code == 200 and "Set-Cookie" not in listing.headers
    created = script.post("/conflict-checks/", json={"proposed_strings": ["a-name"]}, headers=_bearer(admin_token))
    assert created.status_code == 201 and "Set-Cookie" not in created.headers
    assert script.get_cookie("session") is None


def test_scopes_chosen_at_creation_are_enforced(app, admin):
    client, auth = signed_in(app, admin)
    read_only = _create(auth, "reader", scopes=("read",))
    write_only = _create(auth, "writer", scopes=("write",))
    script = browser(app)
    assert script.get("/generations/", headers=_bearer(read_only)).status_code == 200
    refused = script.post("/conflict-checks/", json={"proposed_strings": ["x"]}, headers=_bearer(read_only))
    assert refused.status_code == 403 and "no write scope" in refused.get_json()["error"]
    assert script.get("/generations/", headers=_bearer(write_only)).status_code == 403
    assert script.post("/conflict-checks/", json={"proposed_strings": ["x"]},
                       headers=_bearer(write_only)).status_code == 201
    # No scope at all is refused on the form.
    response = auth.post("/preferences/api-tokens", {"name": "nothing", "lifetime_days": "30"})
    assert response.status_code == 302
    assert "Choose what the token may do" in page_text(client.get("/preferences"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 2


def test_an_expired_token_is_refused_and_the_page_shows_expiry_and_last_use(app, admin):
    client, auth = signed_in(app, admin)
    token = _create(auth, "short-lived", lifetime="7")
    row = db.session.scalars(sa.select(ApiToken)).one()
    assert timedelta(days=6, hours=23) < row.expires_at - utcnow() <= timedelta(days=7)
    prefs = page_text(client.get("/preferences"))
    assert "short-lived" in prefs and "never" in prefs  # never used yet
    script = browser(app)
    assert script.get("/generations/", headers=_bearer(token)).status_code == 200
    db.session.expire_all()
    used = db.session.get(ApiToken, row.id).last_used_at
    assert used is not None
    assert used.strftime("%Y-%m-%d") in page_text(client.get("/preferences"))
    with db.engine.begin() as conn:
        conn.execute(sa.update(ApiToken).where(ApiToken.id == row.id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert script.get("/generations/", headers=_bearer(token)).status_code == 401
    assert "expired" in page_text(client.get("/preferences"))


def test_password_change_revokes_tokens_unless_the_box_is_unticked(app, admin):
    client, auth = signed_in(app, admin)
    token = _create(auth)
    prefs = page_text(client.get("/preferences"))
    assert re.search(r'<input checked id="revoke_tokens" name="revoke_tokens" type="checkbox" value="y">', prefs)
    kept = auth.post("/preferences/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert kept.status_code == 302  # box unticked (absent from the form): tokens stay
    assert browser(app).get("/generations/", headers=_bearer(token)).status_code == 200
    revoked = auth.post("/preferences/password", {"current_password": NEW_PASSWORD, "new_password": PASSWORD,
                                                  "revoke_tokens": "y"})
    assert revoked.status_code == 302
    assert "1 API token revoked" in page_text(client.get("/preferences"))
    assert browser(app).get("/generations/", headers=_bearer(token)).status_code == 401
    assert db.session.scalars(sa.select(ApiToken.revoke_reason)).one() == "password_changed"


def test_role_change_deactivation_and_organization_deletion_revoke_tokens(app, admin, org, make_user):
    manager = make_user(org, "manager", "manager@acme.example.com")
    agent = make_user(org, "agent", "agent@acme.example.com")
    _, manager_auth = signed_in(app, manager)
    manager_token = _create(manager_auth, "manager's")
    _, agent_auth = signed_in(app, agent)
    agent_token = _create(agent_auth, "agent's")
    _, admin_auth = signed_in(app, admin)
    admin_token = _create(admin_auth, "admin's")

    edit = {"role": "agent", "availability_status": "online", "max_concurrent_tickets": "10",
            "customer_tier": "basic", "skills": "", "certifications": ""}
    assert admin_auth.post(f"/members/{manager.id}", edit).status_code == 302  # manager -> agent
    assert browser(app).get("/generations/", headers=_bearer(manager_token)).status_code == 401

    assert admin_auth.post(f"/members/{agent.id}/deactivate", {"reason": "left"}).status_code == 302
    assert browser(app).get("/generations/", headers=_bearer(agent_token)).status_code == 401
    assert admin_auth.post(f"/members/{agent.id}/restore", {}).status_code == 302
    assert reload(User, agent.id).is_active
    # Restoring the member does not bring the token back.
    assert browser(app).get("/generations/", headers=_bearer(agent_token)).status_code == 401

    assert browser(app).get("/generations/", headers=_bearer(admin_token)).status_code == 200
    deleted = admin_auth.post("/organization/delete", {"confirmation": org.name, "reason": "closing"},
                              page="/organization")
    assert deleted.status_code == 302
    with app.app_context():
        from app.accounts.services import organization_restore

        organization_restore(slug=org.slug)
    assert browser(app).get("/generations/", headers=_bearer(admin_token)).status_code == 401
    reasons = dict(db.session.execute(sa.select(ApiToken.name, ApiToken.revoke_reason)).all())
    assert reasons == {"manager's": "role_changed", "agent's": "deactivated", "admin's": "organization_deleted"}

"""Issue 10.7 and 10.9: account takeover by invitation, the public SECRET_KEY, invitations that never
expire, and tenants setting their own subscription tier. Each test reproduces the attack."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app.accounts import services
from app.accounts.models import Organization, User
from app.extensions import db
from app.platform.models import utcnow
from tests.factories import PASSWORD
from tests.helpers import Auth, browser, page_text, reload, signed_in

NEW_PASSWORD = "my-own-fresh-passphrase"


def _accept(app, token: str, password: str = NEW_PASSWORD):
    client = browser(app)
    path = f"/invite/{token}"
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": Auth(client).csrf(path), "password": password})


def _invite_link(app, admin, email: str, role: str = "agent") -> str:
    _, auth = signed_in(app, admin)
    response = auth.post("/members", {"email": email, "full_name": "Invited", "role": role})
    assert response.status_code == 200
    return re.search(r'value="http://localhost/invite/([^"]+)"', page_text(response)).group(1)


# --------------------------------------------------------------------------- invitations
def test_an_old_style_forged_invitation_cannot_reset_a_password(app, admin, org, make_user):
    """The attack: with the public SECRET_KEY, sign {"u": victim, "v": 1} and set the victim's password.
    Invitations are now random nonces looked up by their hash: a signed token means nothing."""
    victim = make_user(org, "manager", "victim@acme.example.com")
    for key in ("dev-only-change-me", app.config["SECRET_KEY"]):
        forged = URLSafeTimedSerializer(key, salt="cairn-invite").dumps({"u": victim.id, "v": 1})
        assert _accept(app, forged).status_code == 410
    assert reload(User, victim.id).password_hash == victim.password_hash
    assert Auth(browser(app)).login(victim.email, PASSWORD).status_code == 302


def test_invitations_are_only_for_accounts_without_a_password(app, admin, org, make_user):
    member = make_user(org, "agent", "has-one@acme.example.com")
    with app.app_context():
        with pytest.raises(services.AccountError):
            services.member_reinvite(member=reload(User, member.id))
    _, auth = signed_in(app, admin)
    response = auth.post(f"/members/{member.id}/invite")
    assert response.status_code == 302  # no link for an account that has a password


def test_the_nonce_is_random_stored_hashed_and_works_once(app, admin, outbox):
    token = _invite_link(app, admin, "once@acme.example.com")
    member = db.session.scalars(sa.select(User).where(User.email == "once@acme.example.com")).one()
    assert len(token) >= 40 and token not in (member.invitation_nonce_hash or "")
    assert member.invitation_nonce_hash == hashlib.sha256(token.encode()).hexdigest()
    assert _accept(app, token).status_code == 302
    again = _accept(app, token, "someone-elses-passphrase")  # replaying the accepted link
    assert again.status_code == 410
    assert reload(User, member.id).invitation_nonce_hash is None
    assert Auth(browser(app)).login("once@acme.example.com", NEW_PASSWORD).status_code == 302


def test_a_new_invitation_voids_the_previous_link(app, admin, outbox):
    first = _invite_link(app, admin, "twice@acme.example.com")
    member = db.session.scalars(sa.select(User).where(User.email == "twice@acme.example.com")).one()
    _, auth = signed_in(app, admin)
    second = re.search(r'/invite/([^"]+)"', page_text(auth.post(f"/members/{member.id}/invite"))).group(1)
    assert first != second
    assert _accept(app, first).status_code == 410
    assert _accept(app, second).status_code == 302


def test_an_expired_invitation_is_refused_and_stops_holding_the_email(app, admin, outbox):
    """The hole: an invitation nobody accepts holds the address forever, and its owner can't sign up."""
    token = _invite_link(app, admin, "Someone@Example.com")
    member_id = db.session.scalars(sa.select(User.id).where(User.email == "someone@example.com")).one()
    # Before it expires the address is taken.
    refused = Auth(browser(app)).sign_up(organization="Elsewhere", name="Someone", email="someone@example.com")
    assert refused.status_code == 422
    with db.engine.begin() as conn:
        conn.execute(sa.update(User).where(User.id == member_id)
                     .values(invitation_expires_at=utcnow() - timedelta(minutes=1)))
    expired = _accept(app, token)
    assert expired.status_code == 410 and "expired" in page_text(expired)
    signed_up = Auth(browser(app)).sign_up(organization="Elsewhere", name="Someone", email="someone@example.com")
    assert signed_up.status_code == 302
    owner = db.session.scalars(sa.select(User).where(User.email == "someone@example.com")).one()
    assert owner.id != member_id and owner.organization.name == "Elsewhere"
    placeholder = reload(User, member_id)
    assert not placeholder.is_active and placeholder.email != "someone@example.com"
    assert _accept(app, token).status_code == 410


def test_invitations_expire_after_the_configured_days(app, admin, outbox):
    _invite_link(app, admin, "week@acme.example.com")
    member = db.session.scalars(sa.select(User).where(User.email == "week@acme.example.com")).one()
    left = member.invitation_expires_at - utcnow()
    assert timedelta(days=app.config["INVITATION_DAYS"]) - timedelta(minutes=5) < left
    assert left <= timedelta(days=app.config["INVITATION_DAYS"])


def test_two_concurrent_uses_of_one_link_set_one_password(app, admin, outbox):
    token = _invite_link(app, admin, "race@acme.example.com")
    with app.app_context():
        first = services.invite_user(token)  # both requests found the open invitation...
        services.invite_accept(token=token, password=NEW_PASSWORD)
        with pytest.raises(services.AccountError):  # ...only one spends it
            services.invite_accept(token=token, password="the-other-passphrase")
        assert first.id
    assert Auth(browser(app)).login("race@acme.example.com", NEW_PASSWORD).status_code == 302


# --------------------------------------------------------------------------- SECRET_KEY
@pytest.mark.parametrize("key", [None, "", "dev-only-change-me", "changeme", "secret"])
def test_the_app_refuses_to_start_in_production_without_a_real_key(monkeypatch, tmp_path, key):
    from app import create_app
    from app.config import InsecureSecretKey

    monkeypatch.delenv("CAIRN_ENV", raising=False)
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": False, "DEBUG": False, "EMBEDDED_WORKER": False,
              "STORAGE_DIR": str(tmp_path)}
    config["SECRET_KEY"] = key
    with pytest.raises(InsecureSecretKey, match="SECRET_KEY"):
        create_app(config)


def test_a_real_key_starts_and_development_may_use_the_public_one(monkeypatch, tmp_path):
    from app import create_app

    monkeypatch.delenv("CAIRN_ENV", raising=False)
    base = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": False, "DEBUG": False, "EMBEDDED_WORKER": False,
            "STORAGE_DIR": str(tmp_path), "REDIS_URL": ""}
    assert create_app({**base, "SECRET_KEY": "x" * 48}).config["SECRET_KEY"] == "x" * 48
    monkeypatch.setenv("CAIRN_ENV", "development")
    assert create_app({**base, "SECRET_KEY": ""}).config["SECRET_KEY"] == "dev-only-change-me"


# --------------------------------------------------------------------------- subscription tier
def test_an_admin_cannot_set_the_subscription_tier(app, admin, org):
    """The attack: post subscription_tier=enterprise with the organization form (10 concurrent jobs)."""
    client, auth = signed_in(app, admin)
    before = reload(Organization, org.id).subscription_tier
    page = page_text(client.get("/organization"))
    assert 'name="subscription_tier"' not in page and "set by your Cairn operator" in page
    response = auth.post("/organization", {"name": "Acme", "subscription_tier": "enterprise",
                                           "trash_retention_days": "30"}, page="/organization")
    assert response.status_code == 302
    assert reload(Organization, org.id).subscription_tier == before


def test_operators_set_the_tier_from_the_command_line(app, org):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["organization-tier", org.slug, "enterprise"])
    assert result.exit_code == 0, result.output
    assert "enterprise" in result.output and "10 background jobs" in result.output
    assert reload(Organization, org.id).subscription_tier == "enterprise"
    assert runner.invoke(args=["organization-tier", org.slug, "platinum"]).exit_code != 0
    assert runner.invoke(args=["organization-tier", "no-such-org", "free"]).exit_code != 0
    assert reload(Organization, org.id).subscription_tier == "enterprise"

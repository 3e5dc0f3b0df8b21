"""Sign-up through the real form: one organization, its first admin, a workspace, preferences; all or nothing."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import AuditEvent, Organization, User, UserPreferences, UserSession, Workspace
from app.extensions import db
from tests.factories import PASSWORD
from tests.helpers import Auth, browser, is_signed_in, page_text


def _counts() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Organization, User, Workspace, UserPreferences, UserSession, AuditEvent)}


def test_sign_up_creates_organization_admin_workspace_and_preferences(app_ctx, client, auth):
    response = auth.sign_up(organization="Globex Corp", name="Grace Admin", email="  Grace@Globex.Example.com ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")

    org = db.session.scalars(sa.select(Organization)).one()
    assert (org.name, org.slug, org.is_active) == ("Globex Corp", "globex-corp", True)
    admin = db.session.scalars(sa.select(User)).one()
    assert admin.organization_id == org.id
    assert admin.email == "grace@globex.example.com"
    assert admin.role == "admin" and admin.full_name == "Grace Admin"
    assert admin.password_hash and PASSWORD not in admin.password_hash
    workspace = db.session.scalars(sa.select(Workspace)).one()
    assert (workspace.organization_id, workspace.name, workspace.slug) == (org.id, "General", "general")
    prefs = db.session.scalars(sa.select(UserPreferences)).one()
    assert prefs.user_id == admin.id and prefs.default_workspace_id == workspace.id
    assert (prefs.ui_theme, prefs.preferred_date_format, prefs.default_page_size) == ("auto", "iso", 25)

    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Globex Corp" in page_text(page) and "General" in page_text(page)


def test_organization_slugs_are_unique(app_ctx, app):

    for n, email in enumerate(("a@one.example.com", "b@two.example.com", "c@three.example.com")):
        response = Auth(browser(app)).sign_up(organization="Acme Inc", email=email)
        assert response.status_code == 302, n
    slugs = db.session.scalars(sa.select(Organization.slug).order_by(Organization.id)).all()
    assert slugs == ["acme-inc", "acme-inc-2", "acme-inc-3"]


def test_a_sign_up_that_loses_the_slug_race_takes_the_next_slug(app_ctx, app, monkeypatch):
    """Two sign-ups for one name at once both read the slug as free; the second one's insert fails."""
    from app.accounts import services

    assert Auth(browser(app)).sign_up(organization="Initech", email="first@initech.example.com").status_code == 302
    real_unique_slug = services._unique_slug
    stale_reads = iter(["initech"])  # what the losing request read before the winner committed

    def racing_unique_slug(model, base, **scope):
        return next(stale_reads, None) or real_unique_slug(model, base, **scope)

    monkeypatch.setattr(services, "_unique_slug", racing_unique_slug)
    response = Auth(browser(app)).sign_up(organization="Initech", email="second@initech.example.com")
    assert response.status_code == 302
    assert db.session.scalars(sa.select(Organization.slug).order_by(Organization.id)).all() == ["initech", "initech-2"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


def test_duplicate_email_is_refused_on_the_form_and_nothing_is_saved(app_ctx, app, client, auth):

    assert Auth(browser(app)).sign_up(email="taken@example.com").status_code == 302
    before = _counts()

    response = auth.sign_up(organization="Second Org", email="TAKEN@example.com")
    assert response.status_code == 422
    html = page_text(response)
    assert "An account with this email already exists. Sign in instead." in html
    assert 'value="Second Org"' in html  # what the user typed is kept
    assert _counts() == before
    assert not is_signed_in(client)


def test_short_password_is_refused_with_422_and_nothing_is_saved(app_ctx, client, auth):
    before = _counts()
    response = auth.sign_up(password="short-pass1")  # 11 characters
    assert response.status_code == 422
    assert "Use at least 12 characters." in page_text(response)
    assert _counts() == before
    assert not is_signed_in(client)


def test_password_containing_the_email_name_is_refused(app_ctx, auth):
    response = auth.sign_up(email="gracehopper@example.com", password="gracehopper-2026!")
    assert response.status_code == 422
    assert "Don&#39;t use your email address in your password." in page_text(response)
    assert _counts()["users"] == 0


def test_invalid_fields_show_the_model_rule_messages(app_ctx, auth):
    response = auth.sign_up(organization="   ", email="not-an-email", name="x" * 121)
    assert response.status_code == 422
    html = page_text(response)
    assert "Organization name is required." in html
    assert "Enter a valid email address." in html
    assert "Name must be at most 120 characters." in html
    assert _counts()["organizations"] == 0


def test_sign_up_ignores_fields_the_form_does_not_offer(app_ctx, client, auth):
    """Mass assignment: role, organization, activity, deletion and hash can't be posted in."""
    from tests.factories import make_organization

    other = make_organization("Victim Co")
    token = auth.csrf("/signup")
    response = client.post("/signup", data={
        "csrf_token": token, "organization_name": "Mine", "full_name": "Mallory", "email": "mallory@example.com",
        "password": PASSWORD, "role": "customer", "organization_id": str(other.id), "is_active": "false",
        "deleted_at": "2020-01-01T00:00:00", "password_hash": "x", "subscription_tier": "enterprise",
        "slug": "victim-co", "credentials_version": "99",
    })
    assert response.status_code == 302
    user = db.session.scalars(sa.select(User).where(User.email == "mallory@example.com")).one()
    assert user.organization_id != other.id and user.organization.slug == "mine"
    assert (user.role, user.is_active, user.deleted_at, user.credentials_version) == ("admin", True, None, 1)
    assert user.password_hash.startswith("$argon2")
    assert user.organization.subscription_tier == "free"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.organization_id == other.id)) == 0


def test_signed_in_user_is_sent_to_the_dashboard(client, auth):
    auth.sign_up()
    response = client.get("/signup")
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")


def test_sign_up_keeps_the_browsers_time_zone(app_ctx, client, auth):
    assert "data-browser-timezone" in page_text(client.get("/signup"))  # app.js fills it from Intl
    token = auth.csrf("/signup")
    response = client.post("/signup", data={"csrf_token": token, "organization_name": "Far Co", "full_name": "Kiri",
                                            "email": "kiri@far.example.com", "password": PASSWORD,
                                            "time_zone": "Pacific/Kiritimati"})
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.scalars(sa.select(User).where(User.email == "kiri@far.example.com")).one()
    assert user.preferences.timezone == "Pacific/Kiritimati"
    assert user.organization.setting("time_zone") == "Pacific/Kiritimati"  # the organization's default too


def test_sign_up_ignores_an_unknown_zone(app_ctx, client, auth):
    token = auth.csrf("/signup")
    client.post("/signup", data={"csrf_token": token, "organization_name": "Odd Co", "full_name": "Odd",
                                 "email": "odd@odd.example.com", "password": PASSWORD, "time_zone": "Not/AZone"})
    db.session.expire_all()
    user = db.session.scalars(sa.select(User).where(User.email == "odd@odd.example.com")).one()
    assert user.preferences.timezone == "" and user.organization.setting("time_zone") is None

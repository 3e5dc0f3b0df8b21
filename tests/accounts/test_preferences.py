"""Preferences (seed 000): every field is saved through the form and changes what the user sees."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from app.accounts.models import User, UserPreferences, Workspace
from app.extensions import db
from app.platform import mail
from tests.factories import workspace_of
from tests.helpers import Auth, browser, page_text, reload, signed_in

DEFAULTS = {"ui_theme": "light", "preferred_date_format": "iso", "default_page_size": "25",
            "default_workspace_id": "0", "email_notifications": "y", "propagation_notifications": "y"}


def _save(auth, **fields):
    data = {**DEFAULTS, **fields}
    return auth.post("/preferences", {k: v for k, v in data.items() if v is not None})


def _prefs(user) -> UserPreferences:
    return reload(User, user.id).preferences


def test_every_field_is_saved(app, org, admin):
    zeta = Workspace(organization_id=org.id, name="Zeta", slug="zeta")
    db.session.add(zeta)
    db.session.commit()
    _, auth = signed_in(app, admin)
    response = _save(auth, ui_theme="dark", preferred_date_format="eu", default_page_size="50",
                     default_workspace_id=str(zeta.id), enabled_features=["relative_times", "compact_tables"],
                     email_notifications=None, propagation_notifications="y")
    assert response.status_code == 302
    prefs = _prefs(admin)
    assert (prefs.ui_theme, prefs.preferred_date_format, prefs.default_page_size) == ("dark", "eu", 50)
    assert prefs.default_workspace_id == zeta.id
    assert sorted(prefs.enabled_features) == ["compact_tables", "relative_times"]
    assert (prefs.email_notifications, prefs.propagation_notifications) == (False, True)

    page = page_text(auth.client.get("/preferences"))  # the form shows what was saved
    assert '<option selected value="dark">' in page and '<option selected value="eu">' in page
    assert '<option selected value="50">' in page and f'<option selected value="{zeta.id}">' in page
    assert re.search(r'<input checked[^>]*value="relative_times"', page)
    assert not re.search(r'<input checked[^>]*name="email_notifications"', page)
    assert re.search(r'<input checked[^>]*name="propagation_notifications"', page)


@pytest.mark.parametrize("theme", ["light", "dark", "auto"])
def test_theme_is_applied_to_every_page(app, admin, theme):
    client, auth = signed_in(app, admin)
    _save(auth, ui_theme=theme)
    for path in ("/dashboard", "/preferences", "/members", "/no-such-page"):
        assert f'<html lang="en" data-theme="{theme}">' in page_text(client.get(path)), path


@pytest.mark.parametrize("fmt,shown", [("iso", "2026-03-04"), ("us", "03/04/2026"), ("eu", "04.03.2026")])
def test_date_format_is_applied_to_dates_shown(app, org, admin, fmt, shown):
    workspace = workspace_of(org)
    workspace.created_at = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
    db.session.commit()
    client, auth = signed_in(app, admin)
    _save(auth, preferred_date_format=fmt)
    row = page_text(client.get("/workspaces")).split("<code>general</code>", 1)[1].split("</tr>", 1)[0]
    assert shown in row
    others = {"2026-03-04", "03/04/2026", "04.03.2026"} - {shown}
    assert not any(o in row for o in others)
    # Exact times follow the format too (members' "last active" without relative times).
    members = page_text(client.get("/members"))
    today = datetime.now(timezone.utc)
    assert today.strftime({"iso": "%Y-%m-%d", "us": "%m/%d/%Y", "eu": "%d.%m.%Y"}[fmt]) in members


def test_page_size_is_applied_to_the_members_list(app, org, admin, make_user):
    for n in range(11):
        make_user(org, "agent", f"agent{n:02d}@acme.example.com")  # 12 members with the admin
    client, auth = signed_in(app, admin)
    first = page_text(client.get("/members"))
    assert first.count("<tr>") - 1 == 12  # 25 a page by default: everyone on one page

    _save(auth, default_page_size="10")
    first = page_text(client.get("/members"))
    assert first.count("<tr>") - 1 == 10
    assert "Page 1 of 2" in first and "1–10 of 12" in first
    second = page_text(client.get("/members?page=2"))
    assert second.count("<tr>") - 1 == 2 and "Page 2 of 2" in second


def test_page_size_outside_the_offered_choices_is_refused(app, admin):
    _, auth = signed_in(app, admin)
    response = _save(auth, default_page_size="100000")
    assert response.status_code == 422 and "Not a valid choice" in page_text(response)
    assert _prefs(admin).default_page_size == 25


def test_default_workspace_is_where_the_user_lands_after_signing_in(app, org, admin):
    zeta = Workspace(organization_id=org.id, name="Zeta", slug="zeta")
    db.session.add(zeta)
    db.session.commit()
    client, auth = signed_in(app, admin)
    assert "workspace <strong>General</strong>" in page_text(client.get("/dashboard"))
    _save(auth, default_workspace_id=str(zeta.id))
    auth.logout()
    Auth(client).login(admin.email)
    assert "workspace <strong>Zeta</strong>" in page_text(client.get("/dashboard"))
    # Switching during the session wins over the default until the next sign-in.
    general = workspace_of(org)
    auth.post("/workspaces/switch", {"workspace_id": str(general.id)})
    assert "workspace <strong>General</strong>" in page_text(client.get("/dashboard"))


def test_default_workspace_of_another_organization_is_refused(app, admin, make_org):
    other = make_org("Elsewhere")
    _, auth = signed_in(app, admin)
    response = _save(auth, default_workspace_id=str(workspace_of(other).id))
    assert response.status_code == 422
    assert _prefs(admin).default_workspace_id != workspace_of(other).id


def test_relative_times_feature_changes_how_times_render(app, admin):
    client, auth = signed_in(app, admin)
    exact = page_text(client.get("/members"))
    assert re.search(r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>', exact)
    assert " ago</time>" not in exact and "just now</time>" not in exact

    _save(auth, enabled_features=["relative_times"])
    relative = page_text(client.get("/members"))
    assert re.search(r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">(just now|\d+ \w+ ago)</time>',
                     relative)


def test_compact_tables_feature_sets_the_body_class(app, admin):
    client, auth = signed_in(app, admin)
    assert '<body class="compact"' not in page_text(client.get("/members"))
    _save(auth, enabled_features=["compact_tables"])
    assert '<body class="compact"' in page_text(client.get("/members"))


def test_unknown_features_are_refused(app, admin):
    _, auth = signed_in(app, admin)
    response = _save(auth, enabled_features=["beta_everything"])
    assert response.status_code == 422
    assert _prefs(admin).enabled_features == []


def test_notification_toggles_are_honoured_by_notify(app, admin, outbox):
    _, auth = signed_in(app, admin)

    def send_all():
        outbox.clear()
        with app.app_context():
            user = db.session.get(User, admin.id)
            written = {c: mail.notify(user, f"{c} subject", "body", category=c) for c in mail.CATEGORIES}
            db.session.commit()  # the outbox rows go with the caller's commit
            return written

    assert send_all() == {"required": True, "email": True, "propagation": True}
    assert len(outbox) == 3

    _save(auth, email_notifications=None)
    assert send_all() == {"required": True, "email": False, "propagation": True}
    assert [m[1] for m in outbox] == ["required subject", "propagation subject"]

    _save(auth, email_notifications="y", propagation_notifications=None)
    assert send_all() == {"required": True, "email": True, "propagation": False}

    _save(auth, email_notifications=None, propagation_notifications=None)
    assert send_all() == {"required": True, "email": False, "propagation": False}
    assert [m[1] for m in outbox] == ["required subject"]
    with pytest.raises(ValueError):
        mail.notify(admin, "x", "y", category="marketing")


def test_role_change_mail_respects_email_notifications(app, org, admin, make_user, outbox):
    agent = make_user(org, "agent", "agent@acme.example.com")
    agent_client, agent_auth = signed_in(app, agent)
    _save(agent_auth, email_notifications=None)
    _, admin_auth = signed_in(app, admin)
    admin_auth.post(f"/members/{agent.id}", {"role": "manager", "availability_status": "online",
                                             "max_concurrent_tickets": "10", "customer_tier": "basic"})
    assert reload(User, agent.id).role == "manager"
    assert outbox.to(agent.email) == []


def test_preferences_and_profile_ignore_fields_the_forms_do_not_offer(app, org, admin, make_user, make_org):
    customer = make_user(org, "customer", "customer@acme.example.com")
    other = make_org("Elsewhere")
    client, auth = signed_in(app, customer)
    stray = {"organization_id": str(other.id), "role": "admin", "is_active": "false", "deleted_at": "2020-01-01",
             "password_hash": "x", "user_id": str(admin.id), "email": "me@evil.example.com",
             "customer_tier": "enterprise", "credentials_version": "7"}
    assert _save(auth, ui_theme="dark", **stray).status_code == 302
    assert auth.post("/preferences/profile", {"full_name": "Casey C.", "availability_status": "online",
                                              **stray}).status_code == 302
    user = reload(User, customer.id)
    assert user.full_name == "Casey C."
    assert (user.organization_id, user.role, user.is_active, user.deleted_at) == (org.id, "customer", True, None)
    assert (user.email, user.customer_tier, user.credentials_version) == ("customer@acme.example.com", "basic", 1)
    assert user.availability_status == "offline"  # customers have none (seed 001), even if posted
    assert user.password_hash.startswith("$argon2")
    assert user.preferences.ui_theme == "dark" and user.preferences.user_id == customer.id
    assert _prefs(admin).ui_theme == "auto"  # new users follow the system theme
    assert 'name="availability_status"' not in page_text(client.get("/preferences"))


def test_profile_form_shows_rule_messages(app, admin):
    _, auth = signed_in(app, admin)
    response = auth.post("/preferences/profile", {"full_name": "x" * 121, "availability_status": "online"})
    assert response.status_code == 422
    assert "Name must be at most 120 characters." in page_text(response)
    response = auth.post("/preferences/profile", {"full_name": "   ", "availability_status": "online"})
    assert response.status_code == 422 and "Enter your name." in page_text(response)
    assert reload(User, admin.id).full_name == "Admin"


def test_staff_set_their_own_availability(app, admin):
    _, auth = signed_in(app, admin)
    assert auth.post("/preferences/profile", {"full_name": "Ada", "availability_status": "busy"}).status_code == 302
    assert reload(User, admin.id).availability_status == "busy"


def test_signed_out_users_are_sent_to_sign_in(app):
    client = browser(app)
    response = client.get("/preferences")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin?next=")


def test_time_zone_is_validated_and_followed(app, org, admin):
    client, auth = signed_in(app, admin)
    response = _save(auth, timezone="Mars/Olympus_Mons")
    assert response.status_code == 422 and "Choose a time zone from the list." in page_text(response)
    assert _save(auth, timezone="Pacific/Kiritimati").status_code == 302
    assert _prefs(admin).timezone == "Pacific/Kiritimati"
    assert "times in Pacific/Kiritimati" in page_text(client.get("/preferences"))
    assert _save(auth, timezone="").status_code == 302  # back to the organization's default
    assert "times in UTC" in page_text(client.get("/preferences"))


def test_organization_default_zone_applies_to_members_without_one(app, org, admin, make_user):
    agent = make_user(org, "agent", "agent@acme.example.com")
    _, auth = signed_in(app, admin)
    assert auth.post("/organization", {"name": "Acme", "subscription_tier": "professional",
                                       "trash_retention_days": "30", "time_zone": "Europe/Paris"}).status_code == 302
    client, _ = signed_in(app, agent)
    assert "times in Europe/Paris" in page_text(client.get("/dashboard"))
    response = auth.post("/organization", {"name": "Acme", "subscription_tier": "professional",
                                           "trash_retention_days": "30", "time_zone": "Nowhere/Else"})
    assert response.status_code == 422

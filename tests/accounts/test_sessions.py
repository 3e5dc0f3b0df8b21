"""Sessions end on the server: a copied cookie stops working at logout, password or role change, deactivation, timeouts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import User, UserSession
from app.extensions import db
from tests.factories import PASSWORD
from tests.helpers import Auth, browser, client_with_cookies, cookie_value, is_signed_in, page_text, reload, signed_in


def _sessions_of(user) -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id)
                                   .order_by(UserSession.id)))


def test_a_cookie_copied_before_sign_out_does_not_work_after_it(app, admin):
    client, auth = signed_in(app, admin)
    copied = cookie_value(client, "session")
    thief = client_with_cookies(app, session=copied)
    assert is_signed_in(thief)  # the copy works while the session lives: the test can fail

    auth.logout()
    assert not is_signed_in(thief)
    assert not is_signed_in(client_with_cookies(app, session=copied))
    [ended] = _sessions_of(admin)
    assert (ended.is_active, ended.end_reason) == (False, "signed_out")


def test_the_remember_me_cookie_stops_working_after_sign_out(app, admin):
    client, auth = signed_in(app, admin, remember=True)
    remember = cookie_value(client, "remember_token")
    assert remember
    assert is_signed_in(client_with_cookies(app, remember_token=remember))  # restores a session on its own

    auth.logout()
    assert cookie_value(client, "remember_token") is None  # the browser's copy is deleted
    assert not is_signed_in(client_with_cookies(app, remember_token=remember))


def test_changing_the_password_ends_the_other_sessions(app, admin):
    laptop, laptop_auth = signed_in(app, admin)
    phone, _ = signed_in(app, admin)
    stolen = client_with_cookies(app, session=cookie_value(phone, "session"))
    assert is_signed_in(stolen)

    response = laptop_auth.post("/preferences/password", {"current_password": PASSWORD,
                                                           "new_password": "a-brand-new-passphrase"})
    assert response.status_code == 302
    assert is_signed_in(laptop)
    assert not is_signed_in(phone) and not is_signed_in(stolen)
    assert [s.end_reason for s in _sessions_of(admin)] == ["", "password_changed"]

    assert Auth(browser(app)).login(admin.email, PASSWORD).status_code == 422
    assert Auth(browser(app)).login(admin.email, "a-brand-new-passphrase").status_code == 302


def test_password_change_needs_the_current_password_and_a_good_new_one(app, admin):
    client, auth = signed_in(app, admin)
    response = auth.post("/preferences/password", {"current_password": "not-my-password",
                                                   "new_password": "a-brand-new-passphrase"})
    assert response.status_code == 422
    assert "Your current password is not correct." in page_text(response)
    response = auth.post("/preferences/password", {"current_password": PASSWORD, "new_password": "too-short"})
    assert response.status_code == 422
    assert "Use at least 12 characters." in page_text(response)
    assert Auth(browser(app)).login(admin.email, PASSWORD).status_code == 302


def test_deactivation_signs_the_member_out_everywhere(app, admin, make_user, org):
    agent = make_user(org, "agent", "agent@acme.example.com")
    agent_client, _ = signed_in(app, agent)
    _, admin_auth = signed_in(app, admin)

    response = admin_auth.post(f"/members/{agent.id}/deactivate", {"reason": "left the company"})
    assert response.status_code == 302
    assert not is_signed_in(agent_client)
    assert [s.end_reason for s in _sessions_of(agent)] == ["deactivated"]
    assert Auth(browser(app)).login(agent.email).status_code == 422


def test_a_role_change_signs_the_member_out(app, admin, make_user, org):
    agent = make_user(org, "agent", "agent@acme.example.com")
    agent_client, _ = signed_in(app, agent)
    _, admin_auth = signed_in(app, admin)

    response = admin_auth.post(f"/members/{agent.id}", {"role": "manager", "availability_status": "online",
                                                         "max_concurrent_tickets": "10", "customer_tier": "basic"})
    assert response.status_code == 302, page_text(response)
    assert not is_signed_in(agent_client)
    assert [s.end_reason for s in _sessions_of(agent)] == ["role_changed"]
    client, _ = signed_in(app, agent)  # they sign in again, with the new role
    assert client.get("/members").status_code == 200


def test_editing_without_a_role_change_keeps_the_member_signed_in(app, admin, make_user, org):
    agent = make_user(org, "agent", "agent@acme.example.com")
    agent_client, _ = signed_in(app, agent)
    _, admin_auth = signed_in(app, admin)
    admin_auth.post(f"/members/{agent.id}", {"role": "agent", "availability_status": "busy",
                                             "max_concurrent_tickets": "12", "customer_tier": "basic"})
    assert reload(User, agent.id).availability_status == "busy"
    assert is_signed_in(agent_client)


def test_idle_sessions_expire(app, admin):
    client, _ = signed_in(app, admin)
    start = datetime.now(timezone.utc)
    idle = timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"])
    with time_machine.travel(start + idle - timedelta(minutes=5), tick=False):
        assert is_signed_in(client)  # still fresh, and this request counts as activity
    with time_machine.travel(start + 2 * idle - timedelta(minutes=10), tick=False):
        assert is_signed_in(client)
    with time_machine.travel(start + 3 * idle, tick=False):
        assert not is_signed_in(client)
    assert [s.end_reason for s in _sessions_of(admin)] == ["idle_timeout"]


def test_sessions_end_after_the_absolute_timeout_however_active(app, admin):
    client, _ = signed_in(app, admin)
    start = datetime.now(timezone.utc)
    absolute = timedelta(seconds=app.config["SESSION_ABSOLUTE_TIMEOUT"])
    step = timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT"]) - timedelta(minutes=5)
    moment = start
    while moment + step < start + absolute:
        moment += step
        with time_machine.travel(moment, tick=False):
            assert is_signed_in(client), moment - start
    with time_machine.travel(start + absolute + timedelta(minutes=1), tick=False):
        assert not is_signed_in(client)
    assert [s.end_reason for s in _sessions_of(admin)] == ["absolute_timeout"]


def test_remembered_sessions_have_longer_timeouts(app, admin):
    client, _ = signed_in(app, admin, remember=True)
    remember = cookie_value(client, "remember_token")
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=3), tick=False):
        assert is_signed_in(client_with_cookies(app, remember_token=remember))
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=31), tick=False):
        assert not is_signed_in(client_with_cookies(app, remember_token=remember))


def test_last_seen_is_written_at_most_once_a_minute(app, admin):
    client, _ = signed_in(app, admin)
    [first] = _sessions_of(admin)
    seen = first.last_seen_at
    client.get("/dashboard")
    assert _sessions_of(admin)[0].last_seen_at == seen
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=2), tick=False):
        client.get("/dashboard")
    later = _sessions_of(admin)[0]
    assert later.last_seen_at > seen
    assert reload(User, admin.id).last_active_at == later.last_seen_at


def test_a_user_can_sign_out_another_of_their_sessions(app, admin):
    laptop, laptop_auth = signed_in(app, admin)
    phone, _ = signed_in(app, admin)
    page = page_text(laptop.get("/preferences"))
    assert "this browser" in page
    phone_session = _sessions_of(admin)[1]
    response = laptop_auth.post(f"/preferences/sessions/{phone_session.id}/end")
    assert response.status_code == 302
    assert not is_signed_in(phone) and is_signed_in(laptop)
    assert _sessions_of(admin)[1].end_reason == "ended_by_user"


def _set_cookie_headers(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def test_session_and_remember_cookies_are_httponly_and_samesite_lax(app, admin):
    client = browser(app)
    token = Auth(client).csrf("/signin")
    response = client.post("/signin", data={"csrf_token": token, "email": admin.email, "password": PASSWORD,
                                            "remember": "y"})
    cookies = _set_cookie_headers(response)
    for name in ("session", "remember_token"):
        header = cookies[name]
        assert "HttpOnly" in header and "SameSite=Lax" in header, header
        assert "Secure" not in header  # plain http in tests, SESSION_COOKIE_SECURE off


@pytest.fixture()
def secure_app(backend, app):
    from tests.conftest import make_test_app

    return make_test_app(backend, SESSION_COOKIE_SECURE=True)


def test_cookies_are_secure_when_session_cookie_secure_is_on(secure_app, admin):
    client = browser(secure_app)
    client.base_url = "https://localhost"
    token = Auth(client).csrf("/signin")
    # Flask-WTF checks the Referer of HTTPS form posts (browsers send it: Referrer-Policy same-origin).
    response = client.post("/signin", data={"csrf_token": token, "email": admin.email, "password": PASSWORD,
                                            "remember": "y"}, headers={"Referer": "https://localhost/signin"})
    assert response.status_code == 302
    cookies = _set_cookie_headers(response)
    for name in ("session", "remember_token"):
        assert "Secure" in cookies[name] and "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name]
    assert client.get("/dashboard").status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")

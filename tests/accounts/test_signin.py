"""Sign-in and sign-out through the real forms: one answer for every refusal, throttling, safe `next`."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.accounts.services import SIGN_IN_REFUSED
from tests.factories import PASSWORD
from tests.helpers import Auth, browser, csrf_from, is_signed_in, page_text

REFUSED_HTML = SIGN_IN_REFUSED.replace("'", "&#39;")


def test_sign_in_and_sign_out_through_the_forms(client, auth, admin):
    assert client.get("/members").status_code == 302  # signed out: sent to sign in
    response = auth.login(admin.email)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert is_signed_in(client)
    assert client.get("/members").status_code == 200

    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/signin"
    assert not is_signed_in(client)
    assert "You are signed out." in page_text(client.get("/signin"))


def test_email_is_matched_case_insensitively(client, auth, admin):
    assert auth.login("  ADMIN@Acme.Example.com ").status_code == 302


@pytest.mark.parametrize("email,password", [
    ("nobody@acme.example.com", PASSWORD),          # unknown email
    ("admin@acme.example.com", "wrong-password-1"),  # wrong password
])
def test_unknown_email_and_wrong_password_get_the_same_answer(client, auth, admin, email, password):
    response = auth.login(email, password)
    assert response.status_code == 422
    html = page_text(response)
    assert REFUSED_HTML in html
    assert "nobody" not in html.split("<form", 1)[1].split("</form>")[0].replace('value="nobody@acme.example.com"', "")
    assert not is_signed_in(client)


def test_deactivated_and_invited_members_get_the_same_answer(app_ctx, client, auth, admin, make_user, org):
    gone = make_user(org, "agent", "gone@acme.example.com")
    gone.soft_delete(user=admin, reason="left")
    from app.extensions import db

    db.session.commit()
    invited = make_user(org, "agent", "invited@acme.example.com", password=None)
    for email in (gone.email, invited.email):
        response = auth.login(email)
        assert response.status_code == 422
        assert REFUSED_HTML in page_text(response)


def _at(app, address: str) -> Auth:
    client = browser(app)
    client.environ_base["REMOTE_ADDR"] = address
    return Auth(client)


def _age_backoff(seconds: float) -> None:
    """Move every pair's wait `seconds` into the past (as if that much time went by)."""
    import sqlalchemy as sa

    from app.accounts.models import SignInThrottle
    from app.extensions import db

    with db.engine.begin() as conn:
        for row in conn.execute(sa.select(SignInThrottle.id, SignInThrottle.blocked_until,
                                          SignInThrottle.last_failure_at)).all():
            values = {"last_failure_at": row.last_failure_at - timedelta(seconds=seconds)}
            if row.blocked_until is not None:
                values["blocked_until"] = row.blocked_until - timedelta(seconds=seconds)
            conn.execute(sa.update(SignInThrottle).where(SignInThrottle.id == row.id).values(**values))


def test_failures_back_off_exponentially_then_the_right_password_goes_through(app, admin, monkeypatch):
    """The attack: guess the password at full speed. After LOGIN_FREE_FAILURES failures the pair must
    wait, doubling each time, and the password isn't even checked while it waits; after the wait the
    right one works."""
    from app.accounts.services import sign_in_delay

    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES", 3)
    monkeypatch.setitem(app.config, "LOGIN_BACKOFF_BASE_SECONDS", 60)
    with app.app_context():
        assert [sign_in_delay(n) for n in range(1, 7)] == [0, 0, 60, 120, 240, 480]
        assert sign_in_delay(40) == app.config["LOGIN_BACKOFF_MAX_SECONDS"]
    attacker = _at(app, "203.0.113.9")
    for _ in range(3):
        assert REFUSED_HTML in page_text(attacker.login(admin.email, "wrong-password-1"))
    waiting = attacker.login(admin.email)  # right password, but during the wait: not checked
    assert waiting.status_code == 422 and "Too many failed sign-in attempts. Try again in" in page_text(waiting)
    assert not is_signed_in(attacker.client)
    _age_backoff(61)
    assert attacker.login(admin.email).status_code == 302  # the wait is over: the right password works


def test_an_attacker_cannot_lock_the_owner_out(app, admin, monkeypatch):
    """The attack: 50 wrong passwords for the victim's account (and 50 more accounts) from one address.
    The owner, signing in from their own address, is not delayed at all."""
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES", 3)
    monkeypatch.setitem(app.config, "LOGIN_BACKOFF_BASE_SECONDS", 600)  # the wait outlasts a slow test run
    attacker = _at(app, "203.0.113.9")
    for n in range(50):
        attacker.login(admin.email, f"wrong-password-{n}")
    assert "Too many failed" in page_text(attacker.login(admin.email))  # the attacker's own pair waits
    for n in range(50):
        attacker.login(f"guess{n}@acme.example.com", "wrong-password-1")
    owner = _at(app, "198.51.100.7")
    assert owner.login(admin.email).status_code == 302


def test_a_crowd_behind_one_address_is_not_locked_out_by_one_of_them(app, admin, make_user, org, monkeypatch):
    """Everyone behind one NAT address: one person's failures delay only that person's account."""
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES", 2)
    monkeypatch.setitem(app.config, "LOGIN_BACKOFF_BASE_SECONDS", 600)
    colleague = make_user(org, "agent", "colleague@acme.example.com")
    office = _at(app, "192.0.2.10")
    for _ in range(25):
        office.login(admin.email, "wrong-password-1")
    assert "Too many failed" in page_text(office.login(admin.email))
    assert _at(app, "192.0.2.10").login(colleague.email).status_code == 302


def test_a_successful_sign_in_resets_the_pair(app, auth, admin, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES", 3)
    auth.login(admin.email, "wrong-password-1")
    auth.login(admin.email, "wrong-password-1")
    assert auth.login(admin.email).status_code == 302
    auth.logout()
    auth.login(admin.email, "wrong-password-1")
    auth.login(admin.email, "wrong-password-1")
    assert auth.login(admin.email).status_code == 302


def test_backoff_lives_in_the_database_and_works_with_redis_down(app, admin, monkeypatch):
    """The counters are rows (sign_in_throttles), not Redis keys: a broken Redis changes nothing."""
    import app.platform.jobs as jobs

    def redis_down(*_args, **_kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(jobs, "get_connection", redis_down)
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES", 2)
    monkeypatch.setitem(app.config, "LOGIN_BACKOFF_BASE_SECONDS", 600)
    attacker = _at(app, "203.0.113.9")
    for _ in range(2):
        assert attacker.login(admin.email, "wrong-password-1").status_code == 422
    assert "Too many failed" in page_text(attacker.login(admin.email))
    assert _at(app, "198.51.100.7").login(admin.email).status_code == 302


def test_old_throttle_rows_are_swept(app, admin):
    import sqlalchemy as sa

    from app.accounts.models import SignInThrottle
    from app.accounts.services import sign_in_throttles_sweep
    from app.extensions import db

    _at(app, "203.0.113.9").login(admin.email, "wrong-password-1")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInThrottle)) == 1
        assert sign_in_throttles_sweep() == 0
    _age_backoff(app.config["LOGIN_FAILURE_MEMORY_SECONDS"] + 60)
    with app.app_context():
        assert sign_in_throttles_sweep() == 1


def _login_with_next(client, email, target):
    token = csrf_from(page_text(client.get("/signin")))
    return client.post("/signin", query_string={"next": target},
                       data={"csrf_token": token, "email": email, "password": PASSWORD})


def test_next_takes_the_user_back_to_the_page_they_asked_for(client, admin):
    response = client.get("/members?role=agent")
    assert response.status_code == 302
    assert "next=%2Fmembers%3Frole%3Dagent" in response.headers["Location"]
    response = _login_with_next(client, admin.email, "/members?role=agent")
    assert response.headers["Location"] == "/members?role=agent"


@pytest.mark.parametrize("target", [
    "//evil.com", "https://evil.com", "http://evil.com/members", "/\\evil.com", "\\\\evil.com", "/\\/evil.com",
    "/\t/evil.com", "/\n/evil.com", "javascript:alert(1)", "evil.com", "///evil.com", " //evil.com",
])
def test_next_never_leaves_the_site(client, admin, target):
    response = _login_with_next(client, admin.email, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


def test_sign_in_rotates_the_cookie_session(client, auth, admin):
    client.get("/signin")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker before sign-in"
        token_before = sess["csrf_token"]
    auth.login(admin.email)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("csrf_token") != token_before
        assert sess["_user_id"]


def test_sign_out_needs_a_post(client, auth, admin):
    auth.login(admin.email)
    assert client.get("/signout").status_code == 405
    assert is_signed_in(client)

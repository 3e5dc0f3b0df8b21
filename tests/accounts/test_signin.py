"""Sign-in and sign-out through the real forms: one answer for every refusal, throttling, safe `next`."""
from __future__ import annotations

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


def test_too_many_failures_lock_the_account_even_for_the_right_password(app, client, auth, admin, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 3)
    for _ in range(3):
        assert REFUSED_HTML in page_text(auth.login(admin.email, "wrong-password-1"))
    response = auth.login(admin.email)  # right password, but locked
    assert response.status_code == 422
    assert "Too many failed sign-in attempts. Try again in" in page_text(response)
    assert not is_signed_in(client)
    # Another account from the same address is not locked by this one.
    other_ip_limit = app.config["LOGIN_MAX_FAILURES_PER_IP"]
    assert other_ip_limit > 3


def test_locking_is_per_account_not_global(app, auth, admin, make_user, org, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 2)
    colleague = make_user(org, "agent", "colleague@acme.example.com")
    for _ in range(2):
        auth.login(admin.email, "wrong-password-1")
    assert "Too many failed" in page_text(auth.login(admin.email))
    assert auth.login(colleague.email).status_code == 302


def test_too_many_failures_from_one_address_lock_that_address(app, admin, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_IP", 3)
    attacker = browser(app)
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    attacker_auth = Auth(attacker)
    for n in range(3):  # a different (unknown) account each time: only the address adds up
        assert attacker_auth.login(f"guess{n}@acme.example.com", "wrong-password-1").status_code == 422
    response = attacker_auth.login(admin.email)
    assert response.status_code == 422 and "Too many failed sign-in attempts" in page_text(response)

    honest = browser(app)
    honest.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert Auth(honest).login(admin.email).status_code == 302


def test_a_successful_sign_in_resets_the_account_counter(app, auth, admin, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 3)
    auth.login(admin.email, "wrong-password-1")
    auth.login(admin.email, "wrong-password-1")
    assert auth.login(admin.email).status_code == 302
    auth.logout()
    auth.login(admin.email, "wrong-password-1")
    auth.login(admin.email, "wrong-password-1")
    assert auth.login(admin.email).status_code == 302


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

"""Password reset and change of email, through the real forms (mail recorded by the `outbox` fixture)."""
from __future__ import annotations

import re

import time_machine

from app.accounts import recovery
from app.accounts.models import User
from app.platform.models import utcnow
from tests.factories import PASSWORD
from tests.helpers import Auth, browser, is_signed_in, page_text, reload, signed_in

NEW_PASSWORD = "a-brand-new-passphrase"
SENT_HTML = recovery.RESET_SENT.replace("'", "&#39;")


def _link(outbox, email: str) -> str:
    (_, _, body), = outbox.to(email)
    return re.search(r"http://localhost(/\S+)", body).group(1)


def _ask(app, email: str, client=None):
    client = client or browser(app)
    return Auth(client).post("/password/forgot", {"email": email}, page="/password/forgot")


def test_sign_in_page_offers_forgot_password(client):
    html = page_text(client.get("/signin"))
    assert 'href="/password/forgot"' in html and "Forgot your password?" in html


def test_same_answer_whether_or_not_the_address_exists(app, admin, outbox):
    for email in (admin.email, "nobody@acme.example.com"):
        response = _ask(app, email)
        assert response.status_code == 302 and response.headers["Location"] == "/signin"
    client = browser(app)
    _ask(app, "nobody@acme.example.com", client)
    assert SENT_HTML in page_text(client.get("/signin"))
    assert [m[0] for m in outbox] == [admin.email]  # only the real account got mail


def test_reset_link_works_once_and_ends_every_session(app, admin, outbox):
    other_browser, _ = signed_in(app, admin)
    _ask(app, admin.email)
    link = _link(outbox, admin.email)
    client = browser(app)
    assert client.get(link).status_code == 200
    response = Auth(client).post(link, {"password": NEW_PASSWORD}, page=link)
    assert response.status_code == 302 and response.headers["Location"] == "/signin"
    assert not is_signed_in(other_browser)  # the other session ended
    assert client.get(link).status_code == 410  # single use
    assert Auth(browser(app)).login(admin.email, PASSWORD).status_code == 422
    assert Auth(browser(app)).login(admin.email, NEW_PASSWORD).status_code == 302


def test_reset_link_expires_within_the_hour(app, admin, outbox):
    _ask(app, admin.email)
    link = _link(outbox, admin.email)
    with time_machine.travel(utcnow().timestamp() + 3601, tick=False):
        response = browser(app).get(link)
    assert response.status_code == 410 and "expired" in page_text(response)


def test_forged_link_is_refused(app, admin):
    response = browser(app).get("/password/reset/not-a-token")
    assert response.status_code == 410 and "Ask for a new link" in page_text(response)


def test_requests_are_throttled_per_address(app, admin, outbox):
    app.config["PASSWORD_RESET_MAX_PER_ADDRESS"], old = 2, app.config["PASSWORD_RESET_MAX_PER_ADDRESS"]
    try:
        for _ in range(2):
            assert _ask(app, "nobody@acme.example.com").status_code == 302
        response = _ask(app, "nobody@acme.example.com")
        assert response.status_code == 429 and "Too many reset requests" in page_text(response)
    finally:
        app.config["PASSWORD_RESET_MAX_PER_ADDRESS"] = old


def test_requests_are_throttled_per_client_ip_and_the_window_passes(app, admin, outbox):
    """Per IP across many addresses; blocked for the window, then the count starts over. Database rows:
    a refused request writes nothing, and the sign-in backoff of the same address is untouched."""
    import sqlalchemy as sa

    from app.accounts.models import SignInThrottle
    from app.extensions import db

    app.config["PASSWORD_RESET_MAX_PER_IP"], old = 3, app.config["PASSWORD_RESET_MAX_PER_IP"]
    try:
        for n in range(3):
            assert _ask(app, f"someone{n}@acme.example.com").status_code == 302
        assert _ask(app, admin.email).status_code == 429  # another address, the same IP
        assert not outbox.to(admin.email)
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(SignInThrottle))
        assert _ask(app, admin.email).status_code == 429
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInThrottle)) == rows
        assert Auth(browser(app)).login(admin.email).status_code == 302  # sign-in is not throttled by it
        with time_machine.travel(utcnow().timestamp() + app.config["PASSWORD_RESET_WINDOW_SECONDS"] + 1, tick=False):
            assert _ask(app, admin.email).status_code == 302
        assert outbox.to(admin.email)
    finally:
        app.config["PASSWORD_RESET_MAX_PER_IP"] = old


def test_weak_new_password_is_refused_at_the_field(app, admin, outbox):
    _ask(app, admin.email)
    link = _link(outbox, admin.email)
    client = browser(app)
    response = Auth(client).post(link, {"password": "short"}, page=link)
    assert response.status_code == 422 and "at least 12 characters" in page_text(response)
    assert client.get(link).status_code == 200  # still usable


def test_email_change_is_confirmed_from_the_new_address(app, admin, outbox):
    client, auth = signed_in(app, admin)
    response = auth.post("/preferences/email", {"new_email": "new@acme.example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert reload(User, admin.id).email == "admin@acme.example.com"  # not yet
    link = _link(outbox, "new@acme.example.com")
    assert client.get(link).status_code == 302
    assert reload(User, admin.id).email == "new@acme.example.com"
    assert outbox.to("admin@acme.example.com")  # the old address is told
    assert client.get(link).status_code == 410  # used
    assert Auth(browser(app)).login("new@acme.example.com").status_code == 302


def test_email_change_needs_the_password_and_a_free_address(app, admin, make_user, org, outbox):
    make_user(org, "agent", "taken@acme.example.com")
    _, auth = signed_in(app, admin)
    response = auth.post("/preferences/email", {"new_email": "x@acme.example.com", "password": "wrong-password-1"})
    assert response.status_code == 422 and "current password is not correct" in page_text(response)
    response = auth.post("/preferences/email", {"new_email": "taken@acme.example.com", "password": PASSWORD})
    assert response.status_code == 422 and "Another account uses that address" in page_text(response)
    assert not outbox

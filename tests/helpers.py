"""Helpers that drive the app through its real forms (CTFd style)."""
from __future__ import annotations

import contextvars
import os
import re
import signal
import subprocess
import uuid

from flask.testing import FlaskClient

from tests.factories import PASSWORD

# A UUID as URLs carry it (projects and exports are keyed by UUIDv7s).
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def uuid_after(prefix: str, text: str) -> uuid.UUID:
    """The UUID that follows `prefix` in `text` (a Location header, a page): `uuid_after("/projects/", url)`."""
    match = re.search(re.escape(prefix) + f"({UUID_PATTERN})", text)
    assert match, f"no UUID after {prefix!r} in {text[:200]!r}"
    return uuid.UUID(match.group(1))


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


class Auth:
    def __init__(self, client) -> None:
        self.client = client

    def csrf(self, page: str = "/signin") -> str:
        return csrf_from(self.client.get(page).get_data(as_text=True))

    def post(self, url: str, data: dict | None = None, *, page: str | None = None, **kwargs):
        """POST a form with the CSRF token taken from `page` (default: the same URL, else /dashboard)."""
        token = self.csrf(page or ("/preferences" if self._signed_in() else "/signin"))
        payload = {"csrf_token": token, **(data or {})}
        return self.client.post(url, data=payload, **kwargs)

    def _signed_in(self) -> bool:
        response = self.client.get("/preferences")  # every role has it (customers have no dashboard)
        return response.status_code == 200

    def sign_up(self, *, organization="Globex", name="Grace Admin", email="grace@globex.example.com",
                password=PASSWORD):
        token = self.csrf("/signup")
        return self.client.post("/signup", data={"csrf_token": token, "organization_name": organization,
                                                 "full_name": name, "email": email, "password": password})

    def login(self, email: str, password: str = PASSWORD, remember: bool = False):
        token = self.csrf("/signin")
        data = {"csrf_token": token, "email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return self.client.post("/signin", data=data)

    def logout(self):
        token = self.csrf("/preferences")
        return self.client.post("/signout", data={"csrf_token": token})


# --------------------------------------------------------------------------- more clients and cookies
class BrowserClient(FlaskClient):
    """A test client whose every request runs in its own context, as on a real server.

    Flask reuses an app context that is already pushed (the `app_ctx` fixture):
    requests would then share `g` (Flask-Login's cached user!) and the test's
    database session, so a second browser could act as the first one's user.
    Here each request gets a fresh app context, `g` and session; the test reads
    what the request wrote with fresh queries (`reload`).
    """

    base_url: str | None = None  # e.g. "https://localhost" to test Secure cookies

    def open(self, *args, **kwargs):
        if self.base_url and args and isinstance(args[0], str):
            kwargs.setdefault("base_url", self.base_url)
        return contextvars.Context().run(super().open, *args, **kwargs)


def browser(app) -> BrowserClient:
    return BrowserClient(app, app.response_class, use_cookies=True)


def reload(model, object_id):
    """The row as the database has it now (not the test session's cached copy)."""
    from app.extensions import db

    db.session.expire_all()
    return db.session.get(model, object_id)


def signed_in(app, user_or_email, password: str = PASSWORD, *, remember: bool = False):
    """A fresh browser signed in through the real form; returns (client, auth)."""
    client = browser(app)
    auth = Auth(client)
    email = getattr(user_or_email, "email", user_or_email)
    response = auth.login(email, password, remember=remember)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client, auth


def cookie_value(client, name: str) -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie is not None else None


def client_with_cookies(app, **cookies: str):
    """A new browser that only has the given cookies (a copied or stolen cookie, replayed)."""
    client = browser(app)
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def is_signed_in(client) -> bool:
    return client.get("/preferences").status_code == 200


def page_text(response) -> str:
    return response.get_data(as_text=True)


class Outbox(list):
    """Mail committed to the outbox: (to, subject, body) tuples, in order."""

    def to(self, email: str) -> list[tuple[str, str, str]]:
        return [m for m in self if m[0] == email]


def record_outbox(monkeypatch) -> Outbox:
    """Record each message as its delivery is enqueued (after its commit), instead of enqueuing it.

    What is recorded is what was committed: a message written by a change that was rolled back never shows.
    """
    import sqlalchemy as sa

    from app.extensions import db
    from app.platform import mail

    sent = Outbox()

    def record(ids, delay_seconds=0):
        with db.engine.connect() as conn:  # after_commit: the session itself may not run SQL now
            table = mail.OutboxMessage.__table__
            rows = conn.execute(sa.select(table.c.recipient, table.c.subject, table.c.body)
                                .where(table.c.id.in_(ids)).order_by(table.c.id))
            sent.extend(tuple(row) for row in rows)
        return len(ids)

    monkeypatch.setattr(mail, "enqueue_deliveries", record)
    return sent


def stop_process_group(proc: subprocess.Popen | None, *, grace: float = 10) -> None:
    """Stop a process started with `start_new_session=True` and everything in its group.

    A worker's work-horse is in the worker's process group: SIGTERM lets the worker end
    its current job cleanly; after `grace` seconds the group is killed.
    """
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)

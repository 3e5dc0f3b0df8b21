"""Idempotent create forms: a repeated POST of one form gets the first one's result, never a double.

Every create form carries a hidden `idempotency_key` (the `idempotency_field()`
macro: a fresh random key each time the form is rendered). A view decorated
with `@idempotent(...)` first inserts (user, key) into `idempotency_keys`
*in the request's own transaction*, so the key is committed together with what
the view creates, or not at all:

- a second POST with the same key while the first is still running waits on the
  unique index (PostgreSQL: the row lock of the uncommitted insert; SQLite: the
  write lock) and then finds the key taken;
- once the first one has answered, its result URL (the redirect's Location) is
  stored on the key, and every repeat is redirected there with a note;
- a first POST that failed (a 4xx: bad input) or committed nothing frees its key,
  so the corrected form can be sent again.

API clients send the key as an `Idempotency-Key` header; a repeat is sent (303)
to the first one's Location. Keys are kept for IDEMPOTENCY_KEY_HOURS (24 by
default), then purged.
"""
from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta
from functools import wraps
from typing import Callable, Optional

import sqlalchemy as sa
from flask import current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.platform.models import UTCDateTime, utcnow

FIELD = "idempotency_key"
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
ALREADY_SENT = "This form was already sent; here is what it made."
# How long a repeat waits for the first request to record its result (it has committed by then).
RESULT_WAIT_SECONDS = 5.0


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),
        sa.Index("idx_idempotency_keys_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    endpoint: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    result_url: Mapped[Optional[str]] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


def new_key() -> str:
    """A fresh key for one rendering of a form (a Jinja global)."""
    return uuid.uuid4().hex


def idempotent(fallback: str | Callable[..., str] | None = None):
    """Make a create view answer a repeated POST (same form, same key) with the first one's result.

    `fallback`: an endpoint (called with the view's arguments) or a function of
    them giving where a repeat goes when the first answered without a redirect.
    Put it below `@login_required`: keys belong to the signed-in user.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = _request_key()
            if not key or not _KEY_PATTERN.fullmatch(key) or not current_user.is_authenticated:
                return view(*args, **kwargs)
            user_id = current_user.id
            earlier = _claim(user_id, key)
            if earlier is not None:
                flash(ALREADY_SENT, "info")
                return redirect(earlier or _fallback_url(fallback, kwargs), 303)
            response = make_response(view(*args, **kwargs))
            _settle(user_id, key, response, _fallback_url(fallback, kwargs))
            return response

        return wrapper

    return decorate


def _request_key() -> str:
    """The form's hidden field, or an API client's `Idempotency-Key` header; only on POST."""
    if request.method != "POST":
        return ""
    return (request.form.get(FIELD) or request.headers.get("Idempotency-Key") or "").strip()


def _fallback_url(fallback, kwargs: dict) -> str:
    if fallback is None:
        return request.path
    if callable(fallback):
        return fallback(**kwargs)
    return url_for(fallback, **kwargs)


def _claim(user_id: int, key: str) -> str | None:
    """Insert the key into this request's transaction. None when this request has it; else the
    first request's result URL ('' while it has none)."""
    db.session.add(IdempotencyKey(user_id=user_id, key=key, endpoint=(request.endpoint or "")[:100]))
    try:
        db.session.flush()
        return None
    except sa.exc.IntegrityError:
        db.session.rollback()
    deadline = time.monotonic() + RESULT_WAIT_SECONDS
    while True:
        result = db.session.scalar(sa.select(IdempotencyKey.result_url).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))
        db.session.rollback()  # a fresh snapshot for the next look
        if result or time.monotonic() >= deadline:
            return result or ""
        time.sleep(0.1)


def _settle(user_id: int, key: str, response, fallback_url: str) -> None:
    """After the view: keep the key with its result if the view committed its work, else free it.

    The view's response is built; what it left uncommitted is rolled back, as
    the request's teardown would do.
    """
    db.session.rollback()
    where = (IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    if 300 <= response.status_code < 400 and response.location:
        values = {"result_url": response.location[:500]}
    elif 200 <= response.status_code < 300:  # a page, or an API's 201 with the new resource's Location
        values = {"result_url": (response.headers.get("Location") or fallback_url)[:500]}
    else:
        db.session.execute(sa.delete(IdempotencyKey).where(*where))
        db.session.commit()
        return
    db.session.execute(sa.update(IdempotencyKey).where(*where).values(**values))
    db.session.commit()


def purge_old_keys(now: datetime | None = None) -> int:
    hours = current_app.config.get("IDEMPOTENCY_KEY_HOURS", 24)
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    deleted = db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)).rowcount
    db.session.commit()
    return deleted


def lock_user_row(user_id: int) -> None:
    """Serialise a per-user limit check with its insert until the caller commits.

    PostgreSQL: SELECT ... FOR NO KEY UPDATE on the user's row (not FOR UPDATE: that conflicts with the
    KEY SHARE lock every insert referencing the user takes, such as this request's idempotency key, and
    two requests would deadlock). SQLite has no row locks:
    a no-op write takes the database's write lock at once, so two requests can't
    both count the same free place.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(sa.text("SELECT id FROM users WHERE id = :id FOR NO KEY UPDATE"), {"id": user_id})
    else:
        db.session.execute(sa.text("UPDATE users SET id = id WHERE id = :id"), {"id": user_id})


def init_app(app) -> None:
    app.jinja_env.globals["new_idempotency_key"] = new_key


from app.platform.jobs import register_periodic  # noqa: E402  (jobs imports no feature)

register_periodic("idempotency-keys-purge", 3600, "app.platform.idempotency.purge_old_keys")

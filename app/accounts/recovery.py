"""Password reset and change of email address, by links mailed to the address concerned.

Kept apart from sign-in, invitations and lockout (services.py) so each can change alone.

- A reset link is signed (itsdangerous, its own salt), expires after
  PASSWORD_RESET_MAX_AGE_SECONDS (one hour) and carries the user's
  `credentials_version`, which setting the password bumps: the link works once,
  and an older link dies with it. The reset ends every session of the user.
- Asking for a link answers the same whether or not the address has an account
  (the mail simply isn't sent), and is throttled per address and per client IP
  (the sign-in backoff's database rows, so it holds with Redis down), counted for
  unknown addresses too.
- A new email address is confirmed from a link mailed to it; the old address is
  told once the change is done.
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts.models import User
from app.accounts.services import (
    AccountError,
    _commit_or_rollback,
    _set_password,
    password_matches,
    sessions_end_all,
    throttle_blocked_for,
    throttle_count,
)
from app.extensions import db
from app.platform import mail
from app.platform.models import utcnow

RESET_SENT = ("If that address has a Cairn account, a link to choose a new password is on its way. "
              "It works once, within the hour.")
RESET_THROTTLED = "Too many reset requests. Try again in an hour."
RESET_LINK_INVALID = "This password reset link is not valid, or it has already been used. Ask for a new one."
RESET_LINK_EXPIRED = "This password reset link has expired. Ask for a new one."
EMAIL_LINK_INVALID = "This confirmation link is not valid, or the change was already made or replaced."
EMAIL_LINK_EXPIRED = "This confirmation link has expired. Ask for the change again from your preferences."


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _max_age() -> int:
    return int(current_app.config.get("PASSWORD_RESET_MAX_AGE_SECONDS", 3600))


# --------------------------------------------------------------------------- throttling
def _reset_throttle_keys(email: str, ip_address: str) -> list[tuple[str, int]]:
    """(key, limit) per address and per client IP. The NUL separator can't occur in a sign-in key
    (the input layer refuses NUL), so these never share a row with the sign-in backoff."""
    config = current_app.config
    return [(hashlib.sha256(f"password-reset\0address\0{email}".encode()).hexdigest(),
             int(config.get("PASSWORD_RESET_MAX_PER_ADDRESS", 3))),
            (hashlib.sha256(f"password-reset\0ip\0{ip_address or 'unknown'}".encode()).hexdigest(),
             int(config.get("PASSWORD_RESET_MAX_PER_IP", 20)))]


def _throttled(email: str, ip_address: str) -> bool:
    """True when the address or the IP already asked its limit within the window; else count this request.

    The sign-in backoff's mechanism (`throttle_count`, rows in `sign_in_throttles`): a key that reaches
    its limit is blocked for PASSWORD_RESET_WINDOW_SECONDS; the count starts over after a window without
    requests. Database rows, not Redis counters, so the limit holds when Redis is down. Refused requests
    are not counted (a flood costs one read per key, no writes).
    """
    window = int(current_app.config.get("PASSWORD_RESET_WINDOW_SECONDS", 3600))
    now = utcnow()
    keys = _reset_throttle_keys(email, ip_address)
    if any(throttle_blocked_for(key, now) for key, _limit in keys):
        db.session.rollback()
        return True
    for key, limit in keys:
        throttle_count(key, now, memory_seconds=window,
                       delay_for=lambda count, limit=limit: window if count >= limit else 0)
    return False


# --------------------------------------------------------------------------- password reset
def password_reset_token(user: User) -> str:
    return _serializer("cairn-password-reset").dumps({"u": user.id, "v": user.credentials_version})


def password_reset_request(*, email: str, ip_address: str, reset_url_for) -> str:
    """Mail a reset link if `email` belongs to an active account. Returns the one answer shown to everyone."""
    email = (email or "").strip().lower()
    if _throttled(email, ip_address):
        raise AccountError(RESET_THROTTLED)
    user = db.session.scalars(sa.select(User).where(User.email == email)).first()
    if user is not None and user.is_active and user.organization.is_active:
        link = reset_url_for(password_reset_token(user))
        minutes = _max_age() // 60
        mail.notify(user, "Reset your Cairn password",
                    f"Hello {user.display_name},\n\nSomeone (hopefully you) asked to reset the password of your "
                    f"Cairn account. Choose a new one here (the link works once, within {minutes} minutes):\n\n"
                    f"{link}\n\nChoosing a new password signs you out everywhere. If you didn't ask, ignore "
                    "this mail: your password stays as it is.\n", category="required")
        db.session.commit()  # the outbox row is sent once committed
    return RESET_SENT


def password_reset_user(token: str) -> User:
    """The user a still-valid, unused reset link is for."""
    try:
        data = _serializer("cairn-password-reset").loads(token, max_age=_max_age())
    except SignatureExpired as exc:
        raise AccountError(RESET_LINK_EXPIRED) from exc
    except BadSignature as exc:
        raise AccountError(RESET_LINK_INVALID) from exc
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if (user is None or not user.is_active or not user.organization.is_active
            or user.credentials_version != data.get("v")):
        raise AccountError(RESET_LINK_INVALID)
    return user


def password_reset_complete(*, token: str, password: str) -> User:
    """Set the new password (the link dies with the old credentials version), end every session and
    revoke the user's API tokens (the old password may have leaked). The sign-in backoff needs no
    reset: it is per (account, address) and lets the right password through once its wait is over."""
    from app.accounts.tokens import api_tokens_revoke_all

    user = password_reset_user(token)
    _set_password(user, password)
    sessions_end_all(user=user, reason="password_reset")
    api_tokens_revoke_all(user=user, reason="password_reset")
    _commit_or_rollback()
    return user


# --------------------------------------------------------------------------- change of email
def email_change_request(*, user: User, new_email: str, password: str, confirm_url_for) -> str:
    """Mail a confirmation link to the new address; nothing changes until it is followed."""
    new_email = (new_email or "").strip().lower()
    if not password_matches(user, password):
        raise AccountError("Your current password is not correct.", field="password")
    if new_email == user.email:
        raise AccountError("That is already your email address.", field="new_email")
    if db.session.scalar(sa.select(User.id).where(User.email == new_email)) is not None:
        raise AccountError("Another account uses that address.", field="new_email")
    token = _serializer("cairn-email-change").dumps({"u": user.id, "e": new_email, "old": user.email,
                                                    "v": user.credentials_version})
    # The mail goes to the new address, which is not the user's yet.
    mail.notify(user, "Confirm your new Cairn email address",
                f"Hello {user.display_name},\n\nTo use this address for your Cairn account, follow this link "
                f"within {_max_age() // 60} minutes:\n\n{confirm_url_for(token)}\n\n"
                "If you didn't ask for this, ignore this mail.\n", category="required", to_address=new_email)
    db.session.commit()
    return new_email


def email_change_confirm(*, token: str) -> User:
    try:
        data = _serializer("cairn-email-change").loads(token, max_age=_max_age())
    except SignatureExpired as exc:
        raise AccountError(EMAIL_LINK_EXPIRED) from exc
    except BadSignature as exc:
        raise AccountError(EMAIL_LINK_INVALID) from exc
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if (user is None or not user.is_active or user.email != data.get("old")
            or user.credentials_version != data.get("v")):
        raise AccountError(EMAIL_LINK_INVALID)
    if db.session.scalar(sa.select(User.id).where(User.email == data["e"])) is not None:
        raise AccountError("Another account took that address in the meantime.")
    old_email = user.email
    user.email = data["e"]
    # The old address is told, in the same transaction as the change.
    mail.notify(user, "Your Cairn email address was changed",
                f"Hello {user.display_name},\n\nYour Cairn account now signs in as {user.email}. If you didn't "
                "do this, reset your password and tell your organization's admin.\n", category="required",
                to_address=old_email)
    try:
        _commit_or_rollback()
    except sa.exc.IntegrityError as exc:
        raise AccountError("Another account took that address in the meantime.") from exc
    return user

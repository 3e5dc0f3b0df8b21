"""Personal API tokens: created and revoked on the preferences page, used as `Authorization: Bearer <token>`.

Only the sha256 of a token is stored; the token itself is shown once, on creation.
Bearer requests are authenticated by Flask-Login's request loader; they carry no
cookie, so views that accept them may skip CSRF for them (`is_bearer_request`),
and only for them.
"""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts import bp
from app.accounts.models import ApiToken, User
from app.extensions import db, login_manager
from app.platform.models import utcnow

TOKEN_PREFIX = "cairn_"


class TokenError(ValueError):
    pass


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    name = (name or "").strip()
    if not name:
        raise TokenError("Name the token (e.g. the script that uses it).")
    if len(name) > 100:
        raise TokenError("Token names are at most 100 characters.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=_digest(token), prefix=token[:12])
    db.session.add(row)
    db.session.commit()
    return row, token


def api_token_revoke(*, user: User, token_id: int) -> ApiToken | None:
    row = db.session.scalars(sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)).first()
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.commit()
    return row


def api_tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())))


def api_token_user(token: str) -> User | None:
    """The active user owning an unrevoked token, or None. Records when the token was last used."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.scalars(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                       ApiToken.revoked_at.is_(None))).first()
    if row is None or not row.user.is_active or not row.user.organization.is_active:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row.user


def is_bearer_request() -> bool:
    return bool(g.get("bearer_authenticated"))


@login_manager.request_loader
def load_user_from_request(req):
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    user = api_token_user(header[len("Bearer "):].strip())
    if user is not None:
        g.bearer_authenticated = True
    return user


@bp.route("/preferences/api-tokens", methods=["POST"])
@login_required
def api_token_new():
    try:
        row, token = api_token_create(user=current_user, name=request.form.get("name", ""))
    except TokenError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.preferences") + "#api-tokens")
    flash("Token created. Copy it now: it won't be shown again.", "success")
    return render_template("accounts/api_token_created.html", row=row, token=token)


@bp.route("/preferences/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def api_token_revoke_view(token_id: int):
    row = api_token_revoke(user=current_user, token_id=token_id)
    if row is None:
        from flask import abort

        abort(404)
    flash(f"Token {row.name} revoked.", "success")
    return redirect(url_for("accounts.preferences") + "#api-tokens")


@bp.app_context_processor
def inject_api_tokens():
    return {"api_tokens_of": api_tokens_of}

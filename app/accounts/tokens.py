"""Personal API tokens: created and revoked on the preferences page, used as `Authorization: Bearer <token>`.

What a token can do, and nothing more:
- it authenticates requests to the JSON API only: the routes of the blueprints named in
  `API_BLUEPRINTS` (or nested in one of them), decided by blueprint, never by path. Any other
  route refuses a request carrying `Authorization: Bearer` outright (401, JSON, before any view
  or session work runs), so a token can't reach the members, tokens or organization pages, nor
  get a CSRF token from a page's session;
- within the scopes chosen at creation (read: GET; write: POST, PUT, PATCH, DELETE), until it expires or is revoked;
- a request that carries a bearer header never gets a session cookie (`BearerAwareSessionInterface`).
Password change (if the user leaves the box ticked), role change, deactivation and the
organization's deletion revoke the user's tokens; restoring a member does not bring them back.

Only the sha256 of a token is stored; the token itself is shown once, on creation.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_required

from app.accounts import bp
from app.accounts.models import API_TOKEN_SCOPES, ApiToken, User
from app.extensions import db, login_manager
from app.platform.models import utcnow

TOKEN_PREFIX = "cairn_"
# The blueprints whose views a bearer token may call: the JSON API, nothing else. A JSON API
# blueprint adds its name here; blueprints nested in one of these are API too.
API_BLUEPRINTS = frozenset({"rules_api", "projects_api"})
BEARER_REFUSED = ("API tokens are accepted only by Cairn's JSON API. Sign in with a browser to use this page, "
                  "or send the token to an API route.")
# Days a new token lives ("" = until revoked).
TOKEN_LIFETIMES = {"7": "7 days", "30": "30 days", "90": "90 days", "365": "1 year", "": "No expiry"}
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenError(ValueError):
    pass


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, user: User, name: str, scopes: list[str] | None = None,
                     lifetime_days: str | int | None = "90") -> tuple[ApiToken, str]:
    name = (name or "").strip()
    if not name:
        raise TokenError("Name the token (e.g. the script that uses it).")
    if len(name) > 100:
        raise TokenError("Token names are at most 100 characters.")
    chosen = [s for s in API_TOKEN_SCOPES if s in (scopes if scopes is not None else ["read"])]
    if not chosen:
        raise TokenError("Choose what the token may do: read, write or both.")
    lifetime = "" if lifetime_days in (None, "") else str(lifetime_days)
    if lifetime not in TOKEN_LIFETIMES:
        raise TokenError("Choose one of the listed lifetimes.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=_digest(token), prefix=token[:12], scopes=" ".join(chosen),
                   expires_at=utcnow() + timedelta(days=int(lifetime)) if lifetime else None)
    db.session.add(row)
    db.session.commit()
    return row, token


def api_token_revoke(*, user: User, token_id: int) -> ApiToken | None:
    row = db.session.scalars(sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)).first()
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoke_reason = "revoked_by_user"
        db.session.commit()
    return row


def api_tokens_revoke_all(*, user: User, reason: str) -> int:
    """Revoke every live token of `user` (no commit: part of the caller's change)."""
    result = db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                                .values(revoked_at=utcnow(), revoke_reason=reason[:50])
                                .execution_options(synchronize_session=False))
    return result.rowcount or 0


def api_tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())))


def api_token_authenticate(token: str) -> ApiToken | None:
    """The live token row (unrevoked, unexpired, of an active user of an active organization), or None.

    Records when it was last used (at most one write a minute per token).
    """
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.scalars(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                       ApiToken.revoked_at.is_(None))).first()
    if row is None or row.is_expired or not row.user.is_active or not row.user.organization.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(seconds=60):
        row.last_used_at = now
        db.session.commit()
    return row


def api_token_user(token: str) -> User | None:
    row = api_token_authenticate(token)
    return row.user if row is not None else None


def has_bearer_header(req=None) -> bool:
    """An `Authorization: Bearer ...` header (the scheme is case-insensitive, RFC 7235)."""
    scheme = (req or request).headers.get("Authorization", "").lstrip().split(" ", 1)[0]
    return scheme.lower() == "bearer"


def _bearer_value(req) -> str:
    return req.headers.get("Authorization", "").strip()[len("bearer"):].strip()


def is_api_request(req=None) -> bool:
    """True when the matched route belongs to a JSON API blueprint (or a blueprint nested in one)."""
    req = req or request
    return any(name in API_BLUEPRINTS for name in getattr(req, "blueprints", ()) or ())


def is_bearer_request() -> bool:
    """True when this request was authenticated by an API token (CSRF doesn't apply: no cookie)."""
    return bool(g.get("bearer_authenticated"))


def bearer_scope_refusal() -> str | None:
    """Why this token may not make this request (a message for a 403), or None."""
    row = g.get("api_token")
    if row is None:
        return None
    needed = "read" if request.method in READ_METHODS else "write"
    if needed not in row.scope_names:
        return f"This token has no {needed} scope. Create a token with {needed} access on the preferences page."
    return None


@login_manager.request_loader
def load_user_from_request(req):
    """Bearer tokens authenticate the JSON API only; elsewhere the header is ignored (anonymous)."""
    if not has_bearer_header(req) or not is_api_request(req):
        return None
    row = api_token_authenticate(_bearer_value(req))
    if row is None:
        return None
    g.bearer_authenticated = True
    g.api_token = row
    return row.user


class BearerAwareSessionInterface(SecureCookieSessionInterface):
    """The cookie session, except that a request carrying a bearer token never gets a cookie:
    a token must not turn into a browser session (nor into the CSRF token a session holds)."""

    def save_session(self, app, session, response):
        if has_bearer_header():
            return None
        return super().save_session(app, session, response)


def refuse_bearer_outside_api():
    """A bearer request to anything but the JSON API: 401 with a JSON reason, before any other hook
    (session loading, usage logging) runs. The token itself isn't even looked up.

    A URL that no route matches (404) or a method its route lacks (405), inside the JSON API's
    URL space, is answered by the API's JSON error: a script that mistyped an id learns that,
    not that tokens are refused. Anywhere else the refusal stands."""
    if not has_bearer_header() or is_api_request():
        return None
    if request.routing_exception is not None and _in_api_url_space(request.path):
        return None
    response = jsonify({"error": BEARER_REFUSED})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="cairn-api", error="invalid_request"'
    return response


def _in_api_url_space(path: str) -> bool:
    """True for /api/... and for paths under the fixed part of an API blueprint's routes
    (`/generations/` from `/generations/<int:generation_id>/`): taken from the URL map, per app."""
    from flask import current_app

    prefixes = current_app.extensions.get("cairn_api_url_prefixes")
    if prefixes is None:
        prefixes = {"/api/"}
        for rule in current_app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] in API_BLUEPRINTS:
                fixed = rule.rule.split("<", 1)[0]
                prefixes.add(fixed[: fixed.rfind("/") + 1] if "<" in rule.rule else fixed)
        prefixes.discard("/")
        current_app.extensions["cairn_api_url_prefixes"] = prefixes = tuple(sorted(prefixes))
    return path.startswith(prefixes)


def _strip_cookies_from_bearer_responses(response):
    """No response to a bearer request sets a cookie (session, remember-me or any other)."""
    if has_bearer_header():
        response.headers.remove("Set-Cookie")
    return response


@bp.record_once
def _install_session_interface(state) -> None:
    app = state.app
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = BearerAwareSessionInterface()
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_bearer_outside_api)
    app.after_request(_strip_cookies_from_bearer_responses)


def _refuse_token_management() -> None:
    """Belt and braces: these views are outside the API, so a token can't reach them anyway."""
    if is_bearer_request() or has_bearer_header():
        abort(403)


@bp.route("/preferences/api-tokens", methods=["POST"])
@login_required
def api_token_new():
    _refuse_token_management()
    try:
        row, token = api_token_create(user=current_user, name=request.form.get("name", ""),
                                      scopes=request.form.getlist("scopes"),
                                      lifetime_days=request.form.get("lifetime_days", "90"))
    except TokenError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.preferences") + "#api-tokens")
    flash("Token created. Copy it now: it won't be shown again.", "success")
    return render_template("accounts/api_token_created.html", row=row, token=token)


@bp.route("/preferences/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def api_token_revoke_view(token_id: int):
    _refuse_token_management()
    row = api_token_revoke(user=current_user, token_id=token_id)
    if row is None:
        abort(404)
    flash(f"Token {row.name} revoked.", "success")
    return redirect(url_for("accounts.preferences") + "#api-tokens")


@bp.app_context_processor
def inject_api_tokens():
    return {"api_tokens_of": api_tokens_of, "api_token_scopes": API_TOKEN_SCOPES,
            "api_token_lifetimes": TOKEN_LIFETIMES}

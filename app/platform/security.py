"""Security headers on every response (fragments and error pages too), safe redirects."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request

# htmx 2 runs under this CSP: no inline scripts or styles (its indicator CSS is
# switched off in the htmx-config meta tag and shipped in app.css), no eval.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def is_safe_redirect(target: str | None) -> bool:
    """Only same-site relative paths: `/tickets`, never `//evil.com`, `https://...` or `/\\evil`.

    Browsers treat a backslash like a slash and drop tabs and newlines from
    URLs (`/\\t/evil.com` becomes `//evil.com`), so any backslash, whitespace or
    control character makes a target unsafe.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def init_app(app: Flask) -> None:
    from app.config import is_development

    # Cookies are Secure unless this is development or a test run, or the operator said otherwise.
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = not (app.testing or app.debug or is_development())
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if app.config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # The remember-me cookie is a long-lived credential: never less protected than the session cookie.
    app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE")
                                                or app.config.get("REMEMBER_COOKIE_SECURE"))
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")

    @app.after_request
    def set_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static":
            # Pages carry tenant data: never cache them in shared caches.
            headers.setdefault("Cache-Control", "no-store")
        return response

"""Jinja filters: dates in the user's preferred format, sizes and counts.

Values are stored in UTC; they are shown in the user's time zone
(platform.timezones: preference, else the organization's default, else UTC) with
the user's date format (ISO 2026-11-22, US 11/22/2026, EU 22.11.2026) and the
zone's abbreviation (PST, +14).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from flask import Flask, g, has_request_context
from flask_login import current_user
from markupsafe import Markup, escape

from app.platform.timezones import local

DATE_PATTERNS = {"iso": "%Y-%m-%d", "us": "%m/%d/%Y", "eu": "%d.%m.%Y"}
TIME_PATTERNS = {"iso": "%H:%M", "us": "%I:%M %p", "eu": "%H:%M"}


def _display_preferences() -> tuple[str, bool]:
    """(date format, relative times on) of the signed-in user, read once per request.

    A list page formats a timestamp per row; going through `current_user` for each
    one cost more than the formatting.
    """
    if not has_request_context():  # emails rendered by jobs
        return "iso", False
    cached = g.get("display_preferences")
    if cached is None:
        prefs = current_user.preferences if current_user and current_user.is_authenticated else None
        cached = ((prefs.preferred_date_format or "iso") if prefs is not None else "iso",
                  prefs is not None and "relative_times" in (prefs.enabled_features or []))
        g.display_preferences = cached
    return cached


def _format_key() -> str:
    return _display_preferences()[0]


def format_date(value: date | datetime | None, fmt: str | None = None) -> str:
    if value is None:
        return "\u2014"
    if isinstance(value, datetime):
        value = local(value)
    return value.strftime(DATE_PATTERNS[fmt or _format_key()])


def format_datetime(value: datetime | None, fmt: str | None = None) -> str:
    if value is None:
        return "\u2014"
    key = fmt or _format_key()
    value = local(value)
    return f"{value.strftime(DATE_PATTERNS[key])} {value.strftime(TIME_PATTERNS[key])} {value.strftime('%Z')}"


def relative_time(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    now = now or datetime.now(timezone.utc)
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    seconds = int((now - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"


def timestamp_html(value: datetime | None) -> Markup:
    """A <time> element: relative text when the user enabled it, the exact time otherwise."""
    if value is None:
        return Markup("\u2014")
    key, relative = _display_preferences()
    exact = format_datetime(value, key)
    iso = value.isoformat()
    if relative:
        # Bandit B704 reviewed (here and below): every interpolated value is escaped; the markup is this function's own.
        return Markup(f'<time datetime="{escape(iso)}" title="{escape(exact)}">{escape(relative_time(value))}</time>')  # nosec B704
    return Markup(f'<time datetime="{escape(iso)}">{escape(exact)}</time>')  # nosec B704


def filesize(num: int | None) -> str:
    if num is None:
        return "\u2014"
    size = float(num)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def thousands(num) -> str:
    return "\u2014" if num is None else f"{int(num):,}"


def short_id(value) -> str:
    """A row id as people read it: an integer as is, a UUIDv7 by its last 8 hex digits.

    (Its first digits are its timestamp, alike for rows made close together; the last ones are random.)
    """
    if isinstance(value, uuid.UUID):
        return value.hex[-8:]
    return "" if value is None else str(value)


def init_app(app: Flask) -> None:
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(timestamp_html, "timestamp")
    app.add_template_filter(relative_time, "relative")
    app.add_template_filter(filesize, "filesize")
    app.add_template_filter(thousands, "thousands")
    app.add_template_filter(short_id, "short_id")

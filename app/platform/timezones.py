"""Time zones: which zone a user sees times in, and which day is "today" for them.

Times are stored in UTC. A user's zone is their preference (an IANA name checked
against zoneinfo), else their organization's default (`settings["time_zone"]`),
else UTC. Read once per request (list pages format a time per row).
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo, available_timezones

from flask import g, has_request_context
from flask_login import current_user

UTC = ZoneInfo("UTC")
_ZONES: frozenset[str] | None = None


def zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def zone_choices() -> list[str]:
    """Zone names for a select: UTC first, then the rest in alphabetical order."""
    return ["UTC"] + sorted(z for z in zone_names() if z != "UTC" and "/" in z and not z.startswith(("Etc/", "SystemV/")))


def is_zone(name: str | None) -> bool:
    return bool(name) and name in zone_names()


def zone_name_of(user) -> str:
    """The zone `user` sees times in (preference, organization default, UTC)."""
    prefs = getattr(user, "preferences", None)
    name = getattr(prefs, "timezone", "") if prefs is not None else ""
    if is_zone(name):
        return name
    organization = getattr(user, "organization", None)
    default = organization.setting("time_zone") if organization is not None else None
    return default if is_zone(default) else "UTC"


def current_zone() -> ZoneInfo:
    """The signed-in user's zone (UTC outside a request or signed out)."""
    if not has_request_context():
        return UTC
    zone = g.get("display_zone")
    if zone is None:
        user = current_user if current_user and current_user.is_authenticated else None
        zone = ZoneInfo(zone_name_of(user)) if user is not None else UTC
        g.display_zone = zone
    return zone


def local(value: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A stored (UTC, or naive meaning UTC) time in `zone` (default: the user's)."""
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value.astimezone(zone or current_zone())


def local_today(zone: ZoneInfo | None = None) -> date:
    return datetime.now(timezone.utc).astimezone(zone or current_zone()).date()


def zone_label(zone: ZoneInfo | None = None) -> str:
    """'America/Los_Angeles' for the footer and hints."""
    return str(zone or current_zone())


def day_bounds_utc(start: date | None, end: date | None,
                   zone: ZoneInfo | None = None) -> tuple[datetime | None, datetime | None]:
    """The UTC instants of the start of day `start` and the end of day `end`, both in `zone`."""
    zone = zone or current_zone()
    lo = datetime.combine(start, time.min, tzinfo=zone).astimezone(timezone.utc) if start else None
    hi = (datetime.combine(end, time.max.replace(microsecond=0), tzinfo=zone).astimezone(timezone.utc)
          if end else None)
    return lo, hi

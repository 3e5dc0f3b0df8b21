"""Cron patterns in a time zone: validation, next run (stored UTC) and words.

croniter computes in the schedule's zone (ZoneInfo), so "9:00 on weekdays" stays
9:00 local across DST. When clocks go back a wall time happens twice: the
second one is skipped (a daily 01:30 export runs once that night). When clocks
go forward a missing wall time runs at the first valid minute after it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter


class CronError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_timezone(name: str) -> ZoneInfo:
    try:
        if name not in _zones():
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"Unknown time zone {name!r}: use a name like Europe/Paris or UTC.", "timezone") from exc


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = set(available_timezones()) | {"UTC"}
    return _ZONES


def timezone_choices() -> list[str]:
    return sorted(_zones())


def check_pattern(pattern: str) -> str:
    pattern = " ".join((pattern or "").split())
    if len(pattern.split(" ")) != 5 or not croniter.is_valid(pattern):
        raise CronError("Enter a cron pattern of five fields: minute hour day-of-month month day-of-week, "
                        "for example 0 9 * * 1-5.", "cron_pattern")
    return pattern


def next_run(pattern: str, tz: str, after: datetime) -> datetime:
    """The first run strictly after `after` (UTC in, UTC out), computed in `tz`."""
    zone = check_timezone(tz)
    iterator = croniter(check_pattern(pattern), after.astimezone(zone))
    for _ in range(4):
        candidate: datetime = iterator.get_next(datetime)
        if candidate.fold == 1 and candidate.replace(fold=0).utcoffset() != candidate.utcoffset():
            continue  # the repeated hour after clocks went back: already ran at this wall time
        return candidate.astimezone(timezone.utc)
    raise CronError("This pattern never runs.", "cron_pattern")  # pragma: no cover


def describe(pattern: str, tz: str) -> str:
    try:
        from cron_descriptor import get_description

        words = get_description(pattern)
    except Exception:  # cron-descriptor renders, it doesn't validate: fall back to the pattern
        words = pattern
    return f"{words} ({tz})"

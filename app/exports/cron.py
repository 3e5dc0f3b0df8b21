"""Cron patterns in a time zone: validation, next run (stored UTC) and words.

Runs follow Debian cron's rules for daylight-saving changes (cronsim, a test
dependency, checks them independently):

- A pattern whose minute or hour field starts with `*` (every hour, every 15
  minutes, `0 */2 * * *`) runs on the clock as it is: when clocks go back the
  repeated hour runs again, when clocks go forward the skipped wall times don't
  run at all (no catching up, no double run just after the change).
- A fixed wall time (daily 02:30) runs once: the first of two repeated times
  when clocks go back, and right after the change when clocks go forward past it.

croniter finds the matching wall-clock times (on naive datetimes); this module
decides which real instants they are.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadDateError, croniter

# Wall-clock candidates are scanned this far around the start and past the first hit: longer than any DST shift.
_DST_MARGIN = timedelta(hours=3)


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


# croniter's Jenkins-style extensions: "R" picks a random value each time a next run is computed and "H" a hash
# of an id Cairn never passes, so the same schedule would run at a different time after every run (and its
# 15-minute spacing, measured on one draw, would not hold). Debian cron has neither.
_RANDOM_OR_HASHED = re.compile(r"(?:^|,)[RH](?:[(/,]|$)", re.IGNORECASE)

NEVER_RUNS = "This pattern never runs (no month has that day): check the day-of-month and month fields."


# The five fields, in order, and what each accepts (Debian cron's ranges; croniter reads the same).
FIELD_RANGES = (("minute", "0-59"), ("hour", "0-23"), ("day-of-month", "1-31"), ("month", "1-12 or JAN-DEC"),
                ("day-of-week", "0-7 or SUN-SAT"))


def check_pattern(pattern: str) -> str:
    """The pattern, whitespace normalised; CronError for a malformed one or one that never fires."""
    pattern = " ".join((pattern or "").split())
    fields = pattern.split(" ")
    if len(fields) == 5:
        for position, (value, (name, allowed)) in enumerate(zip(fields, FIELD_RANGES)):
            probe = ["*"] * 5  # this field alone, so the message can name it
            probe[position] = value
            if _RANDOM_OR_HASHED.search(value) or not croniter.is_valid(" ".join(probe)):
                raise CronError(f"The {name} field \u201c{value}\u201d is not valid: use {allowed}, "
                                "with * for any, commas for lists, - for ranges and / for steps.", "cron_pattern")
    if len(fields) != 5 or not croniter.is_valid(pattern):
        raise CronError("Enter a cron pattern of five fields: minute hour day-of-month month day-of-week, "
                        "for example 0 9 * * 1-5.", "cron_pattern")
    try:
        _wall_times(pattern, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterBadDateError, ValueError, OverflowError):
        raise CronError(NEVER_RUNS, "cron_pattern") from None
    return pattern


def _wall_times(pattern: str, start: datetime) -> croniter:
    """Matching naive wall-clock times after `start`. Day of month and day of week combine as Debian cron
    does: AND when either field starts with `*`, OR otherwise."""
    fields = pattern.split(" ")
    day_or = not (fields[2].startswith("*") or fields[4].startswith("*"))
    return croniter(pattern, start, day_or=day_or, max_years_between_matches=30)


def _is_wildcard(pattern: str) -> bool:
    minute, hour = pattern.split(" ")[:2]
    return minute.startswith("*") or hour.startswith("*")


def _real(wall: datetime, zone: ZoneInfo, fold: int) -> datetime | None:
    """The instant `wall` names in `zone` with this fold, or None if that wall time does not exist."""
    local = wall.replace(tzinfo=zone, fold=fold)
    back = local.astimezone(timezone.utc).astimezone(zone)
    return local if back.replace(tzinfo=None) == wall else None


def _instants(wall: datetime, zone: ZoneInfo, wildcard: bool) -> list[datetime]:
    """The real instants a matching wall time runs at."""
    first, second = _real(wall, zone, 0), _real(wall, zone, 1)
    if first is not None and second is not None and second.utcoffset() != first.utcoffset():
        return [first, second] if wildcard else [first]  # repeated: both on the clock; a fixed time once
    if first is not None:
        return [first]
    if wildcard:
        return []  # in the gap: the clock never shows it
    shifted = wall  # a fixed time in the gap runs at the first wall minute that exists, just after the change
    while (first := _real(shifted, zone, 0)) is None:
        shifted += timedelta(minutes=1)
    return [first]


def next_run(pattern: str, tz: str, after: datetime) -> datetime:
    """The first run strictly after `after` (UTC in, UTC out), computed in `tz`."""
    zone = check_timezone(tz)
    pattern = check_pattern(pattern)
    after = after.astimezone(timezone.utc)
    wildcard = _is_wildcard(pattern)
    wall_after = after.astimezone(zone).replace(tzinfo=None)
    try:
        wall = _wall_times(pattern, wall_after).get_next(datetime)
        found = _instants(wall, zone, wildcard)
        if found and _steady(zone, after - _DST_MARGIN, found[0] + _DST_MARGIN):
            return found[0].astimezone(timezone.utc)  # no clock change nearby: the next wall time is the run
        return _next_run_near_change(pattern, zone, wildcard, after, wall_after)
    except CroniterBadDateError:
        raise CronError(NEVER_RUNS, "cron_pattern") from None


def _steady(zone: ZoneInfo, start: datetime, end: datetime) -> bool:
    return start.astimezone(zone).utcoffset() == end.astimezone(zone).utcoffset()


def _next_run_near_change(pattern: str, zone: ZoneInfo, wildcard: bool, after: datetime,
                          wall_after: datetime) -> datetime:
    """Around a clock change a later wall time can be an earlier instant: scan wall times from before `after`
    to past the first run found, and keep the earliest instant after `after`."""
    walls = _wall_times(pattern, wall_after - _DST_MARGIN)
    best: datetime | None = None
    stop: datetime | None = None
    while True:
        wall: datetime = walls.get_next(datetime)
        if stop is not None and wall > stop:
            return best
        for instant in _instants(wall, zone, wildcard):
            moment = instant.astimezone(timezone.utc)
            if moment > after and (best is None or moment < best):
                best, stop = moment, stop or wall + _DST_MARGIN


def shortest_gap(pattern: str, tz: str, start: datetime, runs: int = 120) -> timedelta:
    """The shortest time between two consecutive runs among the next `runs` (enough to see every minute and
    hour combination of a pattern that repeats daily or more often; a sparser pattern has no short gaps)."""
    gaps, previous = [], next_run(pattern, tz, start)
    for _ in range(runs):
        current = next_run(pattern, tz, previous)
        gaps.append(current - previous)
        previous = current
    return min(gaps)


def describe(pattern: str, tz: str) -> str:
    try:
        from cron_descriptor import get_description

        words = get_description(pattern)
    except Exception:  # cron-descriptor renders, it doesn't validate: fall back to the pattern
        words = pattern
    return f"{words} ({tz})"

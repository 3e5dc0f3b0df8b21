"""SLA clock arithmetic: deadlines in wall-clock time or in a policy's business hours.

All inputs and outputs are aware UTC datetimes. Business windows are computed
in the policy's time zone per calendar day (so DST days have the right length)
and compared in UTC.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

MAX_DAYS = 3700  # ten years of calendar: a deadline further out is a configuration error


def _uses_calendar(policy) -> bool:
    return bool(policy is not None and policy.business_hours_only and policy.business_days
                and policy.business_start and policy.business_end and policy.business_start < policy.business_end)


def _window(policy, day: date) -> tuple[datetime, datetime] | None:
    if day.weekday() not in {int(d) for d in policy.business_days}:
        return None
    tz = ZoneInfo(policy.timezone or "UTC")
    start = datetime.combine(day, policy.business_start, tzinfo=tz).astimezone(timezone.utc)
    end = datetime.combine(day, policy.business_end, tzinfo=tz).astimezone(timezone.utc)
    return start, end


def add_business_seconds(start: datetime, seconds: float, policy) -> datetime:
    """The moment `seconds` of counted time after `start`."""
    if not _uses_calendar(policy):
        return start + timedelta(seconds=seconds)
    tz = ZoneInfo(policy.timezone or "UTC")
    current = start
    remaining = float(seconds)
    day = start.astimezone(tz).date() - timedelta(days=1)  # a window may start the previous local day in UTC terms
    for _ in range(MAX_DAYS):
        window = _window(policy, day)
        day += timedelta(days=1)
        if window is None:
            continue
        window_start, window_end = window
        if current >= window_end:
            continue
        current = max(current, window_start)
        available = (window_end - current).total_seconds()
        if remaining <= available:
            return current + timedelta(seconds=remaining)
        remaining -= available
        current = window_end
    raise ValueError("The SLA calendar has no business hours within ten years.")


def business_seconds_between(start: datetime, end: datetime, policy) -> int:
    """Counted seconds between two moments (0 if end is before start)."""
    if end <= start:
        return 0
    if not _uses_calendar(policy):
        return int((end - start).total_seconds())
    tz = ZoneInfo(policy.timezone or "UTC")
    total = 0.0
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        window = _window(policy, day)
        day += timedelta(days=1)
        if window is None:
            continue
        overlap = (min(end, window[1]) - max(start, window[0])).total_seconds()
        if overlap > 0:
            total += overlap
    return int(total)


def compute_due(ticket, policy) -> tuple[datetime | None, datetime | None]:
    """(first_response_due, resolution_due) for the ticket's priority, shifted by its paused time."""
    if policy is None:
        return None, None
    start = ticket.created_at
    paused = ticket.sla_paused_seconds or 0
    first = add_business_seconds(start, policy.first_response_minutes(ticket.priority) * 60 + paused, policy)
    resolution = add_business_seconds(start, policy.resolution_minutes(ticket.priority) * 60 + paused, policy)
    return first, resolution

"""Schedules' next runs agree with cronsim (an independent cron implementation that follows Debian cron's DST
rules) for many patterns across four clock changes in each of two zones, northern and southern hemisphere."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from app.exports.cron import CronError, check_pattern, next_run

PATTERNS = [
    "0 * * * *",        # every hour: both repeated hours run, the skipped hour does not
    "*/15 * * * *",
    "0 */2 * * *",      # must not run at 03:00 and again at 04:00 on spring-forward
    "5 */3 * * *",
    "*/30 2 * * *",     # minute wildcard in the changing hour
    "30 2 * * *",       # fixed wall time in the gap: runs just after the change
    "30 1 * * *",
    "0 2 * * *",
    "15 3 * * *",
    "45 1,2,3 * * *",
    "0 1-3 * * *",
    "0 0 * * *",
    "0 9 * * 1-5",
    "30 2 * * 0",
]

# Two zones, four clock changes each (2026 and 2027, both directions).
CHANGES = {
    "Europe/Berlin": ["2026-03-29T01:00", "2026-10-25T01:00", "2027-03-28T01:00", "2027-10-31T01:00"],
    "Australia/Sydney": ["2026-04-04T16:00", "2026-10-03T16:00", "2027-04-03T16:00", "2027-10-02T16:00"],
}


def _chain_ours(pattern: str, zone: str, start: datetime, count: int) -> list[datetime]:
    runs, moment = [], start
    for _ in range(count):
        moment = next_run(pattern, zone, moment)
        runs.append(moment)
    return runs


def _chain_cronsim(pattern: str, zone: str, start: datetime, count: int) -> list[datetime]:
    iterator = CronSim(pattern, start.astimezone(ZoneInfo(zone)))
    return [next(iterator).astimezone(timezone.utc) for _ in range(count)]


@pytest.mark.parametrize("zone", sorted(CHANGES))
@pytest.mark.parametrize("pattern", PATTERNS)
def test_next_runs_match_cronsim_across_dst_changes(pattern, zone):
    for change in CHANGES[zone]:
        at = datetime.fromisoformat(change).replace(tzinfo=timezone.utc)  # the change, in UTC
        start = at - timedelta(hours=5, minutes=7)
        count = 30 if pattern.startswith("*/15") else 12
        ours = _chain_ours(pattern, zone, start, count)
        theirs = _chain_cronsim(pattern, zone, start, count)
        assert ours == theirs, f"{pattern!r} in {zone} around {change}"


def test_the_changes_above_are_real_clock_changes():
    for zone, changes in CHANGES.items():
        for change in changes:
            at = datetime.fromisoformat(change).replace(tzinfo=timezone.utc)
            before = (at - timedelta(minutes=1)).astimezone(ZoneInfo(zone)).utcoffset()
            assert before != (at + timedelta(minutes=1)).astimezone(ZoneInfo(zone)).utcoffset(), (zone, change)


def test_hourly_export_runs_in_both_repeated_hours_and_daily_0230_once():
    start = datetime(2026, 10, 24, 22, 30, tzinfo=timezone.utc)  # 00:30 CEST
    hourly = _chain_ours("0 * * * *", "Europe/Berlin", start, 4)
    assert [r.strftime("%H:%M") for r in hourly] == ["23:00", "00:00", "01:00", "02:00"]  # no 2-hour gap
    daily = _chain_ours("30 2 * * *", "Europe/Berlin", start, 2)
    assert daily == [datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc),  # 02:30 CEST, not again at 02:30 CET
                     datetime(2026, 10, 26, 1, 30, tzinfo=timezone.utc)]


@pytest.mark.parametrize("pattern", ["0 12 31 4 *", "0 0 30 2 *", "0 0 31 2,4,6 *"])
def test_a_pattern_that_never_fires_is_a_form_error(pattern):
    with pytest.raises(CronError) as raised:
        check_pattern(pattern)
    assert raised.value.field == "cron_pattern"
    assert "never runs" in str(raised.value)


@pytest.mark.parametrize("pattern", ["R R * * *", "r * * * *", "0 H * * *", "H(0-29)/15 * * * *", "0,R 9 * * *",
                                     "0 9 * * R"])
def test_random_and_hashed_fields_are_refused(pattern):
    # croniter draws "R" afresh on every next-run computation: the schedule would wander after each run
    with pytest.raises(CronError) as raised:
        check_pattern(pattern)
    assert raised.value.field == "cron_pattern"


@pytest.mark.parametrize("pattern", ["0 9 * MAR THU", "0 9 * * thu", "0 0 * mar,apr *"])
def test_names_holding_r_or_h_are_still_accepted(pattern):
    assert check_pattern(pattern) == pattern


@pytest.mark.parametrize("pattern, field, value", [("61 * * * *", "minute", "61"), ("0 24 * * *", "hour", "24"),
                                                   ("0 9 0 * *", "day-of-month", "0"), ("0 9 * 13 *", "month", "13"),
                                                   ("0 9 * * MON-XYZ", "day-of-week", "MON-XYZ")])
def test_a_field_out_of_its_range_is_named_in_the_message(pattern, field, value):
    with pytest.raises(CronError) as raised:
        check_pattern(pattern)
    assert f"The {field} field \u201c{value}\u201d is not valid" in str(raised.value)

"""Helpdesk reports over a period: SLA compliance, response and resolution times, volume per day, ratings,
by agent and by priority, with bar charts drawn on the server as SVG (no script).

Measured on the tickets opened in the period (compliance, times, ratings, the breakdowns) and on the
tickets opened or resolved on each day (the volume chart). The same per-ticket measurements are the
`ticket_report` dataset, so the exports area turns them into CSV, JSON, Excel or PDF.
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.platform.models import utcnow
from app.tickets.models import PRIORITIES, Ticket

MAX_DAYS = 366


@dataclass
class Group:
    """The figures of one slice of the period's tickets (all, one agent, one priority)."""

    label: str
    opened: int = 0
    resolved: int = 0
    first_response_minutes: list[float] = field(default_factory=list)
    resolution_minutes: list[float] = field(default_factory=list)
    first_on_time: int = 0
    first_judged: int = 0
    resolution_on_time: int = 0
    resolution_judged: int = 0
    ratings: list[int] = field(default_factory=list)

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def first_response_compliance(self) -> float | None:
        return self._share(self.first_on_time, self.first_judged)

    @property
    def resolution_compliance(self) -> float | None:
        return self._share(self.resolution_on_time, self.resolution_judged)

    @staticmethod
    def _median(values):
        return round(statistics.median(values), 1) if values else None

    @staticmethod
    def _p90(values):
        if not values:
            return None
        if len(values) == 1:
            return round(values[0], 1)
        return round(statistics.quantiles(values, n=10, method="inclusive")[8], 1)

    @property
    def first_response_median(self):
        return self._median(self.first_response_minutes)

    @property
    def first_response_p90(self):
        return self._p90(self.first_response_minutes)

    @property
    def resolution_median(self):
        return self._median(self.resolution_minutes)

    @property
    def resolution_p90(self):
        return self._p90(self.resolution_minutes)

    @property
    def rating_average(self):
        return round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None


@dataclass
class Report:
    start: date
    end: date
    overall: Group
    by_agent: list[Group]
    by_priority: list[Group]
    per_day: list[tuple[date, int, int]]  # day, opened, resolved
    rating_counts: dict[int, int]


def period(start: date | None, end: date | None, today: date | None = None) -> tuple[date, date]:
    """The period asked for, else the last 30 days; at most MAX_DAYS, start before end."""
    today = today or utcnow().date()
    end = end or today
    start = start or end - timedelta(days=29)
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
    return start, end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time.min, tzinfo=timezone.utc),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=timezone.utc))


def measurements(*, organization_id: int, start: date, end: date) -> sa.Select:
    """One row per live ticket opened in the period, with what the report measures."""
    lo, hi = _bounds(start, end)
    agent = sa.orm.aliased(User)
    return (sa.select(Ticket.ticket_number, Ticket.priority, Ticket.status, Ticket.created_at,
                      Ticket.first_responded_at, Ticket.first_response_due, Ticket.resolved_at,
                      Ticket.resolution_due, Ticket.customer_satisfaction_score, Ticket.sla_paused_seconds,
                      agent.full_name.label("agent_name"), agent.email.label("agent_email"))
            .outerjoin(agent, agent.id == Ticket.assigned_agent_id)
            .where(Ticket.organization_id == organization_id, Ticket.is_active.is_(True),
                   Ticket.created_at >= lo, Ticket.created_at < hi))


def _measure(group: Group, row, now: datetime) -> None:
    group.opened += 1
    if row.first_responded_at is not None:
        group.first_response_minutes.append((row.first_responded_at - row.created_at).total_seconds() / 60)
    if row.first_response_due is not None and (row.first_responded_at is not None or row.first_response_due < now):
        group.first_judged += 1
        group.first_on_time += row.first_responded_at is not None and row.first_responded_at <= row.first_response_due
    if row.resolved_at is not None:
        group.resolved += 1
        group.resolution_minutes.append((row.resolved_at - row.created_at).total_seconds() / 60)
    if row.resolution_due is not None and (row.resolved_at is not None or row.resolution_due < now):
        group.resolution_judged += 1
        group.resolution_on_time += row.resolved_at is not None and row.resolved_at <= row.resolution_due
    if row.customer_satisfaction_score:
        group.ratings.append(row.customer_satisfaction_score)


def report_for(*, organization_id: int, start: date, end: date, now: datetime | None = None) -> Report:
    now = now or utcnow()
    overall = Group("All tickets")
    agents: dict[str, Group] = {}
    priorities = {p: Group(p.title()) for p in PRIORITIES}
    opened_per_day: Counter = Counter()
    for row in db.session.execute(measurements(organization_id=organization_id, start=start, end=end)):
        _measure(overall, row, now)
        name = (row.agent_name or row.agent_email or "Unassigned") if row.agent_email else "Unassigned"
        _measure(agents.setdefault(name, Group(name)), row, now)
        _measure(priorities[row.priority], row, now)
        opened_per_day[row.created_at.date()] += 1
    lo, hi = _bounds(start, end)
    resolved_per_day: Counter = Counter(
        stamp.date() for stamp in db.session.scalars(sa.select(Ticket.resolved_at).where(
            Ticket.organization_id == organization_id, Ticket.is_active.is_(True),
            Ticket.resolved_at >= lo, Ticket.resolved_at < hi)))
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    ratings = Counter(overall.ratings)
    return Report(start=start, end=end, overall=overall,
                  by_agent=sorted(agents.values(), key=lambda g: (g.label == "Unassigned", g.label.lower())),
                  by_priority=[priorities[p] for p in reversed(PRIORITIES) if priorities[p].opened],
                  per_day=[(day, opened_per_day[day], resolved_per_day[day]) for day in days],
                  rating_counts={score: ratings.get(score, 0) for score in range(5, 0, -1)})


# --------------------------------------------------------------------------- charts
@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str
    series: str


def day_chart(per_day: list[tuple[date, int, int]], width: int = 720, height: int = 180) -> dict:
    """Paired bars per day (opened, resolved) scaled to the busiest day, for an inline <svg>."""
    top = max([max(o, r) for _d, o, r in per_day] + [1])
    slot = width / max(len(per_day), 1)
    bar = max(slot / 2 - 1, 1)
    bars = []
    for index, (day, opened, resolved) in enumerate(per_day):
        for offset, (value, series) in enumerate(((opened, "opened"), (resolved, "resolved"))):
            h = (height - 20) * value / top
            bars.append(Bar(x=index * slot + offset * bar, y=height - 20 - h, width=bar, height=h, value=value,
                            label=f"{day.isoformat()}: {value} {series}", series=series))
    ticks = [(index * slot, day.strftime("%d %b")) for index, (day, _o, _r) in enumerate(per_day)
             if index % max(1, len(per_day) // 8) == 0]
    return {"bars": bars, "width": width, "height": height, "top": top, "ticks": ticks}


def rating_chart(counts: dict[int, int], width: int = 300) -> list[dict]:
    top = max(list(counts.values()) + [1])
    return [{"score": score, "count": count, "width": width * count / top, "y": index * 22}
            for index, (score, count) in enumerate(counts.items())]

"""Time tracking and exports demo data for `flask seed-demo`, through `app.exports.services`:
a working week of time entries for the agent and the manager, and one export template shared
with the organization.

The week is the five working days up to the day the demo was created (the timesheet opens on
the current week). Each step looks for its result first (an entry by member, date, project and
task; the template by name), so running the loader again completes a run that stopped.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app.exports import services
from app.exports.models import ExportTemplate, TimeEntry
from app.extensions import db

# By member handle: the (project, task, duration, description) entries of each of the five working days.
WEEK = {
    "agent": (
        (("Helpdesk", "Ticket queue", "4h", "Login and billing tickets"),
         ("Customer onboarding", "Preparation", "2:30", "Walk-through for the new colleagues")),
        (("Helpdesk", "Ticket queue", "5h", ""), ("Naming rules rollout", "Storage accounts", "1.5h", "")),
        (("Helpdesk", "Ticket queue", "3h", "Password reset mails"),
         ("Customer onboarding", "Session", "2h", "Tickets and timesheets"),
         ("Knowledge base", "Articles", "1h", "Storage account names")),
        (("Helpdesk", "Ticket queue", "6h", ""), ("Team", "Weekly meeting", "45m", "")),
        (("Helpdesk", "Ticket queue", "4:30", "Refund and VAT follow-ups"),
         ("Naming rules rollout", "Resource groups", "2h", "")),
    ),
    "manager": (
        (("Team", "Planning", "2h", "Week plan and rota"), ("Helpdesk", "Escalations", "3h", "Double charge")),
        (("Exports", "Excel time-out", "4h", "Reproduced with 180k rows"), ("Team", "One-to-ones", "2h", "")),
        (("Helpdesk", "Escalations", "2:30", ""), ("Team", "Hiring", "3h", "Interviews")),
        (("Team", "Weekly meeting", "45m", ""), ("Exports", "Excel time-out", "3h", "Fix review")),
        (("Team", "Reporting", "2h", "Monthly helpdesk report"), ("Helpdesk", "SLA review", "1.5h", "")),
    ),
}
TEMPLATE = {
    "name": "Weekly timesheet", "description": "The team's time entries, one row per entry, for payroll.",
    "format": "excel", "dataset": "time_entries",
    "fields": ["date", "member", "project", "task", "hours", "description"],
    "headers": None, "default_filters": {}, "orientation": "landscape",
}
TEMPLATE_OWNER = "manager"


def working_week(day: date) -> list[date]:
    """The five working days up to and including `day` (the last five weekdays, oldest first)."""
    days: list[date] = []
    while len(days) < 5:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def load_demo(*, organization, users: dict) -> None:
    days = working_week(organization.created_at.date())
    for handle, week in WEEK.items():
        user = users[handle]
        for day, entries in zip(days, week):
            for project, task, duration, description in entries:
                exists = db.session.scalar(sa.select(TimeEntry.id).where(
                    TimeEntry.user_id == user.id, TimeEntry.date == day, TimeEntry.project == project,
                    TimeEntry.task == task))
                if exists is None:
                    services.time_entry_create(user=user, entry_date=day, project=project, task=task,
                                               duration=duration, description=description)
    owner = users[TEMPLATE_OWNER]
    if db.session.scalar(sa.select(ExportTemplate.id).where(ExportTemplate.organization_id == organization.id,
                                                            ExportTemplate.name == TEMPLATE["name"])) is None:
        services.template_create(actor=services.Actor(user=owner), is_public=True, **TEMPLATE)

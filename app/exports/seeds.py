"""The built-in export templates (seed 004's data migration).

Standalone on purpose: migration 0005 imports this module, so it must not
import the app or its models (they change; the migration must not).
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

DEFAULT_TEMPLATES = [
    {"name": "Basic Time Tracking Export", "format": "csv", "dataset": "time_entries",
     "description": "Date, project, task, duration and description of every visible time entry.",
     "field_configuration": {"fields": ["date", "project", "task", "duration", "description"],
                             "headers": ["Date", "Project", "Task", "Duration", "Description"]},
     "layout_settings": {"orientation": "portrait"}},
    {"name": "Team Timesheet (PDF)", "format": "pdf", "dataset": "time_entries",
     "description": "A landscape PDF report of the team's time, one row per entry.",
     "field_configuration": {"fields": ["date", "member", "project", "task", "hours", "description"],
                             "headers": ["Date", "Member", "Project", "Task", "Hours", "Description"]},
     "layout_settings": {"orientation": "landscape"}},
    {"name": "Timesheet Workbook (Excel)", "format": "excel", "dataset": "time_entries",
     "description": "Every visible time entry with hours as numbers, ready for pivot tables.",
     "field_configuration": {"fields": ["date", "member", "email", "project", "task", "duration", "hours"],
                             "headers": ["Date", "Member", "Email", "Project", "Task", "Minutes", "Hours"]},
     "layout_settings": {"orientation": "portrait"}},
]


def seed_default_templates(connection) -> int:
    """Insert the built-in templates that are missing. Used by migration 0005 and by tests.

    Uses an inline table definition, not the ORM model, so the migration keeps
    working however the model changes later.
    """
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    # Migration 0005 made integer keys; 0023 made them UUIDv7s, given by the app (the database has no default).
    id_type = next(c["type"] for c in sa.inspect(connection).get_columns("export_templates") if c["name"] == "id")
    uuid_keys = not isinstance(id_type, sa.Integer)
    table = sa.table(
        "export_templates",
        sa.column("id", sa.Uuid if uuid_keys else sa.Integer), sa.column("organization_id", sa.Integer), sa.column("user_id", sa.Integer),
        sa.column("name", sa.String), sa.column("description", sa.Text), sa.column("format", sa.String),
        sa.column("dataset", sa.String), sa.column("field_configuration", json),
        sa.column("default_filters", json), sa.column("layout_settings", json),
        sa.column("is_public", sa.Boolean), sa.column("usage_count", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    existing = set(connection.execute(sa.select(table.c.name).where(table.c.organization_id.is_(None))).scalars())
    now = datetime.now(timezone.utc)
    rows = [{**t, "organization_id": None, "user_id": None, "default_filters": {}, "is_public": True,
             "usage_count": 0, "created_at": now, "updated_at": now}
            for t in DEFAULT_TEMPLATES if t["name"] not in existing]
    if rows and uuid_keys:
        from app.platform.models import uuid7  # only past migration 0024, where the app's models match

        rows = [{**row, "id": uuid7()} for row in rows]
    if rows:
        connection.execute(table.insert(), rows)
    return len(rows)

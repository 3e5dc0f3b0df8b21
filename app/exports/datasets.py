"""The registry of exportable datasets.

A dataset names its fields (label and type), the filters it accepts, and builds
a SQLAlchemy Core select limited to the user's organization AND to what the
user's role can see in the UI. Exports, previews and schedules all go through
`build_select`, so an export never holds a row its user could not see.

Registering another area's data takes a few lines:

    register_dataset(Dataset(
        name="tickets", label="Tickets", date_column="created_at",
        fields=[Field("subject", "Subject"), Field("created_at", "Created", "datetime")],
        build=lambda user, f: sa.select(...).where(Ticket.organization_id == user.organization_id, ...),
        allowed=lambda user: True,
    ))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.platform import textsearch
from app.platform.timezones import zone_name_of

FIELD_TYPES = ("text", "number", "date", "datetime")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str = "text"
    decimals: int | None = None  # numbers written with this many decimals in every format (hours: 2)


@dataclass(frozen=True)
class Filter:
    name: str
    label: str
    # (user, value) -> SQL condition
    condition: Callable[[Any, str], Any]


@dataclass
class Dataset:
    name: str
    label: str
    fields: list[Field]
    # build(user) -> Select of labelled columns (one per field name), already limited by tenant and role
    build: Callable[[Any], sa.Select]
    date_column: str | None = None  # a field name the date range applies to
    filters: list[Filter] = field(default_factory=list)
    allowed: Callable[[Any], bool] = lambda user: True
    order_by: tuple[str, ...] = ()
    # Values the exports pages store in the request's filters when it is made (e.g. the current workspace):
    # stored_filters(user) -> dict, read while a request context exists; the job and schedules reuse them.
    stored_filters: Callable[[Any], dict] | None = None
    # build(user, filters) instead of build(user): for datasets that read stored_filters (no request in the worker)
    build_takes_filters: bool = False
    # The fields a new export starts with (the first five when not set)
    default_fields: tuple[str, ...] = ()

    def initial_fields(self) -> list[str]:
        return list(self.default_fields) or [f.name for f in self.fields[:5]]

    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def headers(self, names: list[str]) -> list[str]:
        fields = self.field_map()
        return [fields[n].label for n in names]


_datasets: dict[str, Dataset] = {}


def register_dataset(dataset: Dataset) -> Dataset:
    _datasets[dataset.name] = dataset
    return dataset


def get_dataset(name: str) -> Dataset | None:
    return _datasets.get(name)


def datasets_for(user) -> list[Dataset]:
    return [d for d in _datasets.values() if d.allowed(user)]


class DatasetError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def build_select(dataset: Dataset, user, *, fields: list[str], filters: dict | None = None,
                 date_start: datetime | None = None, date_end: datetime | None = None) -> sa.Select:
    """The rows of `dataset` this user may see, with just `fields`, in a stable order."""
    if not dataset.allowed(user):
        raise DatasetError("Your role can't export this data.", "dataset")
    known = dataset.field_map()
    unknown = [f for f in fields if f not in known]
    if unknown or not fields:
        raise DatasetError("Choose at least one of the listed fields.", "selected_fields")
    rows = dataset.build(user, dict(filters or {})) if dataset.build_takes_filters else dataset.build(user)
    base = rows.subquery("rows")
    stmt = sa.select(*[base.c[name] for name in fields])
    for flt in dataset.filters:
        value = (filters or {}).get(flt.name)
        if value not in (None, ""):
            stmt = stmt.where(flt.condition(base, value))
    if dataset.date_column:
        column = base.c[dataset.date_column]
        zone = ZoneInfo(zone_name_of(user))
        if date_start is not None:
            stmt = stmt.where(column >= _bound(known[dataset.date_column], date_start, zone))
        if date_end is not None:
            stmt = stmt.where(column <= _bound(known[dataset.date_column], date_end, zone))
    order = [base.c[n] for n in dataset.order_by] or [base.c[fields[0]]]
    return stmt.order_by(*order)


def _bound(fld: Field, value: datetime, zone: ZoneInfo):
    """The range's instant for a timestamp column; for a date column (a wall date, as a time entry's) the day it
    falls on in the user's zone: its UTC date is the day before in Tokyo, the day after in Los Angeles."""
    return user_date(value, zone) if fld.type == "date" else value


def user_date(value: datetime, zone: ZoneInfo) -> date:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(zone).date()


def count_rows(connection, stmt: sa.Select) -> int:
    return connection.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar() or 0


# --------------------------------------------------------------------------- built-in datasets
def _time_entries(user) -> sa.Select:
    from app.accounts.models import User
    from app.exports.models import TimeEntry

    stmt = (
        sa.select(
            TimeEntry.id.label("id"),
            TimeEntry.date.label("date"),
            User.full_name.label("member"),
            User.email.label("email"),
            TimeEntry.project.label("project"),
            TimeEntry.task.label("task"),
            TimeEntry.duration_minutes.label("duration"),
            sa.func.round(sa.cast(TimeEntry.duration_minutes, sa.Numeric(10, 2)) / 60, 2).label("hours"),
            TimeEntry.description.label("description"),
        )
        .join(User, User.id == TimeEntry.user_id)
        .where(TimeEntry.organization_id == user.organization_id)
    )
    if user.role not in ("admin", "manager"):  # agents and customers see their own timesheet only
        stmt = stmt.where(TimeEntry.user_id == user.id)
    else:  # the team's hours: customers' own entries are not part of them
        stmt = stmt.where(sa.or_(User.role != "customer", TimeEntry.user_id == user.id))
    return stmt


register_dataset(Dataset(
    name="time_entries",
    label="Time entries",
    fields=[Field("date", "Date", "date"), Field("member", "Member"), Field("email", "Email"),
            Field("project", "Project"), Field("task", "Task"), Field("duration", "Duration (min)", "number"),
            Field("hours", "Hours", "number", decimals=2), Field("description", "Description")],
    build=_time_entries,
    default_fields=("date", "member", "project", "task", "duration", "hours", "description"),
    date_column="date",
    filters=[Filter("project", "Project contains", lambda rows, v: textsearch.contains(rows.c.project, v)),
             Filter("member", "Member email", lambda rows, v: rows.c.email == v.strip().lower())],
    order_by=("date", "id"),
))


def _members(user) -> sa.Select:
    from app.accounts.models import User

    return sa.select(
        User.id.label("id"), User.full_name.label("name"), User.email.label("email"), User.role.label("role"),
        User.is_active.label("active"), User.created_at.label("joined"),
    ).where(User.organization_id == user.organization_id)


register_dataset(Dataset(
    name="members",
    label="Members",
    fields=[Field("name", "Name"), Field("email", "Email"), Field("role", "Role"), Field("active", "Active"),
            Field("joined", "Joined", "datetime")],
    build=_members,
    date_column="joined",
    filters=[Filter("role", "Role", lambda rows, v: rows.c.role == v)],
    allowed=lambda user: user.role in ("admin", "manager"),  # the members page's roles
    order_by=("name", "id"),
))


def _api_usage(user) -> sa.Select:
    from app.accounts.models import User
    from app.platform.usage import APIUsageLog

    return sa.select(
        APIUsageLog.id.label("id"), APIUsageLog.timestamp.label("timestamp"), User.email.label("user"),
        APIUsageLog.method.label("method"), APIUsageLog.endpoint.label("endpoint"),
        APIUsageLog.response_status.label("status"), APIUsageLog.response_time_ms.label("response_ms"),
    ).outerjoin(User, User.id == APIUsageLog.user_id).where(APIUsageLog.organization_id == user.organization_id)


register_dataset(Dataset(
    name="api_usage",
    label="API usage",
    fields=[Field("timestamp", "Time", "datetime"), Field("user", "User"), Field("method", "Method"),
            Field("endpoint", "Endpoint"), Field("status", "Status", "number"),
            Field("response_ms", "Response (ms)", "number")],
    build=_api_usage,
    date_column="timestamp",
    filters=[Filter("endpoint", "Endpoint contains", lambda rows, v: textsearch.contains(rows.c.endpoint, v))],
    allowed=lambda user: user.has_permission("view_usage"),  # the Usage page's rule
    order_by=("timestamp", "id"),
))

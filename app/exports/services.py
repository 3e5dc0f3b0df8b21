"""Exports services: writes own the transaction; reads return selects or rows.

Functions are `<entity>_<verb>(*, ...)` with keyword-only arguments. They take
the acting user explicitly (the worker has no request), and every read is
limited to that user's organization (views use platform tenancy on top).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.exports import cron
from app.exports.datasets import DatasetError, build_select, count_rows, get_dataset, user_date
from app.exports.models import (
    DEFAULT_EXPIRY,
    EXPIRED,
    FORMATS,
    ExportAuditLog,
    ExportRequest,
    ExportSchedule,
    ExportTemplate,
    ExportUsageStats,
    TimeEntry,
    export_template_shares,
)
from app.exports.writers import WRITERS
from app.extensions import db
from app.platform.idempotency import lock_user_row
from app.platform import storage
from app.platform.formatting import short_id
from app.platform.jobs import QUEUED, RUNNING, SUCCEEDED, JobError, JobSuperseded, job_submit
from app.platform.models import utcnow
from app.platform.timezones import day_bounds_utc, zone_name_of

log = logging.getLogger("cairn.exports")
FORMAT_KEYS = tuple(f for f, _ in FORMATS)


def setting(name: str, default: Any) -> Any:
    """An exports setting: app config first, then the environment (a `flask worker` reads it there)."""
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name)
    if value is None:
        return default
    return type(default)(value) if not isinstance(default, bool) else str(value).lower() in ("1", "true", "yes")


class ExportError(ValueError):
    """A refusal written for the user; `field` names the form field it belongs to.

    A form's service may find several problems at once: `also` holds the others, so the form shows each at
    its field on the first try (`refusals` is all of them, this one first)."""

    def __init__(self, message: str, field: str | None = None, *,
                 also: list[tuple[str, str | None]] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.also = list(also or [])

    @property
    def refusals(self) -> list[tuple[str, str | None]]:
        return [(str(self), self.field), *self.also]

    @classmethod
    def of_all(cls, refusals: list[tuple[str, str | None]]) -> "ExportError":
        (message, field), *others = refusals
        return cls(message, field, also=others)


@dataclass
class Actor:
    """Who acts and from where (for the audit log). The worker acts with no IP."""

    user: Any
    ip: str | None = None
    user_agent: str = ""


# --------------------------------------------------------------------------- audit
def audit_record(*, action: str, user_id: int | None, organization_id: int, request_id: int | None = None,
                 ip: str | None = None, user_agent: str = "", data: dict | None = None) -> ExportAuditLog:
    """Add an audit row to the session (the caller commits with its change)."""
    row = ExportAuditLog(action=action, user_id=user_id, organization_id=organization_id,
                         export_request_id=request_id, ip_address=ip, user_agent=(user_agent or "")[:1000],
                         additional_data=data or {})
    db.session.add(row)
    return row


def _audit(actor: Actor, action: str, request: ExportRequest | None, **data: Any) -> None:
    audit_record(action=action, user_id=actor.user.id, organization_id=actor.user.organization_id,
                 request_id=request.id if request is not None else None, ip=actor.ip,
                 user_agent=actor.user_agent, data=data)


# --------------------------------------------------------------------------- time entries
MAX_MINUTES = 24 * 60


DURATION_FORMS = (
    (re.compile(r"(\d{1,2}):([0-5]\d)", re.ASCII), lambda m: int(m[1]) * 60 + int(m[2])),  # 1:30
    (re.compile(r"(\d{1,2}(?:\.\d{1,4})?)h", re.ASCII), lambda m: round(Decimal(m[1]) * 60)),  # 1.5h
    (re.compile(r"(\d{1,2})h(\d{1,2})m?", re.ASCII), lambda m: int(m[1]) * 60 + int(m[2])),  # 1h30m
    (re.compile(r"(\d{1,4})m?", re.ASCII), lambda m: int(m[1])),  # 90, 45m
)
DURATION_HELP = "Enter a duration like 1:30, 90 (minutes), 45m, 1.5h or 1h30m."


def parse_duration(text: str) -> int:
    """'1:30', '90', '45m', '1.5h', '1h30m' -> minutes. Anything else (signs, 'inf', 'nan', '1:-30',
    exponents, minutes past 59 after a colon) is refused with a message for the field, never guessed."""
    value = (text or "").strip().lower().replace(" ", "")
    for pattern, minutes in DURATION_FORMS:
        match = pattern.fullmatch(value)
        if match:
            total = minutes(match)
            break
    else:
        raise ExportError(DURATION_HELP, "duration")
    if total <= 0 or total > MAX_MINUTES:
        raise ExportError("A duration must be more than 0 minutes and at most 24 hours.", "duration")
    return total


def _entry_values(project: str, task: str, duration: str, description: str, entry_date: date | None) -> dict:
    project = (project or "").strip()
    if not project:
        raise ExportError("Enter the project you worked on.", "project")
    if len(project) > 200:
        raise ExportError("Keep the project name under 200 characters.", "project")
    if entry_date is None:
        raise ExportError("Enter the date.", "date")
    return {"project": project, "task": (task or "").strip()[:200], "duration_minutes": parse_duration(duration),
            "description": (description or "").strip(), "date": entry_date}


def time_entry_create(*, user, entry_date: date | None, project: str, task: str = "", duration: str,
                      description: str = "") -> TimeEntry:
    entry = TimeEntry(user_id=user.id, organization_id=user.organization_id,
                      **_entry_values(project, task, duration, description, entry_date))
    db.session.add(entry)
    db.session.commit()
    return entry


def time_entry_update(*, entry: TimeEntry, entry_date: date | None, project: str, task: str = "", duration: str,
                      description: str = "") -> TimeEntry:
    for key, value in _entry_values(project, task, duration, description, entry_date).items():
        setattr(entry, key, value)
    db.session.commit()
    return entry


def time_entry_delete(*, entry: TimeEntry) -> None:
    db.session.delete(entry)
    db.session.commit()


def time_entry_may_edit(entry: TimeEntry, user) -> bool:
    return entry.user_id == user.id or user.role in ("admin", "manager")


def time_entries_visible(user) -> sa.Select:
    """Own entries; managers and admins see the whole team's (staff: customers' hours are not the team's)."""
    stmt = sa.select(TimeEntry).where(TimeEntry.organization_id == user.organization_id)
    if user.role not in ("admin", "manager"):
        stmt = stmt.where(TimeEntry.user_id == user.id)
    else:
        from app.accounts.models import User

        staff = sa.select(User.id).where(User.organization_id == user.organization_id, User.role != "customer")
        stmt = stmt.where(sa.or_(TimeEntry.user_id == user.id, TimeEntry.user_id.in_(staff)))
    return stmt


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def time_entries_week(*, user, start: date, member_id: int | None = None) -> list[TimeEntry]:
    stmt = time_entries_visible(user).where(TimeEntry.date >= start, TimeEntry.date < start + timedelta(days=7))
    if member_id:
        stmt = stmt.where(TimeEntry.user_id == member_id)
    return list(db.session.scalars(stmt.order_by(TimeEntry.date, TimeEntry.id)))


def project_suggestions(*, user, limit: int = 20) -> list[str]:
    """The user's most recently used projects (the Projects area will add its own later)."""
    rows = db.session.execute(
        sa.select(TimeEntry.project, sa.func.max(TimeEntry.date).label("last"))
        .where(TimeEntry.user_id == user.id).group_by(TimeEntry.project)
        .order_by(sa.desc("last")).limit(limit)
    )
    return [r.project for r in rows]


# --------------------------------------------------------------------------- templates
def templates_visible(user) -> sa.Select:
    """Built-in templates, the organization's public ones, the user's own and those shared with them.

    A customer never sees another customer's work: public templates count for them only when
    a staff member owns them.
    """
    from app.accounts.models import STAFF_ROLES, User

    shared = sa.select(export_template_shares.c.template_id).where(export_template_shares.c.user_id == user.id)
    public = ExportTemplate.is_public.is_(True)
    if user.role not in STAFF_ROLES:
        staff = sa.select(User.id).where(User.organization_id == user.organization_id, User.role.in_(STAFF_ROLES))
        public = sa.and_(public, ExportTemplate.user_id.in_(staff))
    return sa.select(ExportTemplate).where(
        sa.or_(
            ExportTemplate.organization_id.is_(None),
            sa.and_(
                ExportTemplate.organization_id == user.organization_id,
                sa.or_(public, ExportTemplate.user_id == user.id, ExportTemplate.id.in_(shared)),
            ),
        )
    )


def template_share_candidates(*, template: ExportTemplate, user) -> list:
    """Who `user` may share `template` with: the staff (never a customer, so no customer sees
    another one in a share dialog, nor gets another customer's template)."""
    from app.accounts.services import members_visible_to

    return [m for m in db.session.scalars(members_visible_to(user)) if m.is_staff and m.id != template.user_id]


def template_may_edit(template: ExportTemplate, user) -> bool:
    return not template.is_builtin and (template.user_id == user.id or user.role == "admin")


def _template_values(*, user, name: str, description: str, format: str, dataset: str, fields: list[str],
                     headers: list[str] | None, default_filters: dict | None, orientation: str) -> dict:
    name = (name or "").strip()
    if not name:
        raise ExportError("Give the template a name.", "name")
    if format not in FORMAT_KEYS:
        raise ExportError("Choose CSV, JSON, PDF or Excel.", "format")
    ds = get_dataset(dataset)
    if ds is None or not ds.allowed(user):
        raise ExportError("Choose one of the listed datasets.", "dataset")
    known = ds.field_map()
    fields = [f for f in fields if f in known]
    if not fields:
        raise ExportError("Choose at least one field.", "fields")
    headers = [h.strip() or known[f].label for f, h in zip(fields, (headers or []) + [""] * len(fields))]
    return {"name": name[:255], "description": (description or "").strip(), "format": format, "dataset": dataset,
            "field_configuration": {"fields": fields, "headers": headers},
            "default_filters": {k: v for k, v in (default_filters or {}).items() if v},
            "layout_settings": {"orientation": "landscape" if orientation == "landscape" else "portrait"}}


def template_create(*, actor: Actor, is_public: bool = False, **values: Any) -> ExportTemplate:
    template = ExportTemplate(organization_id=actor.user.organization_id, user_id=actor.user.id,
                              is_public=bool(is_public) and actor.user.is_staff,  # customers' stay private
                              **_template_values(user=actor.user, **values))
    db.session.add(template)
    db.session.commit()
    return template


def template_update(*, actor: Actor, template: ExportTemplate, is_public: bool = False,
                    **values: Any) -> ExportTemplate:
    if not template_may_edit(template, actor.user):
        raise ExportError("Only its owner or an admin can change this template.")
    for key, value in _template_values(user=actor.user, **values).items():
        setattr(template, key, value)
    template.is_public = bool(is_public) and actor.user.is_staff
    db.session.commit()
    return template


def template_share(*, actor: Actor, template: ExportTemplate, user_ids: list[int]) -> ExportTemplate:
    """Share with chosen members of the same organization (replaces the list); audited as 'shared'.

    Only `template_share_candidates` can be chosen: a customer can't share with another customer."""
    if not template_may_edit(template, actor.user):
        raise ExportError("Only its owner or an admin can share this template.")
    candidates = {m.id: m for m in template_share_candidates(template=template, user=actor.user)}
    wanted = {int(i) for i in user_ids or [] if str(i).isdigit()}
    if wanted - set(candidates):
        raise ExportError("You can share only with the members listed.")
    members = [candidates[i] for i in sorted(wanted)]
    template.shared_with = members
    _audit(actor, "shared", None, template_id=str(template.id), template=template.name,
           shared_with=[m.email for m in members])
    db.session.commit()
    return template


def template_delete(*, actor: Actor, template: ExportTemplate) -> None:
    if not template_may_edit(template, actor.user):
        raise ExportError("Only its owner or an admin can delete this template.")
    db.session.delete(template)
    db.session.commit()


# --------------------------------------------------------------------------- export requests
def requests_visible(user) -> sa.Select:
    """Admins see the organization's exports; everyone else their own."""
    stmt = sa.select(ExportRequest).where(ExportRequest.organization_id == user.organization_id)
    if user.role != "admin":
        stmt = stmt.where(ExportRequest.requested_by_id == user.id)
    return stmt


def _day_bounds(start: date | None, end: date | None, user=None) -> tuple[datetime | None, datetime | None]:
    """The UTC instants that start `start` and end `end` in the user's time zone (their "days")."""
    if start and end and end < start:
        raise ExportError("The end date is before the start date.", "date_to")
    return day_bounds_utc(start, end, ZoneInfo(zone_name_of(user)) if user is not None else ZoneInfo("UTC"))


def export_select(*, user, dataset: str, fields: list[str], filters: dict | None,
                  date_start: datetime | None, date_end: datetime | None) -> sa.Select:
    ds = get_dataset(dataset)
    if ds is None:
        raise ExportError("Choose one of the listed datasets.", "dataset")
    try:
        return build_select(ds, user, fields=fields, filters=filters, date_start=date_start, date_end=date_end)
    except DatasetError as exc:
        raise ExportError(str(exc), exc.field) from None


def export_preview(*, user, dataset: str, fields: list[str], filters: dict | None = None,
                   date_from: date | None = None, date_to: date | None = None, limit: int = 10) -> dict:
    """The row count and the first rows, exactly as the export would produce them."""
    lo, hi = _day_bounds(date_from, date_to, user)
    stmt = export_select(user=user, dataset=dataset, fields=fields, filters=filters, date_start=lo, date_end=hi)
    ds = get_dataset(dataset)
    connection = db.session.connection()
    return {"count": count_rows(connection, stmt), "headers": ds.headers(fields),
            "rows": [tuple(r) for r in connection.execute(stmt.limit(limit))]}


def _active_exports(user) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ExportRequest).where(
        ExportRequest.requested_by_id == user.id,
        ExportRequest.status_in(QUEUED, RUNNING))) or 0


def export_request_create(*, actor: Actor, title: str, format: str, dataset: str, fields: list[str],
                          description: str = "", template: ExportTemplate | None = None,
                          filters: dict | None = None, date_from: date | None = None, date_to: date | None = None,
                          schedule: ExportSchedule | None = None, slot: datetime | None = None,
                          submit: bool = True) -> ExportRequest:
    """Validate, check the per-user limit, save as pending with a 'created' audit row, and queue the job."""
    user = actor.user
    title = (title or "").strip()
    if not title:
        raise ExportError("Give the export a title.", "title")
    if format not in FORMAT_KEYS:
        raise ExportError("Choose CSV, JSON, PDF or Excel.", "format")
    lo, hi = _day_bounds(date_from, date_to, user)
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    export_select(user=user, dataset=dataset, fields=fields, filters=filters, date_start=lo, date_end=hi)
    limit = setting("EXPORTS_MAX_CONCURRENT_PER_USER", 3)
    if schedule is None:
        lock_user_row(user.id)  # held until job_submit commits: two requests can't both take the last place
    if schedule is None and _active_exports(user) >= limit:
        raise ExportError(f"You already have {limit} exports running. Wait for one to finish, then try again.")
    row = ExportRequest(
        organization_id=user.organization_id, requested_by_id=user.id, title=title[:255],
        description=(description or "").strip(), format=format, dataset=dataset, template=template,
        filters=filters, selected_fields=list(fields), date_range_start=lo, date_range_end=hi,
        is_scheduled=schedule is not None, schedule_id=schedule.id if schedule else None,
        schedule_pattern=schedule.cron_pattern if schedule else "", next_run=slot,
    )
    db.session.add(row)
    db.session.flush()
    _audit(actor, "created", row, format=format, dataset=dataset, scheduled=schedule is not None)
    if template is not None:
        template.usage_count = (template.usage_count or 0) + 1
        template.last_used = utcnow()
    if submit:
        job_submit(row)
    return row


def export_delete(*, actor: Actor, request: ExportRequest) -> None:
    """Delete the file and the row; the audit trail keeps a 'deleted' entry with the title."""
    if request.status == request.status_value(RUNNING):
        raise ExportError("This export is running; delete it once it has finished.")
    path = request.file_path
    _audit(actor, "deleted", request, title=request.title, format=request.format)
    db.session.flush()
    db.session.delete(request)
    db.session.commit()
    if path:
        storage.delete(path)


def _file_ok(request: ExportRequest) -> bool:
    try:
        path = storage.resolve(request.file_path)
    except storage.StorageError:
        return False
    return path.is_file() and path.stat().st_size == request.file_size


def export_download_token(*, user, request: ExportRequest) -> str:
    """A fresh signed link to the file, bound to the tenant and this user."""
    if request.is_expired:
        raise ExportError("This export has expired and its file was deleted. Run it again.")
    if request.status != request.status_value(SUCCEEDED) or not request.file_path or not _file_ok(request):
        raise ExportError("This export has no file to download.")
    return storage.sign_download("export", request.id, organization_id=user.organization_id, user_id=user.id)


class LinkGone(Exception):
    """The link or the export expired (410)."""


def export_open_download(*, actor: Actor, token: str) -> ExportRequest:
    """The completed export a link grants, with download_count incremented and audited.

    LinkGone for an expired link or export; LookupError for a forged, foreign or broken one.
    """
    user = actor.user
    try:
        request_id = storage.verify_download(token, kind="export", organization_id=user.organization_id,
                                             user_id=user.id)
    except storage.LinkExpired as exc:
        raise LinkGone(str(exc)) from None
    except storage.LinkInvalid as exc:
        raise LookupError(str(exc)) from None
    # The token names the export; its file's path is read here, server-side.
    request = db.session.scalars(requests_visible(user).where(ExportRequest.id == request_id)).first()
    if request is None:
        raise LookupError("This download link is not valid.")
    if request.is_expired or (request.expires_at and request.expires_at <= utcnow()):
        raise LinkGone("This export has expired and its file was deleted.")
    if request.status != request.status_value(SUCCEEDED) or not _file_ok(request):
        raise LookupError("This export has no file to download.")
    db.session.execute(sa.update(ExportRequest).where(ExportRequest.id == request.id)
                       .values(download_count=ExportRequest.download_count + 1))
    _audit(actor, "downloaded", request)
    db.session.commit()
    db.session.refresh(request)
    return request


def download_filename(request: ExportRequest) -> str:
    """Server-made: never the title verbatim (quotes, slashes, newlines)."""
    stem = "".join(c if c.isalnum() else "-" for c in request.title.lower()).strip("-")[:50] or "export"
    while "--" in stem:
        stem = stem.replace("--", "-")
    stamp = (request.finished_at or utcnow()).strftime("%Y%m%d-%H%M")
    return f"{stem}-{request.id}-{stamp}.{request.extension}"


# --------------------------------------------------------------------------- running an export
def _date_format(user) -> str:
    prefs = getattr(user, "preferences", None)
    return (getattr(prefs, "preferred_date_format", None) or "iso") if prefs is not None else "iso"


def _describe_filters(request: ExportRequest, dataset=None) -> str:
    """The filters a reader of the report chose, by their labels; internal ones (the workspace id a dataset
    stores for the worker) are not the reader's business and stay out."""
    labels = {f.name: f.label for f in (dataset.filters if dataset is not None else [])}
    parts = [f"{labels.get(k, k)}: {v}" for k, v in (request.filters or {}).items()
             if dataset is None or k in labels]
    if request.date_range_start or request.date_range_end:
        zone = ZoneInfo(zone_name_of(request.requested_by))  # the days the user chose, as export_select reads them
        lo = user_date(request.date_range_start, zone).isoformat() if request.date_range_start else "…"
        hi = user_date(request.date_range_end, zone).isoformat() if request.date_range_end else "…"
        parts.append(f"dates {lo} to {hi}")
    return "Filters: " + ("; ".join(parts) if parts else "none")


def export_run(request: ExportRequest, progress) -> None:
    """The job handler: stream the rows into the file, then record size, rows and sha256 on the row.

    The row says completed only when the platform commits it after this returns,
    in the same transaction as the file facts below; mail goes out after that.
    """
    request_id, org_id, user_id = request.id, request.organization_id, request.requested_by_id
    try:
        _export_write(request, progress)
    except JobSuperseded:
        raise
    except BaseException as exc:
        db.session.rollback()
        try:
            audit_record(action="failed", user_id=user_id, organization_id=org_id,
                         request_id=request_id, data={"error": type(exc).__name__})
            schedule_failed(request_id=request_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("could not record the failure of export #%s", request_id)
        raise


def _export_write(request: ExportRequest, progress) -> None:
    from app.accounts.models import User

    user = db.session.get(User, request.requested_by_id)
    if user is None or not user.is_active:
        raise JobError("The member who asked for this export is no longer active.")
    audit_record(action="started", user_id=user.id, organization_id=request.organization_id, request_id=request.id)
    db.session.commit()
    fields = list(request.selected_fields)
    stmt = export_select(user=user, dataset=request.dataset, fields=fields, filters=request.filters,
                         date_start=request.date_range_start, date_end=request.date_range_end)
    dataset = get_dataset(request.dataset)
    template = request.template
    headers = dataset.headers(fields)
    if template is not None and template.fields == fields and len(template.headers) == len(fields):
        headers = template.headers
    relative = f"exports/{request.organization_id}/{request.id}-{secrets.token_hex(8)}.{request.extension}"
    batch = setting("EXPORTS_BATCH_SIZE", 5000)
    # Optional pacing between batches, so a huge export doesn't monopolise a busy database.
    pause = setting("EXPORTS_BATCH_PAUSE_SECONDS", 0.0)
    specs = [dataset.field_map()[f] for f in fields]
    options = {"title": request.title, "subtitle": _describe_filters(request, dataset),
               "landscape": bool(template and template.landscape), "specs": specs,
               "date_format": _date_format(user), "generated_at": utcnow().strftime("%Y-%m-%d %H:%M UTC")}
    if request.format == "pdf":
        options["landscape"] = options["landscape"] or len(fields) > 6
    written = 0
    with db.engine.connect() as connection:  # its own connection: progress commits must not end the cursor
        copy_columns = None
        if request.format == "csv" and connection.dialect.name == "postgresql" and setting("EXPORTS_CSV_COPY", True):
            copy_columns = _copy_columns(stmt, specs)
        use_copy = copy_columns is not None
        if use_copy:  # the count and the COPY see one snapshot, so row_count is exact
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        total = count_rows(connection, stmt)
        progress(1, f"{total:,} rows to export")
        last = time.monotonic()
        with storage.atomic_write(relative) as handle, contextlib.ExitStack() as cursors:
            if use_copy:
                written = _copy_csv(connection, stmt, copy_columns, headers, specs, handle, progress, total)
                writer = None
            else:
                rendered = _json_rows(stmt, fields, specs) if (
                    request.format == "json" and connection.dialect.name == "postgresql"
                    and setting("EXPORTS_JSON_IN_SQL", True)) else None
                writer = WRITERS[request.format](handle, headers, fields, prerendered=rendered is not None,
                                                 **options)
                result = connection.execution_options(yield_per=batch).execute(
                    stmt if rendered is None else rendered)
                # Closed on failure too: a half-read SQLite cursor left open pins its pooled connection to an
                # old snapshot, and the next user of that connection (the embedded worker's) reads stale rows.
                cursors.callback(result.close)
            for part in ([] if writer is None else result.partitions()):
                writer.write_rows(part)
                written += len(part)
                if time.monotonic() - last >= 0.5 or setting("EXPORTS_REPORT_EVERY_BATCH", False):
                    progress(min(99, 1 + written * 98 // max(total, 1)), f"{written:,} of {total:,} rows")
                    last = time.monotonic()
                if pause:
                    time.sleep(pause)
            if writer is not None:
                writer.close()
    stored = storage.describe(relative)
    request = db.session.get(ExportRequest, request.id)
    request.file_path = relative
    request.file_size = stored.size
    request.file_sha256 = stored.sha256
    request.row_count = written
    request.expires_at = utcnow() + timedelta(seconds=setting("EXPORTS_EXPIRY_SECONDS",
                                                               int(DEFAULT_EXPIRY.total_seconds())))
    request.download_url = f"/exports/requests/{request.id}"
    audit_record(action="completed", user_id=user.id, organization_id=request.organization_id,
                 request_id=request.id, data={"rows": written, "bytes": stored.size, "sha256": stored.sha256})
    if request.schedule_id:
        schedule = db.session.get(ExportSchedule, request.schedule_id)
        if schedule is not None:
            schedule.run_count += 1
            schedule.consecutive_failures = 0
            scheduled_mail_queue(request, schedule)  # committed with the row's success, or not at all


def _copy_columns(stmt: sa.Select, specs: list) -> list | None:
    """The select's columns formatted in SQL exactly as the Python CSV writer formats values (writers.text_value),
    so COPY gives the same bytes as the SQLite path; None when a column has a type COPY cannot match (JSON)."""
    from sqlalchemy.types import TypeDecorator

    from app.exports.writers import FORMULA_PREFIXES

    single = len(specs) == 1
    columns = []
    for column, spec in zip(stmt.selected_columns, specs):
        kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
        decimals = getattr(spec, "decimals", None)
        if isinstance(kind, sa.Boolean):
            text = sa.case((column.is_(True), "true"), (column.is_(False), "false"))
        elif isinstance(kind, sa.DateTime):
            text = sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        elif isinstance(kind, sa.Date):
            text = sa.func.to_char(column, "YYYY-MM-DD")
        elif isinstance(kind, (sa.Numeric, sa.Float)) and decimals is not None:
            text = sa.cast(sa.func.round(sa.cast(column, sa.Numeric), decimals), sa.Text)
        elif isinstance(kind, (sa.Integer, sa.Numeric)):
            text = sa.cast(column, sa.Text)
        elif isinstance(kind, sa.String):
            text = sa.case((sa.func.substr(column, 1, 1).in_(list(FORMULA_PREFIXES)), sa.literal("'") + column),
                           else_=column)
        else:
            return None
        # COPY writes NULL as nothing and '' as "": one empty form, as the Python writer has
        text = sa.func.coalesce(text, "") if single else sa.func.nullif(text, "")
        columns.append(text.label(column.name))
    return columns


def _json_rows(stmt: sa.Select, fields: list[str], specs: list) -> sa.Select | None:
    """JSON on PostgreSQL: each row's object rendered by the database, character for character what the Python
    writer makes (writers.json_text: to_json escapes strings as Python's encoder does, numbers and booleans as
    their text); None when a column has a type the database cannot render the same way (JSON columns)."""
    from sqlalchemy.types import TypeDecorator

    parts: list = []
    for index, (column, spec) in enumerate(zip(stmt.selected_columns, specs)):
        kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
        decimals = getattr(spec, "decimals", None)
        if isinstance(kind, sa.Boolean):
            text = sa.case((column.is_(True), "true"), (column.is_(False), "false"))
        elif isinstance(kind, sa.DateTime):
            text = sa.func.to_json(sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
        elif isinstance(kind, sa.Date):
            text = sa.func.to_json(sa.func.to_char(column, "YYYY-MM-DD"))
        elif isinstance(kind, (sa.Numeric, sa.Float)) and decimals is not None:
            text = sa.func.round(sa.cast(column, sa.Numeric), decimals)
        elif isinstance(kind, (sa.Integer, sa.Numeric)) and not isinstance(kind, sa.Float):
            text = column
        elif isinstance(kind, sa.String):
            text = sa.func.to_json(column)
        else:
            return None
        key = ("{" if index == 0 else ", ") + json.dumps(fields[index]) + ": "
        parts += [sa.literal(key), sa.func.coalesce(sa.cast(text, sa.Text), "null")]
    return stmt.with_only_columns(sa.func.concat(*parts, sa.literal("}")).label("json"),
                                  maintain_column_froms=True)


def _copy_csv(connection, stmt: sa.Select, columns: list, headers: list[str], specs: list, handle, progress,
              total: int) -> int:
    """CSV on PostgreSQL: the same select (tenant and role limits included) through COPY TO STDOUT, every
    column formatted in SQL (`_copy_columns`); COPY streams in chunks, memory stays flat."""
    from app.exports.writers import csv_line, header_labels, neutralise

    safe_stmt = stmt.with_only_columns(*columns, maintain_column_froms=True)
    compiled = safe_stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    handle.write(("\ufeff" + csv_line([neutralise(h) for h in header_labels(headers, specs)])).encode("utf-8"))
    lines, last = 0, time.monotonic()
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv)", compiled.params) as copy:
            for chunk in copy:
                handle.write(chunk)
                lines += bytes(chunk).count(b"\n")
                if time.monotonic() - last >= 0.5:
                    progress(min(99, 1 + min(lines, total) * 98 // max(total, 1)), f"about {min(lines, total):,} of {total:,} rows")
                    last = time.monotonic()
    return total


def scheduled_mail_queue(request: ExportRequest, schedule: ExportSchedule) -> int:
    """Put a finished scheduled export's mail in the outbox (platform.mail), in the caller's transaction.

    One message per allowed recipient (members as of now: one who left gets
    nothing more). The export handler calls this, so the messages are committed
    with the row's success or not at all; the outbox then delivers each exactly
    once, retrying SMTP failures with backoff. The file goes by reference
    (`mail.attachment`), checked against the recorded size and sha256 when sent.
    Each message has a Message-ID made from the export and the recipient, so
    queueing the same export twice adds nothing. Returns how many were added.
    """
    import hashlib
    from email.utils import parseaddr

    from app.exports.writers import CONTENT_TYPES
    from app.platform import mail

    config = current_app.config
    allowed = allowed_recipients(schedule.user)
    recipients = list(dict.fromkeys(r for r in schedule.email_recipients if r.lower() in allowed))
    if not recipients:
        return 0
    domain = parseaddr(config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2] or "cairn.localhost"
    ids = {r: f"<export-{request.id}-{hashlib.sha256(r.lower().encode()).hexdigest()[:16]}@{domain}>"
           for r in recipients}
    queued = set(db.session.scalars(sa.select(mail.OutboxMessage.message_id)
                                    .where(mail.OutboxMessage.message_id.in_(list(ids.values())))))
    # No user text in the subject: the name and title are the owner's words, and a subject is what a spammer
    # would want to choose. The body names the schedule for the members it goes to.
    subject = f"Cairn: scheduled export #{short_id(request.id)} is ready"
    lines = [f"Your scheduled export \"{schedule.name}\" is ready: {request.row_count:,} rows, "
             f"{request.format_label}, {request.file_size:,} bytes.", ""]
    attach = schedule.attach_file and request.file_size <= config.get("EXPORTS_ATTACHMENT_MAX_BYTES", 5 << 20)
    if schedule.include_download_link or (schedule.attach_file and not attach):
        base = config.get("PUBLIC_BASE_URL") or "http://localhost:5000"
        lines.append(f"Download it (sign in as {request.requested_by.email}) before "
                     f"{request.expires_at:%Y-%m-%d %H:%M} UTC: {base.rstrip('/')}/exports/requests/{request.id}")
    if schedule.attach_file and not attach:
        lines.append("The file is too large to attach; use the link above.")
    lines += ["", f"SHA-256: {request.file_sha256}"]
    attachments = [mail.attachment(request.file_path, filename=download_filename(request),
                                   content_type=CONTENT_TYPES[request.format], size=request.file_size,
                                   sha256=request.file_sha256)] if attach else []
    added = 0
    for recipient in recipients:
        if ids[recipient] not in queued:
            added += mail.notify(None, subject, "\n".join(lines), category="required", to_address=recipient,
                                 message_id=ids[recipient], organization_id=request.organization_id,
                                 attachments=attachments)
    return added


# --------------------------------------------------------------------------- expiry
def exports_expire(now: datetime | None = None) -> int:
    """Mark completed exports past expires_at expired and delete their files (periodic)."""
    now = now or utcnow()
    rows = db.session.execute(sa.select(ExportRequest.id, ExportRequest.file_path, ExportRequest.organization_id,
                                         ExportRequest.requested_by_id).where(
        ExportRequest.status == ExportRequest.status_value(SUCCEEDED), ExportRequest.expires_at <= now)).all()
    expired = 0
    for row in rows:
        changed = db.session.execute(
            sa.update(ExportRequest).where(ExportRequest.id == row.id,
                                           ExportRequest.status == ExportRequest.status_value(SUCCEEDED))
            .values(status=EXPIRED).execution_options(synchronize_session=False)).rowcount
        if changed:
            audit_record(action="expired", user_id=row.requested_by_id, organization_id=row.organization_id,
                         request_id=row.id)
        db.session.commit()
        if changed and row.file_path:
            storage.delete(row.file_path)
            expired += 1
    return expired


# --------------------------------------------------------------------------- schedules
def schedules_visible(user) -> sa.Select:
    stmt = sa.select(ExportSchedule).where(ExportSchedule.organization_id == user.organization_id)
    if user.role != "admin":
        stmt = stmt.where(ExportSchedule.user_id == user.id)
    return stmt


# Scheduled mail is not a relay: members of the organization (or addresses an admin verified) only, no user
# text in the subject, a minimum interval, quotas per organization, customers only if an admin allows it.
CUSTOMERS_MAY_SCHEDULE = "exports_customers_may_schedule"
VERIFIED_RECIPIENTS = "exports_verified_recipients"
MAX_RECIPIENTS = 20


def _emails(text: str, field: str) -> list[str]:
    from email_validator import EmailNotValidError, validate_email

    found = []
    for item in (text or "").replace(";", ",").replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            found.append(validate_email(item, check_deliverability=False).normalized.lower())
        except EmailNotValidError:
            raise ExportError(f"{item!r} is not an email address.", field) from None
    return list(dict.fromkeys(found))


def schedule_allowed(user) -> bool:
    """Customers schedule exports only where an admin allowed it (Exports settings)."""
    return user.role != "customer" or bool(user.organization.setting(CUSTOMERS_MAY_SCHEDULE, False))


def allowed_recipients(user) -> set[str]:
    """Who this user's scheduled exports may be mailed to: the organization's active members (a customer: only
    themselves) and the addresses an admin verified."""
    from app.accounts.models import User

    verified = set(user.organization.setting(VERIFIED_RECIPIENTS, []) or [])
    if user.role == "customer":
        return {user.email.lower()} | verified
    members = db.session.scalars(sa.select(sa.func.lower(User.email)).where(
        User.organization_id == user.organization_id, User.is_active.is_(True)))
    return set(members) | verified


def _parse_recipients(text: str, user) -> list[str]:
    recipients = _emails(text, "email_recipients")
    if not recipients:
        raise ExportError("Add at least one recipient.", "email_recipients")
    if len(recipients) > MAX_RECIPIENTS:
        raise ExportError(f"At most {MAX_RECIPIENTS} recipients.", "email_recipients")
    allowed = allowed_recipients(user)
    strangers = [r for r in recipients if r not in allowed]
    if strangers:
        who = "yourself" if user.role == "customer" else "members of your organization"
        raise ExportError(f"{', '.join(strangers[:3])}: scheduled exports go to {who} only, or to addresses an "
                          "admin has verified in Exports settings.", "email_recipients")
    return recipients


def _check_interval(pattern: str, timezone_name: str) -> None:
    minimum = setting("EXPORTS_SCHEDULE_MIN_MINUTES", 15)
    gap = cron.shortest_gap(pattern, timezone_name, utcnow())
    if gap < timedelta(minutes=minimum):
        raise ExportError(f"Runs would be {int(gap.total_seconds() // 60)} minutes apart; schedules run at most "
                          f"every {minimum} minutes.", "cron_pattern")


def _check_schedule_quota(user, schedule: ExportSchedule | None) -> None:
    limit = setting("EXPORTS_SCHEDULES_PER_ORGANIZATION", 25)
    others = sa.select(sa.func.count()).select_from(ExportSchedule).where(
        ExportSchedule.organization_id == user.organization_id)
    if schedule is not None:
        others = others.where(ExportSchedule.id != schedule.id)
    count = db.session.scalar(others) or 0
    if count >= limit:
        raise ExportError(f"Your organization has {count} schedules, its limit; delete one first.")


def _schedule_values(*, user, name: str, template: ExportTemplate | None, cron_pattern: str, timezone_name: str,
                     recipients: str, include_download_link: bool, attach_file: bool) -> dict:
    if not schedule_allowed(user):
        raise ExportError("Customers can't schedule exports in this organization; ask an admin to allow it.")
    problems: list[tuple[str, str | None]] = []  # every field's problem at once, not one per try
    name = (name or "").strip()
    if not name:
        problems.append(("Give the schedule a name.", "name"))
    if template is None:
        problems.append(("Choose a template.", "template_id"))
    else:
        ds = get_dataset(template.dataset)
        if ds is None or not ds.allowed(user):
            problems.append(("Your role can't export this template's data.", "template_id"))
    pattern = ""
    try:
        pattern = cron.check_pattern(cron_pattern)
        cron.check_timezone(timezone_name)
        cron.next_run(pattern, timezone_name, utcnow())  # valid syntax that never fires (0 12 31 4 *) is refused here
        _check_interval(pattern, timezone_name)
    except (cron.CronError, ExportError) as exc:
        problems.append((str(exc), exc.field))
    recipient_list: list[str] = []
    try:
        recipient_list = _parse_recipients(recipients, user)
    except ExportError as exc:
        problems.append((str(exc), exc.field))
    if not include_download_link and not attach_file:
        problems.append(("Send a link, the file, or both.", "include_download_link"))
    if problems:
        raise ExportError.of_all(problems)
    return {"name": name[:255], "template_id": template.id, "cron_pattern": pattern, "timezone": timezone_name,
            "email_recipients": recipient_list,
            "include_download_link": bool(include_download_link), "attach_file": bool(attach_file)}


def exports_settings_update(*, actor: Actor, customers_may_schedule: bool, verified_recipients: str):
    """An admin's Exports settings: may customers schedule, and which outside addresses the admin vouches for."""
    if actor.user.role != "admin":
        raise ExportError("Only an admin can change the exports settings.")
    organization = actor.user.organization
    addresses = _emails(verified_recipients, "verified_recipients")
    if len(addresses) > 100:
        raise ExportError("At most 100 verified addresses.", "verified_recipients")
    organization.settings = {**(organization.settings or {}), CUSTOMERS_MAY_SCHEDULE: bool(customers_may_schedule),
                             VERIFIED_RECIPIENTS: addresses}
    db.session.commit()
    return organization


def schedule_check(*, actor: Actor, **values: Any) -> None:
    """Every refusal `schedule_create` would give (ExportError with all of them), saving nothing: for a form
    whose own validators already failed, so the user sees every mistake on the first try."""
    _schedule_values(user=actor.user, **values)


def schedule_create(*, actor: Actor, **values: Any) -> ExportSchedule:
    data = _schedule_values(user=actor.user, **values)
    _check_schedule_quota(actor.user, None)
    schedule = ExportSchedule(organization_id=actor.user.organization_id, user_id=actor.user.id,
                              next_run=cron.next_run(data["cron_pattern"], data["timezone"], utcnow()), **data)
    db.session.add(schedule)
    db.session.commit()
    return schedule


def schedule_update(*, actor: Actor, schedule: ExportSchedule, **values: Any) -> ExportSchedule:
    data = _schedule_values(user=actor.user, **values)
    for key, value in data.items():
        setattr(schedule, key, value)
    schedule.next_run = cron.next_run(schedule.cron_pattern, schedule.timezone, utcnow())
    db.session.commit()
    return schedule


def schedule_set_active(*, schedule: ExportSchedule, active: bool) -> ExportSchedule:
    schedule.is_active = active
    if active:
        schedule.consecutive_failures = 0
        schedule.paused_reason = ""
        schedule.next_run = cron.next_run(schedule.cron_pattern, schedule.timezone, utcnow())
    db.session.commit()
    return schedule


def schedule_delete(*, schedule: ExportSchedule) -> None:
    db.session.delete(schedule)
    db.session.commit()


def schedules_run_due(now: datetime | None = None) -> list[int]:
    """Create and queue one export per due slot (periodic). Exactly once per slot.

    Each schedule is claimed in its own transaction (FOR UPDATE SKIP LOCKED on
    PostgreSQL), its slot's export is inserted (unique on schedule + slot, so a
    second worker's insert fails) and next_run is moved past now.
    """
    from app.accounts.models import Organization

    now = now or utcnow()
    live_organizations = sa.select(Organization.id).where(Organization.is_active.is_(True))
    due = db.session.scalars(sa.select(ExportSchedule.id).where(
        ExportSchedule.is_active.is_(True), ExportSchedule.next_run <= now,
        ExportSchedule.organization_id.in_(live_organizations)).order_by(ExportSchedule.next_run)
        .limit(200)).all()
    db.session.rollback()
    created = []
    for schedule_id in due:
        request = _schedule_fire(schedule_id, now)
        if request is not None:
            created.append(request.id)
    return created


def _schedule_fire(schedule_id: int, now: datetime) -> ExportRequest | None:
    from app.accounts.models import User

    stmt = sa.select(ExportSchedule).where(ExportSchedule.id == schedule_id, ExportSchedule.is_active.is_(True),
                                           ExportSchedule.next_run <= now)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    try:
        schedule = db.session.scalars(stmt).first()
        if schedule is None:
            db.session.rollback()
            return None
        slot = schedule.next_run
        template = schedule.template
        user = db.session.get(User, schedule.user_id)
        schedule.last_run = now
        schedule.next_run = cron.next_run(schedule.cron_pattern, schedule.timezone, max(now, slot))
        if not schedule_allowed(user):
            raise ExportError("Customers may no longer schedule exports in this organization.")
        if _over_daily_quota(schedule.organization_id, now):
            db.session.commit()  # the slot is skipped: next_run moved on, nothing created
            log.warning("schedule #%s skipped: the organization's daily quota of scheduled exports is used",
                        schedule_id)
            return None
        request = export_request_create(
            actor=Actor(user), title=f"{schedule.name} ({slot.strftime('%Y-%m-%d %H:%M')} UTC)",
            format=template.format, dataset=template.dataset, fields=template.fields, template=template,
            filters=dict(template.default_filters or {}), schedule=schedule, slot=slot, submit=False)
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()  # another worker fired this slot first
        return None
    except ExportError as exc:
        db.session.rollback()
        log.warning("schedule #%s could not start: %s", schedule_id, exc)
        _schedule_count_failure(schedule_id, str(exc))
        return None
    job_submit(request)
    return request


def _over_daily_quota(organization_id: int, now: datetime) -> bool:
    """At most EXPORTS_SCHEDULED_RUNS_PER_DAY scheduled exports (each one mail per recipient) per organization
    in any 24 hours."""
    limit = setting("EXPORTS_SCHEDULED_RUNS_PER_DAY", 100)
    runs = db.session.scalar(sa.select(sa.func.count()).select_from(ExportRequest).where(
        ExportRequest.organization_id == organization_id, ExportRequest.is_scheduled.is_(True),
        ExportRequest.created_at >= now - timedelta(days=1))) or 0
    return runs >= limit


def export_reconciled_failure(request_id: int, reason: str) -> None:
    """The reconciler failed this export (its worker died): audit it as failed and count it on its schedule,
    as `export_run` does when the export itself fails."""
    request = db.session.get(ExportRequest, request_id)
    if request is None:
        return
    audit_record(action="failed", user_id=request.requested_by_id, organization_id=request.organization_id,
                 request_id=request.id, data={"error": "worker lost", "reason": reason[:200]})
    schedule_failed(request_id=request.id)
    db.session.commit()


def schedule_failed(*, request_id: int) -> None:
    """Count a failed scheduled export (in the caller's transaction); pause after repeated failures."""
    request = db.session.get(ExportRequest, request_id)
    if request is not None and request.schedule_id:
        _schedule_count_failure(request.schedule_id, request.error_message or "the export failed", commit=False)


def _schedule_count_failure(schedule_id: int, reason: str, *, commit: bool = True) -> None:
    schedule = db.session.get(ExportSchedule, schedule_id)
    if schedule is None:
        return
    schedule.failure_count += 1
    schedule.consecutive_failures += 1
    limit = setting("EXPORTS_SCHEDULE_MAX_FAILURES", 3)
    if schedule.is_active and schedule.consecutive_failures >= limit:
        schedule.is_active = False
        schedule.paused_reason = f"Paused after {schedule.consecutive_failures} failures in a row."[:255]
        from app.platform.mail import notify

        try:
            notify(schedule.user, f"Scheduled export paused: {schedule.name}",
                   f"Your scheduled export \"{schedule.name}\" failed {schedule.consecutive_failures} times in a row "
                   f"and has been paused. Last error: {reason}\n\nOpen Exports > Schedules to fix and resume it.")
        except Exception:
            log.exception("could not tell the owner of schedule #%s", schedule_id)
    if commit:
        db.session.commit()


# --------------------------------------------------------------------------- usage stats
def usage_rollup(days: int = 2, now: datetime | None = None) -> int:
    """Recompute ExportUsageStats for the last `days` days (periodic; idempotent upsert)."""
    now = now or utcnow()
    first = (now - timedelta(days=days - 1)).date()
    start = datetime.combine(first, datetime.min.time(), tzinfo=timezone.utc)
    rows = db.session.execute(sa.select(
        ExportRequest.organization_id, ExportRequest.requested_by_id, ExportRequest.created_at, ExportRequest.format,
        ExportRequest.status, ExportRequest.row_count, ExportRequest.file_size, ExportRequest.started_at,
        ExportRequest.finished_at).where(ExportRequest.created_at >= start))
    totals: dict[tuple[int, date], dict] = {}
    for r in rows:
        key = (r.requested_by_id, r.created_at.date())
        t = totals.setdefault(key, {"org": r.organization_id, "total": 0, "csv": 0, "json": 0, "pdf": 0,
                                    "excel": 0, "records": 0, "bytes": 0, "failed": 0, "durations": []})
        t["total"] += 1
        t[r.format] += 1
        if r.status == "failed":
            t["failed"] += 1
        if r.status in ("completed", EXPIRED):
            t["records"] += r.row_count or 0
            t["bytes"] += r.file_size or 0
            if r.started_at and r.finished_at:
                t["durations"].append((r.finished_at - r.started_at).total_seconds())
    existing = {(s.user_id, s.date): s for s in db.session.scalars(
        sa.select(ExportUsageStats).where(ExportUsageStats.date >= first))}
    for (user_id, day), t in totals.items():
        stats = existing.get((user_id, day)) or ExportUsageStats(user_id=user_id, date=day, organization_id=t["org"])
        db.session.add(stats)
        stats.total_exports, stats.failed_exports = t["total"], t["failed"]
        stats.csv_exports, stats.json_exports, stats.pdf_exports, stats.excel_exports = (
            t["csv"], t["json"], t["pdf"], t["excel"])
        stats.total_records_exported, stats.total_file_size = t["records"], t["bytes"]
        durations = t["durations"]
        stats.avg_processing_time = timedelta(seconds=sum(durations) / len(durations)) if durations else None
    db.session.commit()
    return len(totals)


def usage_by_day(*, user, days: int = 14) -> list[dict]:
    """Totals per day for the chart: the organization for admins, the user's own otherwise."""
    first = utcnow().date() - timedelta(days=days - 1)
    stmt = sa.select(
        ExportUsageStats.date, sa.func.sum(ExportUsageStats.total_exports).label("exports"),
        sa.func.sum(ExportUsageStats.total_records_exported).label("records"),
        sa.func.sum(ExportUsageStats.total_file_size).label("bytes"),
        sa.func.sum(ExportUsageStats.failed_exports).label("failed"),
    ).where(ExportUsageStats.organization_id == user.organization_id, ExportUsageStats.date >= first)
    if user.role != "admin":
        stmt = stmt.where(ExportUsageStats.user_id == user.id)
    found = {r.date: r for r in db.session.execute(stmt.group_by(ExportUsageStats.date))}
    days_out = []
    for i in range(days):
        day = first + timedelta(days=i)
        r = found.get(day)
        days_out.append({"date": day, "exports": int(r.exports or 0) if r else 0,
                         "records": int(r.records or 0) if r else 0, "bytes": int(r.bytes or 0) if r else 0,
                         "failed": int(r.failed or 0) if r else 0})
    return days_out


# --------------------------------------------------------------------------- default templates
from app.exports.seeds import DEFAULT_TEMPLATES, seed_default_templates  # noqa: E402,F401  (re-exported)

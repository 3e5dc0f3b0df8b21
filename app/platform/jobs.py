"""Background jobs: RQ queues, job rows, dispatch, the reconciler and periodic tasks.

The database row is the source of truth. A job row (any model with
`JobStatusMixin`) goes queued -> running -> succeeded | failed. RQ only carries
"run kind K on row N"; Redis losing that message, a killed worker or a timeout
are all repaired from the row by `reconcile()`.

Flow:
1. a service creates the row and calls `job_submit(row)`, which commits it as
   queued (waiting for a slot: `rq_job_id` is empty);
2. `dispatch(org)` gives waiting rows a slot while the organization is under its
   concurrent-job limit: it stores a fresh job id on the row, commits, and only
   then enqueues (enqueue after commit: the worker always finds the row);
3. `execute(kind, row_id)` runs in the worker under a fresh app context: it
   claims the row, calls the kind's handler, marks the row succeeded or failed
   (a readable message), re-raises failures, and dispatches the next waiting row.

Every status change is a compare-and-set UPDATE ("from queued with job id X to
running"), never a read-modify-write of a loaded object. So a duplicate
delivery, a late failure report, the reconciler and a user's Retry can race
freely: exactly one of them wins, and a succeeded row stays succeeded. A job
whose row moved on without it (re-queued, failed by the reconciler, retried)
finds out at its next progress report and stops (`JobSuperseded`).

With no REDIS_URL the same code runs on an embedded queue: fakeredis and a
worker thread inside the web process (single process only; logged at start).
"""
from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from rq import Queue, SimpleWorker, Worker, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.timeouts import JobTimeoutException, TimerDeathPenalty
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.extensions import db
from app.platform.formatting import short_id
from app.platform.models import TenantMixin, TimestampMixin, UTCDateTime, json_dict_column, utcnow
from app.platform.parsing import parse_row_id
from app.platform.reused_horse import ReusedHorseMixin, SessionReset

log = logging.getLogger("cairn.jobs")

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
LOGICAL_STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
JOB_STATUS_LABELS = {QUEUED: "Queued", RUNNING: "Running", SUCCEEDED: "Succeeded", FAILED: "Failed"}


class JobError(Exception):
    """A failure whose message is written for the user (shown on the status panel)."""


class JobSuperseded(Exception):
    """The row moved on without this job (re-queued, failed by the reconciler, retried).

    Raised by `Progress` so a job that lost its row stops at its next report;
    `execute` ends such a delivery quietly: the row's current owner reports.
    """


# ---------------------------------------------------------------------------
# Status on the row
# ---------------------------------------------------------------------------
class JobStatusMixin:
    """Status, progress and outcome of background work, on the domain row.

    Models may name their statuses differently (seed 000's Generation says
    pending / in_progress / completed): override `STATUS_NAMES`, keyed by the
    logical status.

    On a row that did not fail, `error_message` is a note of a transient failure
    the job was retried after ("Retried automatically after a deadlock ...").
    """

    STATUS_NAMES: dict[str, str] = {QUEUED: QUEUED, RUNNING: RUNNING, SUCCEEDED: SUCCEEDED, FAILED: FAILED}
    # One vocabulary for every area's jobs (exports, generations, archives...): the same word for the same status.
    STATUS_LABELS: dict[str, str] = JOB_STATUS_LABELS

    @declared_attr
    def status(cls) -> Mapped[str]:
        # The model's own word for "queued" (a Generation is created 'pending', seed 000's value), never
        # the logical name: a row inserted without job_submit must still pass the model's status CHECK.
        return mapped_column(sa.String(20), nullable=False, default=cls.STATUS_NAMES[QUEUED], index=True)

    progress: Mapped[int] = mapped_column(nullable=False, default=0)
    progress_message: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    error_message: Mapped[Optional[str]] = mapped_column(sa.Text, nullable=True)
    rq_job_id: Mapped[Optional[str]] = mapped_column(sa.String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    enqueued_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    @classmethod
    def status_value(cls, logical: str) -> str:
        return cls.STATUS_NAMES[logical]

    @classmethod
    def status_in(cls, *logical: str):
        return cls.status.in_([cls.STATUS_NAMES[s] for s in logical])

    @property
    def logical_status(self) -> str:
        for logical, stored in self.STATUS_NAMES.items():
            if stored == self.status:
                return logical
        return self.status

    @property
    def status_label(self) -> str:
        if self.logical_status == QUEUED and not self.rq_job_id:
            return "Waiting for a free slot"
        return JOB_STATUS_LABELS.get(self.logical_status, self.status)

    @property
    def is_terminal(self) -> bool:
        return self.logical_status in (SUCCEEDED, FAILED)

    # Columns naming who a job row belongs to, in the order they are looked for.
    OWNER_COLUMNS = ("requested_by_id", "created_by_id", "owner_id")

    def visible_to(self, user) -> bool:
        """Who may see this row's panel: an admin, or the person the work is for.

        A member's exports, generations and project archives are theirs alone,
        as on their own pages; rows that record no owner are for staff only.
        """
        if getattr(user, "role", None) == "admin":
            return True
        for column in self.OWNER_COLUMNS:
            if hasattr(type(self), column):
                return getattr(self, column) is not None and getattr(self, column) == getattr(user, "id", None)
        return getattr(user, "role", None) in ("manager", "agent")

    def may_retry(self, user) -> bool:
        """Who may press Retry: an admin, or whoever asked for the work (rows that record it).

        Rows without a `requested_by_id` column may be retried by any member of
        their organization; a task nobody asked for (None) only by an admin.
        """
        if getattr(user, "role", None) == "admin":
            return True
        if not hasattr(type(self), "requested_by_id"):
            return True
        return self.requested_by_id is not None and self.requested_by_id == getattr(user, "id", None)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def _set(self, logical: str) -> None:
        self.status = self.STATUS_NAMES[logical]


class BackgroundTask(TimestampMixin, TenantMixin, JobStatusMixin, db.Model):
    """Platform-level background work (trash purge, usage retention) started from the UI."""

    __tablename__ = "background_tasks"
    __organization_id_indexed__ = False  # idx_task_org_created leads with it
    __table_args__ = (sa.Index("idx_task_org_created", "organization_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    params: Mapped[dict] = json_dict_column()
    result: Mapped[dict] = json_dict_column()
    requested_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    requested_by = sa.orm.relationship("User", foreign_keys=[requested_by_id])


# ---------------------------------------------------------------------------
# Registry of job kinds
# ---------------------------------------------------------------------------
@dataclass
class JobKind:
    name: str
    model: type
    handler: Callable[[Any, "Progress"], Any]
    queue: str = "default"
    expensive: bool = True
    result_template: str | None = None
    title: Callable[[Any], str] = lambda row: getattr(row, "title", "") or f"Job #{row.id}"
    detail_url: Callable[[Any], str | None] = lambda row: None
    # Called with (row id, reason) after the reconciler failed a row whose job died without telling it
    # (a killed worker, a lost job): the feature keeps its own records of a failure (an audit row, say),
    # which its handler would have written had it been able to.
    on_reconciled_failure: Callable[[int, str], None] | None = None


job_kinds: dict[str, JobKind] = {}
_model_kinds: dict[type, str] = {}


def register_job_kind(kind: JobKind) -> JobKind:
    job_kinds[kind.name] = kind
    _model_kinds.setdefault(kind.model, kind.name)
    return kind


def kind_of(row: Any) -> JobKind:
    if isinstance(row, BackgroundTask):
        return job_kinds[row.kind]
    return job_kinds[_model_kinds[type(row)]]


def find_kind(row: Any) -> JobKind | None:
    """`kind_of`, or None for a row whose kind this process doesn't know."""
    try:
        return kind_of(row)
    except KeyError:
        return None


def job_models() -> list[type]:
    return list(dict.fromkeys(k.model for k in job_kinds.values()))


def _expensive_filter(model: type):
    """SQL condition selecting the rows of `model` that count against the concurrency limit (or None)."""
    kinds = [k for k in job_kinds.values() if k.model is model]
    expensive = [k.name for k in kinds if k.expensive]
    if not expensive:
        return None
    if model is BackgroundTask and len(expensive) < len(kinds):
        return BackgroundTask.kind.in_(expensive)
    return sa.true()


# ---------------------------------------------------------------------------
# Connections and queues
# ---------------------------------------------------------------------------
def get_connection():
    return current_app.extensions["cairn_redis"]


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=get_connection(), default_timeout=current_app.config["JOB_TIMEOUT_SECONDS"])


def init_app(app: Flask) -> None:
    """Bind the app to Redis, or to an embedded fakeredis server when REDIS_URL is empty."""
    _import_extra_job_modules(app)
    app.add_template_global(workers_alive, "job_workers_alive")
    if app.config.get("REDIS_URL"):
        import redis

        app.extensions["cairn_redis"] = redis.Redis.from_url(app.config["REDIS_URL"], **_redis_timeouts(app))
        app.extensions["cairn_embedded_queue"] = False
    else:
        import fakeredis

        server = app.extensions.get("cairn_fake_server") or fakeredis.FakeServer()
        app.extensions["cairn_fake_server"] = server
        app.extensions["cairn_redis"] = fakeredis.FakeRedis(server=server)
        app.extensions["cairn_embedded_queue"] = True
        if app.config.get("EMBEDDED_WORKER"):

            @app.before_request
            def _ensure_embedded_worker() -> None:
                # Started by the first request, in the process that serves (not the reloader's parent).
                start_embedded_worker(app)


def _redis_timeouts(app: Flask, socket_timeout: float | None = None) -> dict:
    return {"socket_connect_timeout": app.config.get("REDIS_SOCKET_CONNECT_TIMEOUT", 5),
            "socket_timeout": socket_timeout or app.config.get("REDIS_SOCKET_TIMEOUT", 5),
            "health_check_interval": app.config.get("REDIS_HEALTH_CHECK_INTERVAL", 30)}


def worker_dequeue_timeout(app: Flask) -> int:
    """How long RQ's worker blocks in BLPOP waiting for a job (RQ: worker_ttl - 15, at least 1)."""
    return max(1, int(app.config.get("WORKER_TTL_SECONDS", 60)) - 15)


def worker_connection(app: Flask):
    """The Redis client of a `flask worker` process's RQ worker: its replies may take as long as a BLPOP.

    A separate client (its own connection pool) from the app's, whose short socket
    timeout would cut the worker's blocking wait for a job short. Its timeout is
    RQ's (the dequeue timeout + 10 s), set here from the start so that no
    connection of it is ever opened with a shorter one.
    """
    connection = app.extensions.get("cairn_redis_worker")
    if connection is None:
        if uses_embedded_queue(app):
            return app.extensions["cairn_redis"]
        import redis

        connection = redis.Redis.from_url(
            app.config["REDIS_URL"], **_redis_timeouts(app, socket_timeout=worker_dequeue_timeout(app) + 10))
        app.extensions["cairn_redis_worker"] = connection
    return connection


def _import_extra_job_modules(app: Flask) -> None:
    """Import modules that register job kinds outside the app (tests' sample jobs).

    Named by EXTRA_JOB_MODULES (config) or CAIRN_EXTRA_JOB_MODULES (environment,
    so a `flask worker` subprocess registers the same kinds), comma-separated.
    """
    names = app.config.get("EXTRA_JOB_MODULES") or os.environ.get("CAIRN_EXTRA_JOB_MODULES", "")
    if isinstance(names, str):
        names = names.split(",")
    for name in (n.strip() for n in names):
        if name:
            importlib.import_module(name)


def uses_embedded_queue(app: Flask | None = None) -> bool:
    return bool((app or current_app).extensions.get("cairn_embedded_queue"))


# ---------------------------------------------------------------------------
# Submitting and dispatching
# ---------------------------------------------------------------------------
def job_submit(row: Any) -> Any:
    """Commit `row` as queued and start it as soon as its organization has a free slot.

    One transaction, two or three statements: the organization's lock (with its
    limit), its active and waiting rows, and the row's INSERT (or UPDATE) with its
    slot already taken when one is free and nothing older waits.
    """
    # Nothing is written before the organization's lock: a row that already exists (created, committed, then
    # submitted) would be UPDATEd by an autoflush here, and a worker dispatching at that moment holds the lock
    # and waits for this row: a deadlock. Lock order everywhere: the organization, then its job rows.
    with db.session.no_autoflush:
        row._set(QUEUED)
        row.rq_job_id = None
        row.progress = 0
        row.progress_message = ""
        row.error_message = None
        row.enqueued_at = row.started_at = row.finished_at = None
        db.session.add(row)
        kind = find_kind(row)
        organization_id = row.organization_id
    if kind is not None and not kind.expensive:  # no limit to respect: no lock, no counting
        _take_slot(row, kind)
        db.session.flush()
        row_id, job_id = row.id, row.rq_job_id
        db.session.commit()
        _enqueue(kind, row_id, job_id)
        return row
    dispatch(organization_id, new_row=row)
    return row


def job_retry(row: Any) -> Any:
    """Queue a failed row again (the user pressed Retry)."""
    if row.logical_status != FAILED:
        raise JobError("Only a failed job can be retried.")
    row.attempts = 0
    return job_submit(row)


def _job_limit(settings: dict | None, tier: str | None) -> int:
    from app.accounts.models import TIER_JOB_LIMITS  # platform reads the tenant's limit, imports no views

    return int((settings or {}).get("max_concurrent_jobs", TIER_JOB_LIMITS.get(tier, 3)))


def organization_job_limit(organization_id: int) -> int | None:
    """How many expensive jobs the organization may run at once; None once it is deleted (its rows wait)."""
    from app.accounts.models import Organization

    org = db.session.get(Organization, organization_id, populate_existing=True)
    if org is None:  # rows of no organization (tests' bare rows)
        return current_app.config["DEFAULT_MAX_CONCURRENT_JOBS"]
    return org.max_concurrent_jobs if org.is_active else None


_lock_statements: dict[str, Any] = {}


def _lock_organization(organization_id: int) -> int | None:
    """Serialise dispatch per organization until the caller commits; return its job limit (one statement).

    PostgreSQL: a row lock. SQLite has no row locks: a no-op UPDATE takes the
    database's write lock at once, so the web thread and the worker thread can't
    both read the same free slot (reads inside the lock see every commit).
    None: the organization is deleted (its rows wait; they run if it is restored).
    """
    from app.accounts.models import Organization

    dialect = db.session.get_bind().dialect.name
    statement = _lock_statements.get(dialect)
    if statement is None:
        table = Organization.__table__
        columns = (table.c.settings, table.c.subscription_tier, table.c.is_active)
        where = table.c.id == sa.bindparam("organization_id", type_=sa.Integer)
        if dialect == "postgresql":
            statement = sa.select(*columns).where(where).with_for_update()
        else:  # updated_at named so its onupdate default doesn't fire: nothing about the organization changed
            statement = (sa.update(table).where(where)
                         .values(id=table.c.id, updated_at=table.c.updated_at).returning(*columns))
        _lock_statements[dialect] = statement
    found = db.session.execute(statement, {"organization_id": organization_id}).first()
    if found is None:  # rows of no organization (tests' bare rows)
        return current_app.config["DEFAULT_MAX_CONCURRENT_JOBS"]
    return _job_limit(found.settings, found.subscription_tier) if found.is_active else None


@dataclass
class _Waiting:
    model: type
    id: int
    created_at: datetime
    kind_name: str | None


def _organization_jobs(organization_id: int, exclude: Any = None) -> tuple[int, list[_Waiting]]:
    """(expensive rows holding a slot, the oldest rows waiting for one) of every job model, in one statement.

    `exclude` is a row being submitted: it is counted by the caller, not here.
    """
    models, statement = _organization_jobs_statement()
    params = {"organization_id": organization_id}
    for index, model in enumerate(models):
        excluded = exclude is not None and type(exclude) is model and exclude.id is not None
        params[f"exclude_{index}"] = exclude.id if excluded else _no_row_id(model)
    active, rows = 0, []
    for found in db.session.execute(statement, params):
        if found.job_id is not None:
            active += 1
        else:
            model = models[found.m]
            rows.append(_Waiting(model, parse_row_id(model, found.id), found.created_at, found.kind))
    rows.sort(key=lambda r: (r.created_at, r.model.__tablename__, r.id))  # ints and UUIDs don't compare
    return active, rows


def _no_row_id(model: type) -> Any:
    """A key no row of `model` has (-1, or the nil UUID), for "exclude nothing"."""
    return uuid.UUID(int=0) if isinstance(model.__table__.c.id.type, sa.Uuid) else -1


_statement_cache: dict[tuple, tuple[list[type], Any]] = {}


def _organization_jobs_statement() -> tuple[list[type], Any]:
    """The union behind `_organization_jobs`, built once per set of job kinds (building it costs more than running it)."""
    key = tuple((k.name, k.model, k.expensive) for k in job_kinds.values())
    cached = _statement_cache.get(key)
    if cached is not None:
        return cached
    models = job_models()
    organization_id = sa.bindparam("organization_id", type_=sa.Integer)
    selects = []
    for index, model in enumerate(models):
        kind_column = model.kind if model is BackgroundTask else sa.null()
        # Ids as text: some tables have integer keys, others UUIDs, and a UNION needs one type.
        columns = (sa.literal(index, sa.Integer).label("m"), sa.cast(model.id, sa.String(36)).label("id"),
                   model.created_at.label("created_at"), model.rq_job_id.label("job_id"),
                   sa.cast(kind_column, sa.String).label("kind"))
        mine = [model.organization_id == organization_id,
                model.id != sa.bindparam(f"exclude_{index}", type_=model.__table__.c.id.type)]
        expensive = _expensive_filter(model)
        if expensive is not None:
            selects.append(sa.select(*columns).where(*mine, expensive, sa.or_(
                model.status_in(RUNNING), sa.and_(model.status_in(QUEUED), model.rq_job_id.is_not(None)))))
        waiting = (sa.select(*columns).where(*mine, model.status_in(QUEUED), model.rq_job_id.is_(None))
                   .order_by(model.created_at, model.id).limit(100).subquery())
        selects.append(sa.select(*waiting.c))
    _statement_cache.clear()
    _statement_cache[key] = (models, sa.union_all(*selects))
    return _statement_cache[key]


def _kind_for(waiting: _Waiting) -> JobKind | None:
    name = waiting.kind_name if waiting.model is BackgroundTask else _model_kinds.get(waiting.model)
    return job_kinds.get(name) if name else None


def _new_job_id(kind: JobKind, row_id: int | uuid.UUID | None) -> str:
    """`<kind>-<row id>-<random>` (a UUID id as 32 hex digits: the column holds 64 characters);
    a row not yet INSERTed has no id: `<kind>-<random>`."""
    if row_id is None:
        return f"{kind.name}-{uuid.uuid4().hex}"
    key = row_id.hex if isinstance(row_id, uuid.UUID) else row_id
    return f"{kind.name}-{key}-{uuid.uuid4().hex[:12]}"


def _take_slot(row: Any, kind: JobKind) -> None:
    """Give a row being submitted its job id (written by its INSERT or UPDATE)."""
    row.rq_job_id = _new_job_id(kind, row.id)
    row.enqueued_at = utcnow()
    row.attempts = (row.attempts or 0) + 1


def dispatch(organization_id: int, *, new_row: Any = None) -> list[str]:
    """Enqueue waiting rows of one organization while it is under its limit. Returns job ids.

    `new_row` is a row being submitted (not yet committed): it waits behind older
    waiting rows and is committed by this transaction either way.
    """
    try:
        with db.session.no_autoflush:  # a submitted row is INSERTed once, with its slot, at the commit
            limit = _lock_organization(organization_id)
        if limit is None:
            db.session.commit() if new_row is not None else db.session.rollback()
            return []
        to_enqueue = _give_slots(organization_id, limit, new_row=new_row)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return _enqueue_all(to_enqueue)


def _enqueue_all(to_enqueue: list[tuple[JobKind, int, str]]) -> list[str]:
    for kind, row_id, job_id in to_enqueue:
        _enqueue(kind, row_id, job_id)
    return [job_id for _, _, job_id in to_enqueue]


def _give_slots(organization_id: int, limit: int, *, new_row: Any = None) -> list[tuple[JobKind, int, str]]:
    """Under the organization's lock: give free slots to waiting rows, oldest first; what to enqueue after commit."""
    started: list[tuple[JobKind, Any, str]] = []
    with db.session.no_autoflush:
        active, waiting = _organization_jobs(organization_id, exclude=new_row)
    if new_row is not None:
        waiting.append(_Waiting(type(new_row), new_row.id, utcnow(), getattr(new_row, "kind", None)))
    for candidate in waiting:
        kind = _kind_for(candidate)
        if kind is None:
            log.error("%s #%s has a job kind this process doesn't know; left waiting",
                      candidate.model.__name__, candidate.id)
            continue
        if kind.expensive and active >= limit:
            continue
        if new_row is not None and candidate.model is type(new_row) and candidate.id == new_row.id:
            _take_slot(new_row, kind)
            started.append((kind, new_row, new_row.rq_job_id))
        else:
            job_id = _new_job_id(kind, candidate.id)
            if not _give_waiting_row_slot(candidate.model, candidate.id, job_id):
                continue
            started.append((kind, candidate.id, job_id))
        active += 1 if kind.expensive else 0
    db.session.flush()  # the submitted row's id, read now: after the commit it would cost a SELECT
    return [(kind, row.id if isinstance(row, db.Model) else row, job_id) for kind, row, job_id in started]


def _give_waiting_row_slot(model: type, row_id: int, job_id: str) -> bool:
    return _update(model, [model.id == row_id, model.status_in(QUEUED), model.rq_job_id.is_(None)],
                   rq_job_id=job_id, enqueued_at=utcnow(), attempts=model.attempts + 1)


def _enqueue(kind: JobKind, row_id: int, job_id: str, *, delay: float = 0) -> None:
    """Put the job in its queue (after `delay` seconds: RQ's scheduler moves it there)."""
    options = dict(
        args=(kind.name, row_id),
        job_id=job_id,
        timeout=current_app.config["JOB_TIMEOUT_SECONDS"],
        result_ttl=3600,
        failure_ttl=7 * 86400,
        description=f"{kind.name} #{row_id}",
    )
    try:
        queue = get_queue(kind.queue)
        if delay:  # enqueue_at takes enqueue()'s argument names
            args = options.pop("args")
            options["job_timeout"] = options.pop("timeout")
            queue.enqueue_in(timedelta(seconds=delay), "app.platform.jobs.execute", *args, **options)
        else:
            queue.enqueue_call("app.platform.jobs.execute", **options)
    except Exception:  # Redis down: the row stays queued with its id; the reconciler re-queues it.
        log.exception("could not enqueue %s #%s; the reconciler will retry", kind.name, row_id)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------
def _owned(model: type, row_id: int, job_id: str | None, *statuses: str) -> list:
    """Conditions for "row `row_id` is still in `statuses` and still belongs to job `job_id`"."""
    conditions = [model.id == row_id, model.status_in(*statuses)]
    if job_id is not None:
        conditions.append(model.rq_job_id == job_id)
    return conditions


def _update(model: type, conditions: list, **values: Any) -> bool:
    """One compare-and-set UPDATE; True when it changed the row."""
    result = db.session.execute(
        sa.update(model).where(*conditions).values(**values).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _record_progress(model: type, row_id: int, job_id: str | None, percent: float, message: str) -> bool:
    return _update(model, _owned(model, row_id, job_id, RUNNING),
                   progress=max(0, min(100, int(percent))), progress_message=(message or "")[:255])


def _record_success(model: type, row_id: int, job_id: str | None) -> bool:
    return _update(model, _owned(model, row_id, job_id, RUNNING),
                   status=model.status_value(SUCCEEDED), progress=100, finished_at=utcnow())


class Progress:
    """Handed to handlers: `progress(40, "Deleted 400 of 1,000")` commits the row's progress.

    It commits the session, so call it only between consistent units of work.
    It raises `JobSuperseded` when the row no longer belongs to this job (the
    reconciler failed or re-queued it, or the user retried it): stop then.
    Report at least every JOB_SILENT_AFTER_SECONDS: the reconciler reads a long
    silence of a row whose job vanished from Redis as a dead job.
    """

    def __init__(self, row: Any, job_id: str | None = None) -> None:
        self.row = row
        self.model = type(row)
        self.row_id = row.id
        self.job_id = job_id

    def __call__(self, percent: float, message: str = "") -> None:
        if not _record_progress(self.model, self.row_id, self.job_id, percent, message):
            db.session.rollback()
            raise JobSuperseded(f"{self.model.__name__} #{self.row_id} no longer belongs to job {self.job_id}")
        db.session.commit()


def execute(kind_name: str, row_id: int) -> Any:
    """The RQ job function: run kind `kind_name` on row `row_id`. Takes ids, loads rows.

    Returns a small summary (the result itself is on the row), or None when
    this delivery had nothing to do (a duplicate, or the row moved on).
    Bookkeeping is four statements in two commits (claim and load; then the
    organization's lock, the row's success and the organization's jobs, committed
    with the handler's work), five when a waiting row takes the freed slot.
    """
    kind = job_kinds.get(kind_name)
    if kind is None:
        raise JobError(f"This worker doesn't know the job kind {kind_name!r} (is it running the same code?).")
    job = get_current_job()
    job_id = job.id if job is not None else None
    organization_id = None
    try:
        try:
            row = _claim(kind.model, row_id, job_id)
        except Exception as exc:  # the database is away: the reconciler re-queues this job when it is back
            reason = transient_reason(exc)
            if reason is None:
                raise
            raise TransientJobFailure(f"{TRANSIENT_MARKER} {reason}") from exc
        if row is None:
            log.info("%s #%s: not queued for job %s (duplicate or superseded delivery); nothing to do",
                     kind_name, row_id, job_id)
            return None
        organization_id = row.organization_id
        result = _run(kind, row, job_id)
    except BaseException:
        db.session.remove()
        _dispatch_after(kind, organization_id, row_id)
        raise
    db.session.remove()
    if result is None:  # superseded or re-queued: any slot it freed goes to the next waiting row
        _dispatch_after(kind, organization_id, row_id)
    return result


def _dispatch_after(kind: JobKind, organization_id: int | None, row_id: int) -> None:
    """Start the next waiting row after a job that did not succeed (success dispatches in its own commit)."""
    if organization_id is None or not kind.expensive:
        return
    try:
        dispatch(organization_id)
    except Exception:
        log.exception("dispatch after %s #%s failed; the reconciler will dispatch", kind.name, row_id)
    finally:
        db.session.remove()


def _claim(model: type, row_id: int, job_id: str | None) -> Any | None:
    """queued (for this job) -> running, atomically, and the row (one UPDATE ... RETURNING), or None."""
    statement = (sa.update(model).where(*_owned(model, row_id, job_id, QUEUED))
                 .values(status=model.status_value(RUNNING), started_at=utcnow(), finished_at=None)
                 .returning(model)
                 .execution_options(synchronize_session=False, populate_existing=True))
    row = db.session.scalars(statement).first()
    session = db.session()
    session.expire_on_commit = False  # the handler reads the row as claimed, without loading it again
    try:
        db.session.commit()
    finally:
        session.expire_on_commit = True
    return row


def _run(kind: JobKind, row: Any, job_id: str | None) -> Any:
    """Run the handler; commit its work, the row's success and the freed slot's next job in one transaction."""
    model, row_id, organization_id = kind.model, row.id, row.organization_id
    try:
        kind.handler(row, Progress(row, job_id))
        db.session.flush()
        # The organization's lock before the row's success: every dispatcher locks in that order.
        limit = _lock_organization(organization_id) if kind.expensive else None
        if not _record_success(model, row_id, job_id):
            raise JobSuperseded(f"{model.__name__} #{row_id} changed hands while job {job_id} ran")
        to_enqueue = _give_slots(organization_id, limit) if limit is not None else []
        db.session.commit()
    except JobSuperseded as exc:
        db.session.rollback()
        log.warning("%s #%s: %s; this delivery stops without a result", kind.name, row_id, exc)
        return None
    except BaseException as exc:
        db.session.rollback()
        reason = transient_reason(exc)
        if reason is not None:
            return _retry_transient(kind, row_id, job_id, reason, exc)
        try:
            _mark_failed(model, row_id, job_id, _readable_error(exc, job_id))
        except Exception:
            db.session.rollback()
            log.exception("could not record the failure of %s #%s; the reconciler will", kind.name, row_id)
        raise
    _enqueue_all(to_enqueue)
    return {"kind": kind.name, "row_id": row_id, "status": SUCCEEDED}


# ---------------------------------------------------------------------------
# Transient failures: the database went away, a serialization failure, a deadlock
# ---------------------------------------------------------------------------
TRANSIENT_MARKER = "[cairn-transient]"
# SQLSTATE classes and codes that say "try again": connection exceptions (08), serialization failure,
# deadlock, and the server shutting down or starting up (57P01-57P03).
_TRANSIENT_SQLSTATES = {"40001": "a serialization failure", "40P01": "a deadlock",
                        "57P01": "the database server was restarted", "57P02": "the database server crashed",
                        "57P03": "the database server was starting up"}


class TransientJobFailure(Exception):
    """A job stopped by a transient failure that could not be recorded on its row (the database is away).

    Its message starts with TRANSIENT_MARKER: the reconciler re-queues such a job
    instead of failing it.
    """


def transient_reason(exc: BaseException) -> str | None:
    """Why `exc` (or an exception it wraps) is worth retrying as is, in words; None for a real failure."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, TransientJobFailure):
            return str(exc).replace(TRANSIENT_MARKER, "").strip()
        if isinstance(exc, sa.exc.DBAPIError):
            code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
            if exc.connection_invalidated:
                return "the database connection was lost"
            if code in _TRANSIENT_SQLSTATES:
                return _TRANSIENT_SQLSTATES[code]
            if code and code.startswith("08"):
                return "the database connection was lost"
            if isinstance(exc, sa.exc.OperationalError) and code is None:
                text = str(exc.orig).lower()
                if "locked" in text or "busy" in text:  # SQLite: another writer held the database too long
                    return "the database was busy"
                # Any other SQLite error (a missing table, a full disk) is real; the PostgreSQL driver's
                # OperationalErrors without a SQLSTATE are a refused, closed or reset connection.
                if not type(exc.orig).__module__.startswith("sqlite3"):
                    return "the database connection was lost"
        exc = exc.__cause__ or exc.__context__
    return None


def _retry_transient(kind: JobKind, row_id: int, job_id: str | None, reason: str, exc: BaseException) -> None:
    """Queue the row again after a backoff, saying why on it; waits a while for the database to come back.

    When the database stays away, TransientJobFailure ends this delivery and the
    reconciler re-queues the row once it can. Out of attempts, the row fails
    with the reason.
    """
    config = current_app.config
    model = kind.model
    deadline = time.monotonic() + config["JOB_TRANSIENT_WAIT_SECONDS"]
    pause = 0.5
    while True:
        try:
            return _requeue_after_transient(kind, row_id, job_id, reason)
        except Exception as retry_exc:
            db.session.rollback()
            if transient_reason(retry_exc) is None or time.monotonic() + pause > deadline:
                raise TransientJobFailure(f"{TRANSIENT_MARKER} {reason}") from exc
            log.warning("%s #%s: waiting %.1f s for the database to record a retry", model.__name__, row_id, pause)
            time.sleep(pause)
            pause = min(pause * 2, 10)


def _requeue_after_transient(kind: JobKind, row_id: int, job_id: str | None, reason: str) -> None:
    model = kind.model
    config = current_app.config
    found = db.session.execute(sa.select(model.attempts, model.organization_id).where(model.id == row_id)).first()
    attempts, organization_id = (found.attempts or 0, found.organization_id) if found else (0, None)
    if attempts >= config["JOB_MAX_ATTEMPTS"]:
        message = (f"The job stopped because {reason}, and it was tried {attempts} times. "
                   "Press Retry to run it again.")
        if _update(model, _owned(model, row_id, job_id, QUEUED, RUNNING),
                   status=model.status_value(FAILED), error_message=message, finished_at=utcnow()):
            _audit_job(organization_id, kind, row_id, "job_failed",
                       {"reason": reason, "attempts": attempts, "automatic": True})
        db.session.commit()
        log.error("%s #%s failed for good: %s (attempt %s)", kind.name, row_id, reason, attempts)
        return None
    delay = config["JOB_RETRY_BACKOFF_SECONDS"] * 2 ** max(0, attempts - 1)
    new_job_id = _new_job_id(kind, row_id)
    message = f"Retrying in {delay} s: {reason} (attempt {attempts} of {config['JOB_MAX_ATTEMPTS']})."
    # error_message keeps the note on the row whatever happens next (shown only if the job fails);
    # a user's Retry clears it.
    note = f"Retried automatically after {reason} (attempt {attempts} of {config['JOB_MAX_ATTEMPTS']})."
    if not _update(model, _owned(model, row_id, job_id, RUNNING), status=model.status_value(QUEUED),
                   rq_job_id=new_job_id, attempts=attempts + 1, started_at=None, enqueued_at=utcnow(),
                   progress=0, progress_message=message[:255], error_message=note):
        db.session.rollback()
        return None  # the row moved on (a user's Retry, the reconciler): its new owner reports
    _audit_job(organization_id, kind, row_id, "job_retried",
               {"reason": reason, "attempt": attempts, "of": config["JOB_MAX_ATTEMPTS"], "delay_seconds": delay})
    db.session.commit()
    log.warning("%s #%s: %s", kind.name, row_id, message)
    _enqueue(kind, row_id, new_job_id, delay=delay)
    return None


def _audit_job(organization_id: int | None, kind: JobKind, row_id, action: str, changes: dict) -> None:
    """An Activity entry (audit_events) for what the platform did to a job on its own, in the caller's transaction.

    Automatic retries and the reconciler's repairs change a row nobody touched:
    the Activity page says when, why and how often (`job_retried`, `job_requeued`,
    `job_failed`), next to the note on the row itself.
    """
    if organization_id is None:
        return
    from app.accounts.models import AuditEvent  # platform records into the tenant's log, imports no views

    # audit_events.object_id holds integer keys; rows keyed by a UUIDv7 (projects, exports) keep theirs
    # in `changes` and show its random end, as their pages do.
    numeric = isinstance(row_id, int)
    label = f"{kind.name} #{short_id(row_id if numeric else uuid.UUID(str(row_id)))}"
    db.session.execute(sa.insert(AuditEvent).values(
        organization_id=organization_id, actor_id=None, action=action, object_type=kind.name,
        object_id=row_id if numeric else None, object_label=label[:255],
        changes=changes if numeric else {**changes, "row_id": str(row_id)}, created_at=utcnow()))


def _readable_error(exc: BaseException, job_id: str | None) -> str:
    from app.platform import storage  # storage registers its sweep here: imported late

    if isinstance(exc, JobError):
        return str(exc)
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:  # a full disk, however deep in the chain, is said so
        seen.add(id(cause))
        if isinstance(cause, storage.StorageFull):
            return str(cause)
        if storage.is_storage_full(cause):
            return str(storage.storage_error(cause))
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, JobTimeoutException):
        job = get_current_job()  # the limit it was enqueued with, not this worker's default
        limit = (job.timeout if job is not None and job.timeout else None) or current_app.config["JOB_TIMEOUT_SECONDS"]
        return (f"The job took longer than its limit of {int(limit)} second{'s' if int(limit) != 1 else ''} "
                "and was stopped. Try a smaller request, or ask an admin to raise the limit.")
    log.error("job %s failed", job_id, exc_info=exc)
    return (f"Unexpected error ({type(exc).__name__}). It has been logged as {job_id or 'inline'}; "
            "try again or contact support.")


def _mark_failed(model: type, row_id: int, job_id: str | None, message: str) -> bool:
    """Fail the row unless it already finished or moved to another job; a late failure never overwrites success."""
    changed = _update(model, _owned(model, row_id, job_id, QUEUED, RUNNING),
                      status=model.status_value(FAILED), error_message=message, finished_at=utcnow())
    db.session.commit()
    return changed


# ---------------------------------------------------------------------------
# Reconciler
# ---------------------------------------------------------------------------
LOST_MESSAGE = "the job queue lost this job (was Redis restarted?)"
KILLED_MESSAGE = ("The job stopped unexpectedly: the worker running it was killed, ran out of memory or "
                  "hit its time limit. Press Retry to run it again.")
SILENT_MESSAGE = ("The worker running this job stopped responding (it was killed or lost its connection). "
                  "Press Retry to run it again.")
STOPPED_MESSAGE = "The job was stopped before it finished. Press Retry to run it again."
NO_RESULT_MESSAGE = "The job ended without recording its result. Press Retry to run it again."


def reconcile(now: datetime | None = None) -> dict[str, int]:
    """Repair rows stuck queued/running with no live job. Runs about every minute.

    - job gone from Redis (restart without persistence, flushed): re-queue the
      row while it has attempts left, else fail it;
    - job failed in RQ (work-horse killed, timeout) but the row never heard:
      fail the row with a readable reason;
    - job "started" but its heartbeat stopped (worker and horse killed): fail it.
    Each repair is a compare-and-set on the status and job id that were judged,
    so a job finishing meanwhile keeps its result.
    """
    now = now or utcnow()
    config = current_app.config
    grace = now - timedelta(seconds=config["JOB_RECONCILE_GRACE_SECONDS"])
    stale = now - timedelta(seconds=config["JOB_STALE_AFTER_SECONDS"])
    silent_since = now - timedelta(seconds=config["JOB_SILENT_AFTER_SECONDS"])
    connection = get_connection()
    # The embedded worker runs reconcile on its own thread, between jobs: a "started" job there is running.
    heartbeats = not uses_embedded_queue()
    counts = {"requeued": 0, "failed": 0, "dispatched": 0}
    organizations: set[int] = set()
    for model in job_models():
        candidates = db.session.execute(
            sa.select(model.id, model.organization_id, model.status, model.rq_job_id, model.attempts,
                      model.updated_at).where(
                model.status_in(QUEUED, RUNNING),
                model.rq_job_id.is_not(None),
                sa.func.coalesce(model.started_at, model.enqueued_at, model.created_at) <= grace,
            )
        ).all()
        db.session.rollback()
        for row in candidates:
            verdict = _judge(model, row, connection, stale, silent_since, heartbeats=heartbeats)
            if verdict is None:
                continue
            key, values = _repair(model, row, verdict, now, config["JOB_MAX_ATTEMPTS"])
            if _update(model, [model.id == row.id, model.status == row.status, model.rq_job_id == row.rq_job_id],
                       **values):
                log.warning("reconcile: %s #%s %s: %s", model.__name__, row.id, key, verdict[1])
                kind = _kind_of_row(model, row.id)
                if kind is not None:
                    _audit_job(row.organization_id, kind, row.id, f"job_{key}",
                               {"reason": values.get("error_message") or verdict[1], "by": "reconciler"})
                counts[key] += 1
                organizations.add(row.organization_id)
                db.session.commit()
                if key == "failed":
                    _after_reconciled_failure(model, row.id, values["error_message"])
            db.session.commit()
    for model in job_models():
        organizations.update(db.session.scalars(
            sa.select(model.organization_id).where(model.status_in(QUEUED), model.rq_job_id.is_(None)).distinct()
        ))
    db.session.rollback()
    for organization_id in sorted(organizations):
        counts["dispatched"] += len(dispatch(organization_id))
    return counts


def _kind_of_row(model: type, row_id: int) -> JobKind | None:
    if model is BackgroundTask:
        name = db.session.scalar(sa.select(BackgroundTask.kind).where(BackgroundTask.id == row_id))
        return job_kinds.get(name) if name else None
    name = _model_kinds.get(model)
    return job_kinds.get(name) if name else None


def _after_reconciled_failure(model: type, row_id: int, reason: str) -> None:
    kind = find_kind(db.session.get(model, row_id))
    if kind is None or kind.on_reconciled_failure is None:
        return
    try:
        kind.on_reconciled_failure(row_id, reason)
    except Exception:  # the row is failed either way; its feature's own record is what went missing
        db.session.rollback()
        log.exception("reconcile: %s #%s: recording the failure failed", model.__name__, row_id)


def _repair(model: type, row: Any, verdict: tuple[str, str], now: datetime, max_attempts: int) -> tuple[str, dict]:
    action, reason = verdict
    if action == "requeue" and row.attempts < max_attempts:
        return "requeued", {"status": model.status_value(QUEUED), "rq_job_id": None, "started_at": None,
                            "progress": 0, "progress_message": f"Re-queued: {reason}."}
    if action == "requeue":
        reason = (f"{reason[0].upper()}{reason[1:]} and it was tried {row.attempts} times. "
                  "Press Retry to run it again.")
    return "failed", {"status": model.status_value(FAILED), "error_message": reason, "finished_at": now}


def _judge(model: type, row: Any, connection, stale: datetime, silent_since: datetime, *,
           heartbeats: bool) -> tuple[str, str] | None:
    """What to do with a queued/running row whose job is `row.rq_job_id`: None, or (action, reason)."""
    # A running row that still reports progress is alive, whatever Redis says now.
    silent = (row.status != model.status_value(RUNNING) or row.updated_at is None
              or row.updated_at < silent_since)
    try:
        job = Job.fetch(row.rq_job_id, connection=connection)
        status = job.get_status(refresh=False)
    except NoSuchJobError:
        return ("requeue", LOST_MESSAGE) if silent else None
    if status == JobStatus.FAILED:
        transient = _transient_failure(job)
        return ("requeue", transient) if transient else ("fail", KILLED_MESSAGE)
    if status in (JobStatus.STOPPED, JobStatus.CANCELED):
        return ("fail", STOPPED_MESSAGE)
    if status == JobStatus.FINISHED:
        return ("fail", NO_RESULT_MESSAGE) if silent else None
    if status == JobStatus.STARTED and heartbeats:
        heartbeat = job.last_heartbeat or job.started_at
        if heartbeat is not None and heartbeat.tzinfo is None:
            heartbeat = heartbeat.replace(tzinfo=stale.tzinfo)
        if heartbeat is not None and heartbeat < stale:
            return ("fail", SILENT_MESSAGE)
    return None


def _transient_failure(job: Job) -> str | None:
    """The reason a job gave up on a transient failure it could not record (TransientJobFailure), else None."""
    try:
        result = job.latest_result()
    except Exception:  # an old or foreign result format: judge it as a plain failure
        return None
    text = (result.exc_string or "") if result is not None else ""
    marker = text.rfind(TRANSIENT_MARKER)
    if marker < 0:
        return None
    return text[marker + len(TRANSIENT_MARKER):].strip().splitlines()[0] or "a transient failure"


# ---------------------------------------------------------------------------
# Periodic tasks
# ---------------------------------------------------------------------------
@dataclass
class PeriodicTask:
    name: str
    interval_seconds: int
    function: str  # dotted path, imported in the worker
    queue: str = "default"
    interval_setting: str | None = None  # a config key that overrides interval_seconds

    def interval(self) -> int:
        if self.interval_setting and has_app_context():
            return int(current_app.config.get(self.interval_setting) or self.interval_seconds)
        return self.interval_seconds


periodic_tasks: dict[str, PeriodicTask] = {}


def register_periodic(name: str, interval_seconds: int, function: str, queue: str = "default", *,
                      interval_setting: str | None = None) -> None:
    periodic_tasks[name] = PeriodicTask(name, interval_seconds, function, queue, interval_setting)


# Often: with JOB_STALE_AFTER_SECONDS of 15 a killed worker's row fails within about 30 s.
register_periodic("reconcile-jobs", 10, "app.platform.jobs.reconcile", interval_setting="JOB_RECONCILE_INTERVAL_SECONDS")


def beat_tick(now: float | None = None) -> list[str]:
    """Enqueue every periodic task whose slot has come. Exactly once per slot across workers.

    The slot key is taken with SET NX in Redis and the RQ job id is derived from
    the slot, so two workers ticking at once enqueue each task once.
    """
    now = time.time() if now is None else now
    connection = get_connection()
    enqueued = []
    for task in periodic_tasks.values():
        interval = task.interval()
        slot = int(now // interval)
        key = f"cairn:periodic:{task.name}:{slot}"
        if connection.set(key, "1", nx=True, ex=interval * 2):
            get_queue(task.queue).enqueue_call(
                "app.platform.jobs.run_periodic",
                args=(task.name,),
                job_id=f"periodic-{task.name}-{slot}",
                result_ttl=interval * 2,
                description=f"periodic {task.name}",
            )
            enqueued.append(task.name)
    return enqueued


def run_periodic(name: str) -> Any:
    task = periodic_tasks[name]
    module_name, _, function_name = task.function.rpartition(".")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        return function()
    finally:
        db.session.remove()


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------
_worker_app: Flask | None = None


def set_worker_app(app: Flask) -> None:
    """The app `AppContextJob` uses when a job runs outside any app context (`rq worker --job-class`)."""
    global _worker_app
    _worker_app = app


class AppContextJob(Job):
    """Every job runs in a fresh app context (its own database session).

    Our workers (`make_worker`) push their app's context around each job; with a
    plain `rq worker --job-class app.platform.jobs.AppContextJob` there is none,
    and one app is built per process.
    """

    def perform(self) -> Any:
        if has_app_context():
            app = current_app._get_current_object()
        else:
            if _worker_app is None:
                from app import create_app

                set_worker_app(create_app())
            app = _worker_app
        with app.app_context():
            return super().perform()


class _AppWorkerMixin:
    """Runs every job inside `self.app`'s context; a forked work-horse first drops inherited connections."""

    app: Flask | None = None  # set by make_worker; without it AppContextJob builds the process's app
    _app_pid: int = 0
    handoff: "ConnectionHandoff | None" = None  # forking workers on PostgreSQL (see ConnectionHandoff)

    def perform_job(self, job: Job, queue: Queue) -> bool:
        if self.app is None:
            return super().perform_job(job, queue)
        if os.getpid() != self._app_pid:
            # A forked work-horse must not share the parent's pooled database connections.
            with self.app.app_context():
                db.engine.dispose(close=False)
            self._app_pid = os.getpid()
        try:
            with self.app.app_context():
                return super().perform_job(job, queue)
        finally:
            if self.handoff is not None and not getattr(self, "reuses_horses", False):
                self.handoff.horse_done()  # a reused horse does this once, when it ends (horse_ending)


class CairnWorker(_AppWorkerMixin, ReusedHorseMixin, Worker):
    """The `flask worker` process: jobs run in a forked work-horse (a crash or kill can't take the worker down).

    The horse serves up to JOB_HORSE_MAX_JOBS jobs before it is replaced
    (`ReusedHorseMixin`, platform/reused_horse.py); 1 forks a horse per job, as
    RQ's `Worker` does. What a new horse would otherwise redo is done once here,
    in the worker, and inherited through the fork: the app, the job modules and
    the bookkeeping statements' compiled SQL (`warm_up_statements`). On
    PostgreSQL the horses take turns on one database connection the worker
    opened (`ConnectionHandoff`): connecting was the dearest step of a short job.
    """

    wal_trim: "SqliteWalTrim | None" = None  # forking workers on SQLite (see SqliteWalTrim)
    session_reset: "SessionReset | None" = None  # in a reused horse on PostgreSQL

    def before_horse_fork(self) -> None:
        if self.handoff is not None:
            self.handoff.before_fork()

    def after_horse_fork(self) -> None:
        if self.handoff is not None:
            self.handoff.after_fork()

    def after_horse_gone(self) -> None:
        if self.handoff is not None:
            self.handoff.after_horse()

    def horse_started(self) -> None:
        with self.app.app_context():
            db.engine.dispose(close=False)  # the worker's pooled connections are not the horse's
            if db.engine.dialect.name == "postgresql":
                self.session_reset = SessionReset(db.engine)
        self._app_pid = os.getpid()

    def horse_after_job(self) -> None:
        if self.session_reset is not None:
            self.session_reset.after_job()

    def horse_ending(self) -> None:
        if self.handoff is not None:
            self.handoff.horse_done()

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        finally:
            if self.wal_trim is not None:
                self.wal_trim.after_horse()

    def teardown(self) -> None:
        if not self.is_horse:
            horse_running = bool(self.horse_pid) or bool(self._horse_link and self._horse_link.busy)
            self.retire_horse()
            if self.handoff is not None:
                self.handoff.close(horse_running=horse_running)
        super().teardown()


def warm_up_statements() -> None:
    """Run every bookkeeping statement once, changing nothing (no such row or organization), then roll back.

    SQLAlchemy caches compiled SQL on the engine; the `flask worker` process
    itself never runs a job, so without this each forked work-horse compiled
    the claim, progress and success statements again (a third of a short job's
    time in the horse). Afterwards the worker's own connection is closed: a
    work-horse inherits the cache, never a connection.
    """
    try:
        with db.session.no_autoflush:
            _lock_organization(-1)
            _organization_jobs(-1)
            for model in job_models():
                none = _no_row_id(model)  # -1, or the nil UUID for UUID-keyed rows
                _claim(model, none, "warm-up")
                _record_progress(model, none, "warm-up", 0, "")
                _record_success(model, none, "warm-up")
                _give_waiting_row_slot(model, none, "warm-up")
                _update(model, _owned(model, none, "warm-up", QUEUED, RUNNING),
                        status=model.status_value(FAILED), error_message="", finished_at=utcnow())
        db.session.rollback()
    except Exception as exc:  # only a speed-up: a database that is away now is the jobs' business
        log.warning("warming up the job statements failed: %s", exc)
    finally:
        db.session.remove()
        db.engine.dispose()


class ConnectionHandoff:
    """PostgreSQL: work-horses take turns on one connection the worker opened for them.

    A work-horse must not share a connection with anyone (so, after the fork,
    it drops the pool it inherited), and opening a new one per job (a new
    server process, cold caches, the session set-up) cost as much as the rest
    of a short job. The worker runs one horse at a time, so it can lend them a
    connection in turn: it opens one and never uses it itself; each horse takes
    it as its first connection (after a ping); when the horse ends it says,
    through a pipe, whether it left the connection clean (idle, outside any
    transaction, open). Only then does the next horse get it. A horse that was
    killed, timed out mid-statement or left a transaction open says nothing:
    the worker closes the connection (the server rolls back whatever the horse
    left) and opens a new one. The connection is also renewed after
    MAX_LENT_SECONDS, and never lent twice over TLS (the encryption state lives
    in the process that used it last): then each horse gets a fresh one,
    opened while the previous horse works.

    Horses run with psycopg's automatic server-side prepared statements off
    (the next horse would not know their names); a horse that used the
    connection drops what a job may leave in the session (SESSION_RESET, one
    round trip) before handing it back. Jobs must not change session settings
    with a plain SET (SET LOCAL is fine).
    """

    MAX_LENT_SECONDS = 300.0
    # Sent by a horse before it hands the connection back: session advisory locks, open cursors, LISTENs,
    # temporary tables and prepared statements don't outlive it (as they wouldn't its own connection). Unlike
    # between a reused horse's jobs, prepared statements go too: psycopg's own are off on the lent connection,
    # so only a job's explicit PREPAREs are there. Not DISCARD ALL: it would also undo the connection's set-up
    # (the app's time zone).
    SESSION_RESET = SessionReset.STATEMENT + b"; DEALLOCATE ALL"

    def __init__(self, engine) -> None:
        self.engine = engine
        self.owner_pid = os.getpid()
        self.lent: Any = None  # the connection the next horse takes
        self.lent_opened = 0.0
        self.handed: Any = None  # TLS: the running horse's connection, closed when it ends
        self.for_child: Any = None
        self.pipe: tuple[int, int] | None = None
        self.taken: Any = None  # in a horse: the lent connection, once its pool took it
        self._left_to_horse: list[Any] = []
        sa.event.listen(engine, "do_connect", self._do_connect)

    @classmethod
    def for_app(cls, app: Flask) -> "ConnectionHandoff | None":
        with app.app_context():
            engine = db.engine
        if engine.dialect.name != "postgresql":
            return None  # SQLite opens a file in a fraction of a millisecond, and forbids using one across a fork
        handoff = app.extensions.get("cairn_connection_handoff")
        if handoff is None or handoff.engine is not engine:
            handoff = app.extensions["cairn_connection_handoff"] = cls(engine)
        handoff.owner_pid = os.getpid()
        return handoff

    # -- in the worker ------------------------------------------------------
    def _open(self) -> Any:
        try:
            connection = self.engine.pool._creator()  # the engine's own connect (URL, connect_args, do_connect)
            connection.prepare_threshold = None
            # Its session set-up too (the app's `SET TIME ZONE 'UTC'`), once here rather than in each horse:
            # the horse's pool runs the same hooks again, and they find the work done.
            self.engine.pool.dispatch.connect(connection, None)
            return connection
        except Exception as exc:  # the horse connects by itself then
            log.warning("could not open a database connection for the work-horses: %s", exc)
            return None

    @staticmethod
    def _close(connection: Any) -> None:
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass

    @staticmethod
    def _reusable(connection: Any) -> bool:
        return not connection.pgconn.ssl_in_use

    def before_fork(self) -> None:
        if self.lent is not None and time.monotonic() - self.lent_opened > self.MAX_LENT_SECONDS:
            self._close(self.lent)
            self.lent = None
        if self.lent is None:
            self.lent, self.lent_opened = self._open(), time.monotonic()
        self.for_child = self.lent
        self.pipe = os.pipe() if self.lent is not None else None

    def after_fork(self) -> None:
        """In the worker, the horse running: keep nothing of the connection but what is needed to judge it."""
        self.for_child = None
        if self.pipe is not None:
            os.close(self.pipe[1])
        if self.lent is not None and not self._reusable(self.lent):
            self.handed = self.lent  # closed when the horse ends; the next horse's is opened meanwhile
            self.lent, self.lent_opened = self._open(), time.monotonic()

    def after_horse(self) -> None:
        """The horse ended: lend the connection again only if the horse said it left it clean."""
        clean = False
        if self.pipe is not None:
            try:
                os.set_blocking(self.pipe[0], False)
                clean = os.read(self.pipe[0], 1) == b"1"
            except OSError:
                clean = False
            finally:
                os.close(self.pipe[0])
                self.pipe = None
        if self.handed is not None:
            self._close(self.handed)
            self.handed = None
        elif not clean and self.lent is not None:
            self._close(self.lent)
            self.lent = None

    def close(self, *, horse_running: bool = False) -> None:
        """The worker stops. A horse still running a job (Redis went away mid-job) may be using the lent
        connection: closing it here would end that job's session (libpq says goodbye on the shared socket),
        so it is left open for the horse; the socket closes when both processes have exited."""
        if horse_running:
            self._left_to_horse.extend(c for c in (self.lent, self.handed) if c is not None)
        else:
            for connection in (self.lent, self.handed):
                self._close(connection)
        self.lent = self.handed = self.for_child = None

    # -- in the work-horse ---------------------------------------------------
    def _do_connect(self, dialect, connection_record, cargs, cparams) -> Any:
        """A horse's first connection is the one lent to it, if it still answers."""
        if os.getpid() == self.owner_pid or self.for_child is None:
            return None
        connection = self.for_child
        self.for_child = None
        try:
            from psycopg import pq

            if connection.pgconn.exec_(b"").status == pq.ExecStatus.EMPTY_QUERY:
                self.taken = connection
                return connection
        except Exception:
            pass
        return None  # the worker sees no "clean" and opens a new one for the next horse

    def horse_done(self) -> None:
        """Last thing in a horse: tell the worker whether the lent connection is fit for the next one."""
        if self.pipe is None or os.getpid() == self.owner_pid:
            return
        connection = self.taken
        if connection is None and self.for_child is not None:
            connection = self.for_child  # the horse never needed the database: untouched
        try:
            from psycopg import pq

            def idle() -> bool:
                return (not connection.closed and connection.pgconn.status == pq.ConnStatus.OK
                        and connection.pgconn.transaction_status == pq.TransactionStatus.IDLE)

            if connection is None or not idle():
                return
            if connection is self.taken:  # what a job may leave in the session, dropped in one round trip
                result = connection.pgconn.exec_(self.SESSION_RESET)
                if result.status != pq.ExecStatus.COMMAND_OK or not idle():
                    return
            os.write(self.pipe[1], b"1")
        except Exception:
            pass


class SqliteWalTrim:
    """SQLite: the worker checkpoints the write-ahead log between work-horses once it has grown.

    A work-horse opens its own connection (none may cross a fork) and ends with
    os._exit, never closing it. When nobody else has the database open (a worker
    alone with it: no web process, or one whose pool is empty), the next horse's
    first statement finds no live WAL index and rebuilds it by reading every
    frame of the log (SQLite's recovery): about 0.85 ms per MB on the 2-core
    machine, and the log of short jobs grows to about 4 MB between SQLite's
    automatic checkpoints (1,000 pages), so 1.7 ms per job on average. After a
    horse ends and the log has passed TRIM_BYTES, the worker therefore opens a
    connection of its own, checkpoints with TRUNCATE and closes it again, all
    before the next fork (nothing of it is inherited: SQLite forbids carrying an
    open connection across fork()). Only an optimisation, and it changes no
    guarantee: a checkpoint is SQLite's own, durable operation; one that finds
    the database busy (other processes reading or writing) gives up at once, and
    the worker waits for another TRIM_BYTES of growth before trying again. While
    other processes hold the database open, horses find the index live anyway.
    """

    TRIM_BYTES = 256 * 1024

    def __init__(self, path: str) -> None:
        self.path = path
        self.wal = f"{path}-wal"
        self.trim_above = self.TRIM_BYTES

    @classmethod
    def for_app(cls, app: Flask) -> "SqliteWalTrim | None":
        with app.app_context():
            url = db.engine.url
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
                or url.database.startswith("file:"):
            return None
        return cls(url.database)

    def after_horse(self) -> None:
        try:
            size = os.path.getsize(self.wal)
        except OSError:  # no log (rollback journal, or the last connection closed and removed it)
            return
        if size < self.trim_above:
            return
        import sqlite3

        try:
            connection = sqlite3.connect(self.path, timeout=0.05, isolation_level=None)
            try:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                connection.close()  # the last one closing removes the log altogether
        except sqlite3.Error as exc:
            log.debug("WAL checkpoint between work-horses skipped: %s", exc)
        try:
            size = os.path.getsize(self.wal)
        except OSError:
            size = 0
        self.trim_above = size + self.TRIM_BYTES  # busy: try again after as much growth


class ThreadWorker(_AppWorkerMixin, SimpleWorker):
    """An RQ worker that can run off the main thread (embedded queue)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:  # signals only work on the main thread
        pass


def make_worker(app: Flask, queues: list[str] | None = None, *, threaded: bool = False):
    connection = worker_connection(app)  # the embedded queue's fakeredis client, or a worker's own
    names = queues or app.config["RQ_QUEUES"]
    queue_objects = [Queue(n, connection=connection, job_class=AppContextJob) for n in names]
    worker_class = ThreadWorker if threaded else CairnWorker
    worker = worker_class(
        queue_objects,
        connection=connection,
        job_class=AppContextJob,
        job_monitoring_interval=app.config["JOB_MONITORING_INTERVAL"],
        worker_ttl=app.config.get("WORKER_TTL_SECONDS", 60),
    )
    worker.app = app
    worker._app_pid = os.getpid()
    if not threaded:
        worker.horse_max_jobs = max(1, int(app.config.get("JOB_HORSE_MAX_JOBS", 1)))
        worker.horse_max_growth_kb = int(app.config.get("JOB_HORSE_MAX_GROWTH_MB", 0)) * 1024
    if not threaded and app.config.get("JOB_WORKER_WARM_START", True):
        with app.app_context():
            warm_up_statements()
        worker.handoff = ConnectionHandoff.for_app(app)
        worker.wal_trim = SqliteWalTrim.for_app(app)
    return worker


def _enqueue_scheduled_jobs(worker) -> None:
    """Move due `enqueue_at`/`enqueue_in` jobs to their queues, in this thread (embedded queue).

    `work(with_scheduler=True)` would, after its first maintenance pass, fork a
    scheduler process out of the web process; this does the burst part only.
    """
    from rq.scheduler import RQScheduler

    scheduler = RQScheduler(worker.queues, connection=worker.connection)
    scheduler.acquire_locks()
    if scheduler.acquired_locks:
        try:
            scheduler.enqueue_scheduled_jobs()
        finally:
            scheduler.release_locks()


def _has_scheduled_due(worker) -> bool:
    now = int(time.time())
    return any(queue.scheduled_job_registry.get_jobs_to_schedule(timestamp=now, chunk_size=1)
               for queue in worker.queues)


def run_embedded_jobs(app: Flask, max_rounds: int = 20) -> int:
    """Run queued jobs in this thread until the queues are empty (tests, embedded mode)."""
    worker = make_worker(app, threaded=True)
    rounds = 0
    while rounds < max_rounds:
        _enqueue_scheduled_jobs(worker)
        if not worker.work(burst=True, logging_level="WARNING"):
            break
        rounds += 1
    return rounds


class EmbeddedWorker(threading.Thread):
    """The in-process worker used when no Redis is configured. Single process only."""

    def __init__(self, app: Flask, poll_seconds: float = 0.25) -> None:
        super().__init__(name="cairn-embedded-worker", daemon=True)
        self.app = app
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        worker = make_worker(self.app, threaded=True)
        last_tick = 0.0
        while not self.stopping.is_set():
            try:
                if time.time() - last_tick >= self.app.config["PERIODIC_TICK_SECONDS"]:
                    last_tick = time.time()
                    with self.app.app_context():
                        beat_tick()
                if _has_scheduled_due(worker):
                    _enqueue_scheduled_jobs(worker)
                # A burst round registers the worker and runs maintenance: only when there is work,
                # or an idle web process spends a share of its CPU polling four times a second.
                if any(queue.count for queue in worker.queues):
                    worker.work(burst=True, logging_level="WARNING")
            except Exception:
                log.exception("embedded worker round failed")
            self.stopping.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stopping.set()


_embedded_start_lock = threading.Lock()


def start_embedded_worker(app: Flask) -> EmbeddedWorker | None:
    if not uses_embedded_queue(app):
        return None
    with _embedded_start_lock:  # two first requests at once start one worker
        existing = app.extensions.get("cairn_embedded_worker")
        if existing is not None and existing.is_alive():
            return existing
        log.warning("No REDIS_URL: running jobs on the embedded in-process queue (single process only).")
        worker = EmbeddedWorker(app)
        app.extensions["cairn_embedded_worker"] = worker
        worker.start()
        return worker


# ---------------------------------------------------------------------------
# Worker presence: is any worker alive at all?
# ---------------------------------------------------------------------------
WORKERS_KEY = "cairn:workers"


def announce_worker(connection, name: str, now: float | None = None) -> None:
    """Record that worker `name` is alive now (a sorted set scored by time; old entries dropped)."""
    now = time.time() if now is None else now
    pipeline = connection.pipeline()
    pipeline.zadd(WORKERS_KEY, {name: now})
    pipeline.zremrangebyscore(WORKERS_KEY, 0, now - 86400)
    pipeline.execute()


def workers_alive() -> bool | None:
    """True when a worker announced itself within WORKER_ALIVE_SECONDS; None when Redis can't say.

    The embedded queue's worker lives in this process: always True. Cached for
    the request (a page may show several job panels).
    """
    if uses_embedded_queue():
        return True
    from flask import g

    if "cairn_workers_alive" not in g:
        since = time.time() - current_app.config["WORKER_ALIVE_SECONDS"]
        try:
            g.cairn_workers_alive = get_connection().zcount(WORKERS_KEY, since, "+inf") > 0
        except Exception:  # Redis down: the panel says nothing rather than failing
            g.cairn_workers_alive = None
    return g.cairn_workers_alive


class WorkerPresence(threading.Thread):
    """Announces this worker process every WORKER_HEARTBEAT_SECONDS (see `workers_alive`)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="cairn-presence", daemon=True)
        self.app = app
        self.name_in_registry = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()

    def run(self) -> None:
        connection = self.app.extensions["cairn_redis"]
        while not self.stopping.is_set():
            try:
                announce_worker(connection, self.name_in_registry)
            except Exception as exc:  # Redis away: announced again once it is back
                log.warning("worker presence: %s", exc)
            self.stopping.wait(self.app.config["WORKER_HEARTBEAT_SECONDS"])

    def stop(self) -> None:
        self.stopping.set()
        try:
            self.app.extensions["cairn_redis"].zrem(WORKERS_KEY, self.name_in_registry)
        except Exception:
            pass


# ---------------------------------------------------------------------------
# The worker process: rides out a Redis outage
# ---------------------------------------------------------------------------
def run_worker(app: Flask, queues: list[str] | None = None, *, burst: bool = False, beat: bool = True) -> None:
    """`flask worker`: an RQ worker that survives Redis outages, busy or idle.

    RQ's own loop waits out an outage while idle but quits when Redis goes away
    mid-job ("unhandled exception, quitting"). Here the loop starts again: wait
    for Redis with backoff (1 s doubling to 30 s), then a fresh RQ worker. A job
    that was running goes on in its work-horse and records its result on its row;
    jobs Redis lost (a restart without persistence) are re-queued by the
    reconciler, which the beat enqueues again as soon as Redis answers.
    SIGTERM/SIGINT stop it (warm: a running job finishes first).
    """
    from rq.exceptions import StopRequested

    presence = WorkerPresence(app)
    presence.start()
    beat_thread = BeatThread(app) if beat and not burst else None
    if beat_thread is not None:
        beat_thread.start()
    connection = app.extensions["cairn_redis"]
    stopping = threading.Event()
    try:
        while True:
            started, worker = time.monotonic(), None
            try:
                worker = make_worker(app, queues)  # RQ talks to Redis from here on: inside the try
                worker.work(burst=burst, with_scheduler=not burst)
            except StopRequested:
                return
            except Exception as exc:
                if burst:
                    raise
                log.error("worker stopped: %s", exc)
            if burst or _stop_was_requested(worker):
                return
            _reap_children()
            _on_stop_signal(stopping.set)  # between RQ workers, a stop signal is ours to handle
            if not _wait_for_redis(connection, stopping, quick_restart=time.monotonic() - started > 60):
                return
            log.warning("Redis is back: starting a new worker")
    finally:
        presence.stop()
        if beat_thread is not None:
            beat_thread.stop()


def _stop_was_requested(worker) -> bool:
    """Did SIGTERM/SIGINT end this RQ worker? (Idle, RQ stops without setting `_stop_requested`.)"""
    return worker is not None and bool(worker._stop_requested or getattr(worker, "_shutdown_requested_date", None))


def _on_stop_signal(callback: Callable[[], None]) -> None:
    import signal

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: callback())


def _wait_for_redis(connection, stopping: threading.Event, *, quick_restart: bool) -> bool:
    """Ping Redis with backoff until it answers (True) or a stop signal arrives (False)."""
    pause = 0.5 if quick_restart else 2.0  # a worker that keeps failing at once doesn't spin
    while not stopping.is_set():
        try:
            connection.ping()
            return True
        except Exception as exc:
            log.warning("waiting for Redis (%s); next try in %.0f s", exc, pause)
        stopping.wait(pause)
        pause = min(pause * 2, 30.0)
    return False


def _reap_children() -> None:
    """Collect work-horses that finished after their worker gave up on Redis (no zombies)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class BeatThread(threading.Thread):
    """Runs `beat_tick` at start and then every PERIODIC_TICK_SECONDS in an RQ worker process (flask worker)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="cairn-beat", daemon=True)
        self.app = app
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with self.app.app_context():
                    beat_tick()
            except Exception as exc:
                import redis

                if isinstance(exc, redis.RedisError):  # an outage: ticks again once Redis is back
                    log.warning("periodic tick: %s", exc)
                else:
                    log.exception("periodic tick failed")
            self.stopping.wait(self.app.config["PERIODIC_TICK_SECONDS"])

    def stop(self) -> None:
        self.stopping.set()

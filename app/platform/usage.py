"""APIUsageLog (seed 000): every request, logged off the request path.

`after_request` measures the request and appends a row to an in-process buffer;
a background thread writes the buffer in one INSERT every
USAGE_LOG_FLUSH_SECONDS (or at once when that is 0, as in tests). The request
never waits on the database for its own log row.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from datetime import date, datetime, timedelta
from typing import Optional

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.platform.models import UTCDateTime, utcnow

log = logging.getLogger("cairn.usage")


class APIUsageLog(db.Model):
    __tablename__ = "api_usage_logs"
    __table_args__ = (
        sa.CheckConstraint("request_size_bytes >= 0 AND response_size_bytes >= 0", name="check_usage_log_sizes"),
        sa.Index("idx_usage_user_date", "user_id", "date"),
        sa.Index("idx_usage_workspace_date", "workspace_id", "date"),
        sa.Index("idx_usage_endpoint_date", "endpoint", "date"),
        sa.Index("idx_usage_date", "date"),
        # Tenancy: the admin usage page reads one organization's rows by date.
        sa.Index("idx_usage_org_date", "organization_id", "date"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    organization_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"))
    workspace_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="SET NULL"))
    endpoint: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    method: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    response_status: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    response_time_ms: Mapped[int] = mapped_column(nullable=False)
    request_size_bytes: Mapped[int] = mapped_column(nullable=False, default=0)
    response_size_bytes: Mapped[int] = mapped_column(nullable=False, default=0)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    date: Mapped[date] = mapped_column(sa.Date, nullable=False, default=lambda: utcnow().date())


class UsageBuffer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.rows: list[dict] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def add(self, row: dict) -> None:
        with self.lock:
            self.rows.append(row)
        if self.app.config["USAGE_LOG_FLUSH_SECONDS"] <= 0:
            self.flush()
        else:
            self._ensure_thread()

    def _ensure_thread(self) -> None:
        # gunicorn forks workers after import: each process needs its own flusher thread.
        if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
            self.pid = os.getpid()
            self.thread = threading.Thread(target=self._loop, name="cairn-usage-flush", daemon=True)
            self.thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.app.config["USAGE_LOG_FLUSH_SECONDS"])
            self.flush()

    def flush(self) -> int:
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows:
            return 0
        try:
            with self.app.app_context():
                with db.engine.begin() as connection:
                    connection.execute(sa.insert(APIUsageLog), rows)
        except Exception:  # logging must never break serving; losing a batch is logged
            log.exception("could not write %d usage rows", len(rows))
        return len(rows)


def init_app(app: Flask) -> None:
    if not app.config.get("USAGE_LOG_ENABLED", True):
        return
    buffer = UsageBuffer(app)
    app.extensions["cairn_usage_buffer"] = buffer
    atexit.register(buffer.flush)

    from flask_login import user_logged_out

    def _start_timer() -> None:
        g.usage_started = time.perf_counter()

    # First of all before-request functions: a request that CSRF protection or a login
    # check stops in its own before_request is a request too, and is logged.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)

    def _remember_signed_out_user(sender, user, **_extra) -> None:
        # The sign-out request is the user's too, though current_user is anonymous by after_request.
        if has_request_context() and user is not None and getattr(user, "is_authenticated", False):
            g.usage_signed_out = (user.id, user.organization_id)

    user_logged_out.connect(_remember_signed_out_user, app, weak=False)

    @app.after_request
    def _record(response):
        started = g.get("usage_started")
        if started is None or request.endpoint == "static":
            return response
        user_id, org_id, workspace_id = _identity()
        now = utcnow()
        buffer.add(
            {
                "user_id": user_id,
                "organization_id": org_id,
                "workspace_id": workspace_id,
                # The URL rule, not the path: /members/<int:member_id> is one endpoint, and
                # unmatched paths (scanners) are counted together instead of one row each.
                "endpoint": (request.url_rule.rule if request.url_rule else UNMATCHED_ENDPOINT)[:200],
                "method": request.method[:10],
                "response_status": response.status_code,
                "response_time_ms": int((time.perf_counter() - started) * 1000),
                "request_size_bytes": request.content_length or 0,
                "response_size_bytes": response.calculate_content_length() or 0,
                "timestamp": now,
                "date": now.date(),
            }
        )
        return response


UNMATCHED_ENDPOINT = "(no route)"


def _identity() -> tuple[int | None, int | None, int | None]:
    """(user, organization, workspace) of the current request, for its log row."""
    from flask_login import current_user

    from app.platform.tenancy import current_workspace_choice

    if current_user and current_user.is_authenticated:
        try:
            workspace = current_workspace_choice()
        except Exception:  # a failed request may have left the session unusable; log it anyway
            workspace = g.get("current_workspace_choice")
        return current_user.id, current_user.organization_id, workspace.id if workspace is not None else None
    signed_out = g.get("usage_signed_out")
    if signed_out:
        return signed_out[0], signed_out[1], None
    return None, None, None


def usage_by_day(organization_id: int, start: date, end: date):
    log_ = APIUsageLog
    return db.session.execute(
        sa.select(
            log_.date,
            sa.func.count().label("requests"),
            sa.func.avg(log_.response_time_ms).label("avg_ms"),
            sa.func.max(log_.response_time_ms).label("max_ms"),
            sa.func.sum(sa.case((log_.response_status >= 500, 1), else_=0)).label("server_errors"),
            sa.func.sum(sa.case((log_.response_status.between(400, 499), 1), else_=0)).label("client_errors"),
            sa.func.sum(log_.response_size_bytes).label("bytes_out"),
        )
        .where(log_.organization_id == organization_id, log_.date.between(start, end))
        .group_by(log_.date)
        .order_by(log_.date.desc())
    ).all()


def usage_by_endpoint(organization_id: int, start: date, end: date, limit: int = 50):
    log_ = APIUsageLog
    return db.session.execute(
        sa.select(
            log_.endpoint,
            log_.method,
            sa.func.count().label("requests"),
            sa.func.avg(log_.response_time_ms).label("avg_ms"),
            sa.func.max(log_.response_time_ms).label("max_ms"),
            sa.func.sum(sa.case((log_.response_status >= 400, 1), else_=0)).label("errors"),
            sa.func.sum(log_.request_size_bytes).label("bytes_in"),
            sa.func.sum(log_.response_size_bytes).label("bytes_out"),
        )
        .where(log_.organization_id == organization_id, log_.date.between(start, end))
        .group_by(log_.endpoint, log_.method)
        .order_by(sa.func.count().desc())
        .limit(limit)
    ).all()


def purge_usage_older_than(days: int, *, organization_id: int | None = None, batch_size: int = 5000,
                           progress=None) -> int:
    """Delete log rows dated more than `days` days ago (of one organization, or all), in batches.

    Each batch is its own short transaction: the table is large and written by every request.
    """
    cutoff = utcnow().date() - timedelta(days=days)
    conditions = [APIUsageLog.date < cutoff]
    if organization_id is not None:
        conditions.append(APIUsageLog.organization_id == organization_id)
    total_rows = db.session.scalar(sa.select(sa.func.count()).select_from(APIUsageLog).where(*conditions)) or 0
    total = 0
    while True:
        ids = db.session.scalars(sa.select(APIUsageLog.id).where(*conditions).limit(batch_size)).all()
        if not ids:
            break
        db.session.execute(sa.delete(APIUsageLog).where(APIUsageLog.id.in_(ids)))
        db.session.commit()
        total += len(ids)
        if progress is not None:
            progress(100 * total / max(total_rows, 1), f"Deleted {total:,} of {total_rows:,} rows")
    db.session.commit()
    return total


def apply_retention() -> int:
    """Periodic: keep USAGE_LOG_RETENTION_DAYS of usage log."""
    from flask import current_app

    return purge_usage_older_than(current_app.config["USAGE_LOG_RETENTION_DAYS"])


from app.platform.jobs import register_periodic  # noqa: E402

register_periodic("usage-retention", 86400, "app.platform.usage.apply_retention")

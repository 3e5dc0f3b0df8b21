"""Exports (seed 004): time entries, export requests, templates, audit, schedules, usage stats."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.platform.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, JobStatusMixin
from app.platform.models import (
    TenantMixin,
    TimestampMixin,
    UTCDateTime,
    json_dict_column,
    json_list_column,
    utcnow,
    uuid_pk,
)

FORMATS = (("csv", "CSV"), ("json", "JSON"), ("pdf", "PDF"), ("excel", "Excel"))
FORMAT_EXTENSIONS = {"csv": "csv", "json": "json", "pdf": "pdf", "excel": "xlsx"}
EXPIRED = "expired"
REQUEST_STATUSES = ("pending", "processing", "completed", "failed", "expired")
AUDIT_ACTIONS = (
    ("created", "Export Created"),
    ("started", "Processing Started"),
    ("completed", "Export Completed"),
    ("downloaded", "File Downloaded"),
    ("failed", "Export Failed"),
    ("expired", "Export Expired"),
    ("deleted", "Export Deleted"),
    ("shared", "Export Shared"),
)
DEFAULT_EXPIRY = timedelta(days=7)


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class TimeEntry(TimestampMixin, TenantMixin, db.Model):
    """One block of work a member logged: the default export dataset."""

    __tablename__ = "time_entries"

    __organization_id_indexed__ = False  # idx_time_entry_org_date leads with it
    __table_args__ = (
        sa.CheckConstraint("duration_minutes > 0 AND duration_minutes <= 1440", name="check_time_entry_duration"),
        sa.Index("idx_time_entry_org_date", "organization_id", "date"),
        sa.Index("idx_time_entry_user_date", "user_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    project: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    task: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    duration_minutes: Mapped[int] = mapped_column(nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    user = relationship("User", foreign_keys=[user_id])

    @property
    def duration_label(self) -> str:
        hours, minutes = divmod(self.duration_minutes, 60)
        return f"{hours}:{minutes:02d}"


export_template_shares = sa.Table(
    "export_template_shares",
    db.metadata,
    sa.Column("template_id", sa.Uuid, sa.ForeignKey("export_templates.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class ExportTemplate(TimestampMixin, db.Model):
    """Saved export settings. organization_id NULL = a built-in template every organization sees."""

    __tablename__ = "export_templates"
    __table_args__ = (
        sa.CheckConstraint(_in("format", [f for f, _ in FORMATS]), name="check_export_template_format"),
        sa.CheckConstraint("usage_count >= 0", name="check_export_template_usage_count"),
        sa.Index("idx_export_template_user_created", "user_id", "created_at"),
        sa.Index("idx_export_template_public_usage", "is_public", "usage_count"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    organization_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    format: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="csv")
    dataset: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="time_entries")
    field_configuration: Mapped[dict] = json_dict_column()
    default_filters: Mapped[dict] = json_dict_column()
    layout_settings: Mapped[dict] = json_dict_column()
    is_public: Mapped[bool] = mapped_column(nullable=False, default=False)
    usage_count: Mapped[int] = mapped_column(nullable=False, default=0)
    last_used: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    user = relationship("User", foreign_keys=[user_id])
    shared_with = relationship("User", secondary=export_template_shares, lazy="selectin")

    @property
    def is_builtin(self) -> bool:
        return self.organization_id is None

    @property
    def fields(self) -> list[str]:
        return list((self.field_configuration or {}).get("fields") or [])

    @property
    def headers(self) -> list[str]:
        return list((self.field_configuration or {}).get("headers") or [])

    @property
    def landscape(self) -> bool:
        return (self.layout_settings or {}).get("orientation") == "landscape"

    @property
    def visibility_label(self) -> str:
        if self.is_builtin:
            return "Built-in"
        if self.is_public:
            return "Organization"
        return "Shared" if self.shared_with else "Private"


class ExportRequest(TimestampMixin, TenantMixin, JobStatusMixin, db.Model):
    """One export: what to export, and the job's status, progress and file on the row."""

    __tablename__ = "export_requests"
    STATUS_NAMES = {QUEUED: "pending", RUNNING: "processing", SUCCEEDED: "completed", FAILED: "failed"}
    __table_args__ = (
        sa.CheckConstraint(_in("format", [f for f, _ in FORMATS]), name="check_export_request_format"),
        sa.CheckConstraint(_in("status", REQUEST_STATUSES), name="check_export_request_status"),
        sa.CheckConstraint("progress_percentage >= 0 AND progress_percentage <= 100",
                           name="check_export_request_progress"),
        sa.CheckConstraint("download_count >= 0 AND (file_size IS NULL OR file_size >= 0)"
                           " AND (row_count IS NULL OR row_count >= 0)", name="check_export_request_counts"),
        sa.UniqueConstraint("schedule_id", "next_run", name="uq_export_request_schedule_slot"),
        sa.Index("idx_export_request_user_created", "user_id", "created_at"),
        sa.Index("idx_export_request_status_created", "status", "created_at"),
        sa.Index("idx_export_request_expires", "expires_at"),
        sa.Index("idx_export_request_next_run", "next_run"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # `requested_by_id` is what the platform's Retry check reads; the seed calls the column `user`.
    requested_by_id: Mapped[int] = mapped_column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"),
                                                 nullable=False)
    title: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    format: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    template_id: Mapped[Optional[uuid.UUID]] = mapped_column(
        sa.Uuid, sa.ForeignKey("export_templates.id", ondelete="SET NULL"), nullable=True)
    dataset: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="time_entries")
    filters: Mapped[dict] = json_dict_column()
    date_range_start: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    date_range_end: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    selected_fields: Mapped[list] = json_list_column()
    # No index of its own: idx_export_request_status_created (status, created_at) serves it.
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="pending")
    progress: Mapped[int] = mapped_column("progress_percentage", nullable=False, default=0)
    file_path: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    file_size: Mapped[Optional[int]] = mapped_column(sa.BigInteger, nullable=True)
    file_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="")
    row_count: Mapped[Optional[int]] = mapped_column(nullable=True)
    download_url: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    download_count: Mapped[int] = mapped_column(nullable=False, default=0)
    is_scheduled: Mapped[bool] = mapped_column(nullable=False, default=False)
    schedule_id: Mapped[Optional[uuid.UUID]] = mapped_column(
        sa.Uuid, sa.ForeignKey("export_schedules.id", ondelete="SET NULL"), nullable=True)
    schedule_pattern: Mapped[str] = mapped_column(sa.String(100), nullable=False, default="")
    next_run: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column("completed_at", UTCDateTime, nullable=True)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    requested_by = relationship("User", foreign_keys=[requested_by_id])
    template = relationship("ExportTemplate", foreign_keys=[template_id])
    schedule = relationship("ExportSchedule", foreign_keys=[schedule_id])

    @property
    def completed_at(self) -> datetime | None:
        return self.finished_at

    @property
    def is_expired(self) -> bool:
        return self.status == EXPIRED

    @property
    def is_terminal(self) -> bool:
        return self.is_expired or super().is_terminal

    @property
    def status_label(self) -> str:
        if self.is_expired:
            return "Expired"
        return super().status_label

    @property
    def extension(self) -> str:
        return FORMAT_EXTENSIONS[self.format]

    @property
    def format_label(self) -> str:
        return dict(FORMATS)[self.format]


class ExportAuditLog(db.Model):
    """Who did what to which export, from where. Kept after the export itself is deleted."""

    __tablename__ = "export_audit_logs"
    __table_args__ = (
        sa.CheckConstraint(_in("action", [a for a, _ in AUDIT_ACTIONS]), name="check_export_audit_action"),
        sa.Index("idx_export_audit_request_ts", "export_request_id", "timestamp"),
        sa.Index("idx_export_audit_user_ts", "user_id", "timestamp"),
        sa.Index("idx_export_audit_action_ts", "action", "timestamp"),
        sa.Index("idx_export_audit_org_ts", "organization_id", "timestamp"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                                                 nullable=False)
    export_request_id: Mapped[Optional[uuid.UUID]] = mapped_column(
        sa.Uuid, sa.ForeignKey("export_requests.id", ondelete="SET NULL"), nullable=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    action: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    ip_address: Mapped[Optional[str]] = mapped_column(sa.String(45), nullable=True)
    user_agent: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    additional_data: Mapped[dict] = json_dict_column()
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    user = relationship("User", foreign_keys=[user_id])
    export_request = relationship("ExportRequest", foreign_keys=[export_request_id])

    @property
    def action_label(self) -> str:
        return dict(AUDIT_ACTIONS)[self.action]


class ExportSchedule(TimestampMixin, TenantMixin, db.Model):
    """A template run on a cron pattern in a time zone, mailed to recipients."""

    __tablename__ = "export_schedules"
    __table_args__ = (
        sa.CheckConstraint("run_count >= 0 AND failure_count >= 0", name="check_export_schedule_counts"),
        sa.CheckConstraint("consecutive_failures >= 0", name="check_export_schedule_consecutive_failures"),
        sa.Index("idx_export_schedule_user_active", "user_id", "is_active"),
        sa.Index("idx_export_schedule_next_active", "next_run", "is_active"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    template_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("export_templates.id", ondelete="CASCADE"),
                                             nullable=False)
    cron_pattern: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    timezone: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="UTC")
    email_recipients: Mapped[list] = json_list_column()
    include_download_link: Mapped[bool] = mapped_column(nullable=False, default=True)
    attach_file: Mapped[bool] = mapped_column(nullable=False, default=False)
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)
    last_run: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    next_run: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    run_count: Mapped[int] = mapped_column(nullable=False, default=0)
    failure_count: Mapped[int] = mapped_column(nullable=False, default=0)
    consecutive_failures: Mapped[int] = mapped_column(nullable=False, default=0)
    paused_reason: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")

    user = relationship("User", foreign_keys=[user_id])
    template = relationship("ExportTemplate", foreign_keys=[template_id])


USAGE_COUNT_COLUMNS = ("total_exports", "csv_exports", "json_exports", "pdf_exports", "excel_exports",
                       "total_records_exported", "total_file_size", "failed_exports")


class ExportUsageStats(TimestampMixin, TenantMixin, db.Model):
    """Per user per day, rolled up from export requests by a periodic job."""

    __tablename__ = "export_usage_stats"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "date", name="uq_export_usage_user_date"),
        sa.CheckConstraint(" AND ".join(f"{c} >= 0" for c in USAGE_COUNT_COLUMNS), name="check_export_usage_counts"),
        sa.Index("idx_export_usage_user_date", "user_id", "date"),
        sa.Index("idx_export_usage_date", "date"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    total_exports: Mapped[int] = mapped_column(nullable=False, default=0)
    csv_exports: Mapped[int] = mapped_column(nullable=False, default=0)
    json_exports: Mapped[int] = mapped_column(nullable=False, default=0)
    pdf_exports: Mapped[int] = mapped_column(nullable=False, default=0)
    excel_exports: Mapped[int] = mapped_column(nullable=False, default=0)
    total_records_exported: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    total_file_size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    avg_processing_time: Mapped[Optional[timedelta]] = mapped_column(sa.Interval, nullable=True)
    failed_exports: Mapped[int] = mapped_column(nullable=False, default=0)

    user = relationship("User", foreign_keys=[user_id])

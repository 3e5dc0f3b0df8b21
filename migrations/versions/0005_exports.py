"""exports: time entries, export requests, templates, audit, schedules, usage stats

Revision ID: 0005_exports
Revises: 0004_projects
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

revision = '0005_exports'
down_revision = '0004_projects'
branch_labels = None
depends_on = None


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _timestamps():
    return [_ts("created_at", False), _ts("updated_at", False)]


def upgrade():
    op.create_table(
        "time_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("duration_minutes > 0 AND duration_minutes <= 1440", name="check_time_entry_duration"),
    )
    op.create_index("ix_time_entries_organization_id", "time_entries", ["organization_id"])
    op.create_index("idx_time_entry_org_date", "time_entries", ["organization_id", "date"])
    op.create_index("idx_time_entry_user_date", "time_entries", ["user_id", "date"])

    op.create_table(
        "export_templates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("dataset", sa.String(50), nullable=False),
        sa.Column("field_configuration", _json(), nullable=False),
        sa.Column("default_filters", _json(), nullable=False),
        sa.Column("layout_settings", _json(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        _ts("last_used"),
        *_timestamps(),
        sa.CheckConstraint("format IN ('csv', 'json', 'pdf', 'excel')", name="check_export_template_format"),
    )
    op.create_index("ix_export_templates_organization_id", "export_templates", ["organization_id"])
    op.create_index("idx_export_template_user_created", "export_templates", ["user_id", "created_at"])
    op.create_index("idx_export_template_public_usage", "export_templates", ["is_public", "usage_count"])

    op.create_table(
        "export_template_shares",
        sa.Column("template_id", sa.Integer(), sa.ForeignKey("export_templates.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    )

    op.create_table(
        "export_schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("template_id", sa.Integer(), sa.ForeignKey("export_templates.id", ondelete="CASCADE"), nullable=False),
        sa.Column("cron_pattern", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(50), nullable=False),
        sa.Column("email_recipients", _json(), nullable=False),
        sa.Column("include_download_link", sa.Boolean(), nullable=False),
        sa.Column("attach_file", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _ts("last_run"),
        _ts("next_run", False),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("paused_reason", sa.String(255), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("run_count >= 0 AND failure_count >= 0", name="check_export_schedule_counts"),
    )
    op.create_index("ix_export_schedules_organization_id", "export_schedules", ["organization_id"])
    op.create_index("idx_export_schedule_user_active", "export_schedules", ["user_id", "is_active"])
    op.create_index("idx_export_schedule_next_active", "export_schedules", ["next_run", "is_active"])

    op.create_table(
        "export_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("template_id", sa.Integer(), sa.ForeignKey("export_templates.id", ondelete="SET NULL"), nullable=True),
        sa.Column("dataset", sa.String(50), nullable=False),
        sa.Column("filters", _json(), nullable=False),
        _ts("date_range_start"),
        _ts("date_range_end"),
        sa.Column("selected_fields", _json(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress_percentage", sa.Integer(), nullable=False),
        sa.Column("progress_message", sa.String(255), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("rq_job_id", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("enqueued_at"),
        _ts("started_at"),
        _ts("completed_at"),
        sa.Column("file_path", sa.String(500), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("download_url", sa.String(500), nullable=False),
        sa.Column("download_count", sa.Integer(), nullable=False),
        sa.Column("is_scheduled", sa.Boolean(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), sa.ForeignKey("export_schedules.id", ondelete="SET NULL"), nullable=True),
        sa.Column("schedule_pattern", sa.String(100), nullable=False),
        _ts("next_run"),
        _ts("expires_at"),
        *_timestamps(),
        sa.CheckConstraint("format IN ('csv', 'json', 'pdf', 'excel')", name="check_export_request_format"),
        sa.CheckConstraint("status IN ('pending', 'processing', 'completed', 'failed', 'expired')",
                           name="check_export_request_status"),
        sa.CheckConstraint("progress_percentage >= 0 AND progress_percentage <= 100",
                           name="check_export_request_progress"),
        sa.UniqueConstraint("schedule_id", "next_run", name="uq_export_request_schedule_slot"),
    )
    op.create_index("ix_export_requests_organization_id", "export_requests", ["organization_id"])
    op.create_index("ix_export_requests_status", "export_requests", ["status"])
    op.create_index("idx_export_request_user_created", "export_requests", ["user_id", "created_at"])
    op.create_index("idx_export_request_status_created", "export_requests", ["status", "created_at"])
    op.create_index("idx_export_request_expires", "export_requests", ["expires_at"])
    op.create_index("idx_export_request_next_run", "export_requests", ["next_run"])

    op.create_table(
        "export_audit_logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("export_request_id", sa.Integer(), sa.ForeignKey("export_requests.id", ondelete="SET NULL"), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("ip_address", sa.String(45), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("additional_data", _json(), nullable=False),
        _ts("timestamp", False),
        sa.CheckConstraint("action IN ('created', 'started', 'completed', 'downloaded', 'failed', 'expired', "
                           "'deleted', 'shared')", name="check_export_audit_action"),
    )
    op.create_index("idx_export_audit_request_ts", "export_audit_logs", ["export_request_id", "timestamp"])
    op.create_index("idx_export_audit_user_ts", "export_audit_logs", ["user_id", "timestamp"])
    op.create_index("idx_export_audit_action_ts", "export_audit_logs", ["action", "timestamp"])
    op.create_index("idx_export_audit_org_ts", "export_audit_logs", ["organization_id", "timestamp"])

    op.create_table(
        "export_usage_stats",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("total_exports", sa.Integer(), nullable=False),
        sa.Column("csv_exports", sa.Integer(), nullable=False),
        sa.Column("json_exports", sa.Integer(), nullable=False),
        sa.Column("pdf_exports", sa.Integer(), nullable=False),
        sa.Column("excel_exports", sa.Integer(), nullable=False),
        sa.Column("total_records_exported", sa.BigInteger(), nullable=False),
        sa.Column("total_file_size", sa.BigInteger(), nullable=False),
        sa.Column("avg_processing_time", sa.Interval(), nullable=True),
        sa.Column("failed_exports", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("user_id", "date", name="uq_export_usage_user_date"),
    )
    op.create_index("ix_export_usage_stats_organization_id", "export_usage_stats", ["organization_id"])
    op.create_index("idx_export_usage_user_date", "export_usage_stats", ["user_id", "date"])
    op.create_index("idx_export_usage_date", "export_usage_stats", ["date"])

    # Data migration: the seed's default templates ("Basic Time Tracking Export", ...).
    from app.exports.seeds import seed_default_templates

    seed_default_templates(op.get_bind())


def downgrade():
    for table in ("export_usage_stats", "export_audit_logs", "export_requests", "export_schedules",
                  "export_template_shares", "export_templates", "time_entries"):
        op.drop_table(table)

"""Rules tables (seed 000): dimensions, platforms, rules and fields, previews, generations, names, conflict checks.

Everything is workspace-scoped. Generated names live in `strings` (seed's
`master_data.String`); a partial unique index on (workspace_id, value) over the
active rows is what makes concurrent generations unable to duplicate a name.
"""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.platform.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, JobStatusMixin
from app.platform.models import (
    SoftDeleteMixin,
    TimestampMixin,
    WorkspaceMixin,
    json_dict_column,
    json_list_column,
    pg_only,
)

DIMENSION_KINDS = ("list", "free_text")
CASINGS = ("as_is", "lower", "upper", "title")
TRUNCATIONS = ("refuse", "truncate_end", "shorten_values")
TRUNCATION_LABELS = {
    "refuse": "Refuse names that are too long",
    "truncate_end": "Cut the end off",
    "shorten_values": "Shorten the longest values first",
}
SEVERITIES = ("info", "warning", "error", "critical")  # in increasing order
SCOPES = ("workspace", "platform", "rule")
GENERATION_STATUSES = ("pending", "in_progress", "completed", "failed")


class Dimension(TimestampMixin, WorkspaceMixin, SoftDeleteMixin, db.Model):
    """A named part of a name (environment, project, region): a list of values, or free text."""

    __tablename__ = "rule_dimensions"

    __workspace_id_indexed__ = False  # idx_dimension_workspace_position leads with it
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "key", name="uq_dimension_workspace_key"),
        sa.CheckConstraint("kind IN ('list', 'free_text')", name="check_dimension_kind"),
        sa.Index("idx_dimension_workspace_position", "workspace_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    label: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="list")
    min_length: Mapped[Optional[int]] = mapped_column(nullable=True)
    max_length: Mapped[Optional[int]] = mapped_column(nullable=True)
    position: Mapped[int] = mapped_column(nullable=False, default=0)

    values: Mapped[list["DimensionValue"]] = relationship(
        back_populates="dimension", order_by="DimensionValue.position, DimensionValue.id",
        cascade="all, delete-orphan",
    )

    @property
    def display(self) -> str:
        return self.label or self.key


class DimensionValue(TimestampMixin, WorkspaceMixin, SoftDeleteMixin, db.Model):
    __tablename__ = "rule_dimension_values"
    __table_args__ = (
        sa.UniqueConstraint("dimension_id", "value", name="uq_dimension_value"),
        sa.Index("idx_dimension_value_position", "dimension_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dimension_id: Mapped[int] = mapped_column(sa.ForeignKey("rule_dimensions.id", ondelete="CASCADE"), nullable=False)
    value: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    label: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    short_code: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="")
    position: Mapped[int] = mapped_column(nullable=False, default=0)

    dimension: Mapped[Dimension] = relationship(back_populates="values")


class Platform(TimestampMixin, WorkspaceMixin, SoftDeleteMixin, db.Model):
    """Where a name is used, and what that target accepts."""

    __tablename__ = "rule_platforms"

    __workspace_id_indexed__ = False  # uq_platform_workspace_name leads with it
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name", name="uq_platform_workspace_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    max_length: Mapped[Optional[int]] = mapped_column(nullable=True)
    min_length: Mapped[Optional[int]] = mapped_column(nullable=True)
    allowed_chars: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    regex: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    lowercase_only: Mapped[bool] = mapped_column(nullable=False, default=False)
    invalid_first_chars: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    invalid_last_chars: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    invalid_consecutive_chars: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    # Where a name must be unique (catalogue.UNIQUENESS: global, account, resource_group, parent; "" = not
    # said): the conflict check's scope follows it.
    uniqueness_scope: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="", server_default="")
    # Added from the built-in catalogue: which entry, at which of its versions ("" / None: the workspace's own).
    catalogue_key: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="", server_default="")
    catalogue_version: Mapped[Optional[int]] = mapped_column(nullable=True)

    @property
    def catalogue_entry(self):
        from app.rules import catalogue

        return catalogue.get(self.catalogue_key) if self.catalogue_key else None

    @property
    def update_available(self) -> bool:
        entry = self.catalogue_entry
        return entry is not None and entry.version != self.catalogue_version


class Rule(TimestampMixin, WorkspaceMixin, SoftDeleteMixin, db.Model):
    __tablename__ = "rules"
    __workspace_id_indexed__ = False  # uq_rule_workspace_name leads with it
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name", name="uq_rule_workspace_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    platform_id: Mapped[int] = mapped_column(sa.ForeignKey("rule_platforms.id", ondelete="CASCADE"), nullable=False,
                                             index=True)

    platform: Mapped[Platform] = relationship()
    fields: Mapped[list["RuleField"]] = relationship(
        back_populates="rule", order_by="RuleField.position, RuleField.id", cascade="all, delete-orphan"
    )


class RuleField(TimestampMixin, db.Model):
    """One pattern of a rule (e.g. one resource type), with casing, delimiters and a length policy."""

    __tablename__ = "rule_fields"
    __table_args__ = (
        sa.CheckConstraint("casing IN ('as_is', 'lower', 'upper', 'title')", name="check_rule_field_casing"),
        sa.CheckConstraint("truncation IN ('refuse', 'truncate_end', 'shorten_values')",
                           name="check_rule_field_truncation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    pattern: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    casing: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="as_is")
    delimiter: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="-")
    fallback_delimiters: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="")
    max_length: Mapped[Optional[int]] = mapped_column(nullable=True)
    truncation: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="refuse")
    position: Mapped[int] = mapped_column(nullable=False, default=0)

    rule: Mapped[Rule] = relationship(back_populates="fields")


class Submission(TimestampMixin, WorkspaceMixin, db.Model):
    """The names a user asked for in one go (one generation request)."""

    __tablename__ = "rule_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    submitted_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    submitted_by = relationship("User")


class Generation(TimestampMixin, WorkspaceMixin, JobStatusMixin, db.Model):
    """A batch of names made from a rule (seed 000), run as a job; its status is seed 000's GenerationStatus.

    The column holds only the seed's four values (CHECK `check_generation_status_valid`, migration 0026).
    Cairn's job life cycle (platform/jobs.py) is mapped onto them, never stored under its own names:

    | Cairn (logical)                                   | stored        |
    |---------------------------------------------------|---------------|
    | queued, waiting for a free slot (no rq_job_id)    | pending       |
    | queued, handed to RQ (rq_job_id set)              | pending       |
    | running (also after an automatic retry)           | in_progress   |
    | succeeded                                         | completed     |
    | failed (the reconciler's lost or timed-out runs)  | failed        |

    "Waiting for a free slot" and "handed to RQ" differ by `rq_job_id`, not by status,
    and a retry puts a failed row back to pending. Rows written before migration 0026
    with the logical names were mapped (queued -> pending, running -> in_progress,
    succeeded -> completed; anything else -> failed with a note).
    """

    __tablename__ = "generations"
    __workspace_id_indexed__ = False  # idx_generation_workspace_created leads with it
    __table_args__ = (
        # Seed 000's GenerationStatus, and only those (STATUS_NAMES maps Cairn's job life cycle onto them).
        sa.CheckConstraint("status IN ('pending', 'in_progress', 'completed', 'failed')",
                           name="check_generation_status_valid"),
        sa.CheckConstraint("result_count >= 0", name="check_generation_result_count"),
        sa.Index("idx_generation_workspace_status", "workspace_id", "status"),
        sa.Index("idx_generation_rule_status", "rule_id", "status"),
        sa.Index("idx_generation_workspace_created", "workspace_id", "created_at"),
    )
    STATUS_NAMES = {QUEUED: "pending", RUNNING: "in_progress", SUCCEEDED: "completed", FAILED: "failed"}

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False)
    submission_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("rule_submissions.id", ondelete="CASCADE"))
    dimension_values: Mapped[dict] = json_dict_column()
    field_filter: Mapped[list] = json_list_column()
    options: Mapped[dict] = json_dict_column()
    result_count: Mapped[int] = mapped_column(nullable=False, default=0)
    result: Mapped[dict] = json_dict_column()
    requested_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    rule: Mapped[Rule] = relationship()
    submission: Mapped[Optional[Submission]] = relationship()
    requested_by = relationship("User")

    @property
    def title(self) -> str:
        return f"Generation for {self.rule.name}" if self.rule else f"Generation #{self.id}"


class GeneratedName(TimestampMixin, WorkspaceMixin, SoftDeleteMixin, db.Model):
    """A generated name (the seed's String). Soft delete = release: the value becomes available again."""

    __tablename__ = "strings"

    __workspace_id_indexed__ = False  # idx_string_workspace_normalized leads with it
    __table_args__ = (
        sa.Index("uq_string_workspace_active_value", "workspace_id", "value", unique=True,
                 sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")),
        sa.Index("idx_string_workspace_value", "workspace_id", "value"),
        sa.Index("idx_string_workspace_normalized", "workspace_id", "normalized"),
        sa.Index("idx_string_workspace_reversed", "workspace_id", "reversed_value"),
        sa.Index("idx_string_rule_active", "rule_id", "is_active"),
        # Near-duplicate search (conflict checks): two names one edit apart share, at the same length
        # and position, the first or the second half of the candidate (see services._NEAR_SQL).
        sa.Index("idx_string_active_len_head", "workspace_id", sa.text("length(value)"),
                 sa.text("substr(value, 1, length(value) / 2)"),
                 sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")),
        sa.Index("idx_string_active_len_tail", "workspace_id", sa.text("length(value)"),
                 sa.text("substr(value, length(value) / 2 + 1)"),
                 sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")),
        # The same four searches across the organization, for platforms whose names are unique globally
        # (services._match_names swaps workspace_id for organization_id); rule_id is in the exact and
        # normalised ones so the "made for the same platform" filter needs no table row.
        sa.Index("idx_string_org_active_value", "organization_id", "value", "rule_id",
                 sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")),
        sa.Index("idx_string_org_active_normalized", "organization_id", "normalized", "rule_id",
                 sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")),
        sa.Index("idx_string_org_active_len_head", "organization_id", sa.text("length(value)"),
                 sa.text("substr(value, 1, length(value) / 2)"),
                 sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")),
        sa.Index("idx_string_org_active_len_tail", "organization_id", sa.text("length(value)"),
                 sa.text("substr(value, length(value) / 2 + 1)"),
                 sqlite_where=sa.text("is_active"), postgresql_where=sa.text("is_active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    normalized: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    reversed_value: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    dimension_values: Mapped[dict] = json_dict_column()
    rule_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("rules.id", ondelete="SET NULL"))
    field_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("rule_fields.id", ondelete="SET NULL"))
    generation_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("generations.id", ondelete="SET NULL"),
                                                         index=True)
    submission_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("rule_submissions.id", ondelete="SET NULL"))
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The sequence number the name was made with: part of its identity, kept when it is regenerated. Recorded
    # when known (one name now, regeneration) and, for names a generation stored, just before a change would
    # make it impossible to read off the name again (services.sequences_snapshot).
    sequence: Mapped[Optional[int]] = mapped_column(nullable=True)

    rule: Mapped[Optional[Rule]] = relationship()
    field: Mapped[Optional[RuleField]] = relationship()
    generation: Mapped[Optional[Generation]] = relationship()
    submission: Mapped[Optional[Submission]] = relationship()


class ConflictCheck(TimestampMixin, WorkspaceMixin, JobStatusMixin, db.Model):
    """Proposed names checked against the workspace's active names: a job, its findings in ConflictResult.

    The names are either pasted / sent (`proposed_strings`) or a validate-only
    generation's whole output (`generation_id`: rendered again by the job, not
    stored: it can be a million names). `proposed_strings` is deferred so the
    history page doesn't load every check's list.
    """

    __tablename__ = "conflict_checks"

    __workspace_id_indexed__ = False  # idx_conflict_check_workspace_created leads with it
    __table_args__ = (
        sa.CheckConstraint("scope IN ('workspace', 'platform', 'rule')", name="check_conflict_scope"),
        sa.CheckConstraint("max_severity IS NULL OR max_severity IN ('info', 'warning', 'error', 'critical')",
                           name="check_conflict_max_severity_valid"),
        sa.CheckConstraint("proposed_count >= 0 AND conflicts_found >= 0", name="check_conflict_check_counts"),
        sa.Index("idx_conflict_check_workspace_created", "workspace_id", "created_at"),
    )
    STATUS_NAMES = Generation.STATUS_NAMES

    id: Mapped[int] = mapped_column(primary_key=True)
    proposed_strings: Mapped[list] = json_list_column(deferred=True)
    proposed_count: Mapped[int] = mapped_column(nullable=False, default=0)
    generation_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("generations.id", ondelete="SET NULL"))
    severity_counts: Mapped[dict] = json_dict_column()
    scope: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="workspace")
    platform_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("rule_platforms.id", ondelete="SET NULL"))
    rule_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("rules.id", ondelete="SET NULL"))
    conflicts_found: Mapped[int] = mapped_column(nullable=False, default=0)
    max_severity: Mapped[Optional[str]] = mapped_column(sa.String(20), nullable=True)
    checked_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    platform: Mapped[Optional[Platform]] = relationship()
    rule: Mapped[Optional[Rule]] = relationship()
    generation: Mapped[Optional[Generation]] = relationship()
    checked_by = relationship("User")
    results: Mapped[list["ConflictResult"]] = relationship(
        back_populates="check", cascade="all, delete-orphan", order_by="ConflictResult.id",
        passive_deletes=True,
    )

    # Whose panel it is (JobStatusMixin.visible_to / may_retry look for these columns).
    @property
    def requested_by_id(self) -> Optional[int]:
        return self.checked_by_id

    @property
    def title(self) -> str:
        source = f"generation #{self.generation_id}" if self.generation_id else f"{self.proposed_count:,} name(s)"
        return f"Conflict check of {source}"


# Findings are listed worst first (critical, error, warning, info), then in the order found (id), read in that
# order from an index on (check_id, this expression, id): the query must use the same expression as literal SQL
# (bound values would not match the index). PostgreSQL's index is written as PostgreSQL prints it back, so
# the models-vs-migrations comparison sees the same index; SQLite's as written (it can't compare it).
SEVERITY_RANK_SQL = "(CASE severity WHEN 'critical' THEN 0 WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END)"
_SEVERITY_RANK_PG = ("(\nCASE severity\n    WHEN 'critical'::text THEN 0\n    WHEN 'error'::text THEN 1\n"
                     "    WHEN 'warning'::text THEN 2\n    ELSE 3\nEND)")


class ConflictResult(TimestampMixin, db.Model):
    __tablename__ = "conflict_results"
    __table_args__ = (
        sa.CheckConstraint("severity IN ('info', 'warning', 'error', 'critical')", name="check_conflict_severity"),
        pg_only(sa.Index("idx_conflict_result_worst_first", "check_id", sa.text(_SEVERITY_RANK_PG), "id")),
        sa.Index("idx_conflict_result_worst_first_lite", "check_id", sa.text(SEVERITY_RANK_SQL), "id")
        .ddl_if(dialect="sqlite"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: idx_conflict_result_worst_first(_lite) leads with check_id.
    check_id: Mapped[int] = mapped_column(sa.ForeignKey("conflict_checks.id", ondelete="CASCADE"), nullable=False)
    proposed_value: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    conflicting_string_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("strings.id", ondelete="CASCADE"))
    severity: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    message: Mapped[str] = mapped_column(sa.Text, nullable=False)

    check: Mapped[ConflictCheck] = relationship(back_populates="results")
    conflicting_string: Mapped[Optional[GeneratedName]] = relationship()


class RulePreview(TimestampMixin, WorkspaceMixin, db.Model):
    """A saved preview: the sample values, what the rule made of them, and every repair/refusal."""

    __tablename__ = "rule_previews"
    __table_args__ = (sa.Index("idx_rule_preview_rule_created", "rule_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("rules.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    test_data: Mapped[dict] = json_dict_column()
    generated_examples: Mapped[list] = json_list_column()
    validation_results: Mapped[dict] = json_dict_column()
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    rule: Mapped[Rule] = relationship()
    created_by = relationship("User")


PROPAGATION_SCOPES = ("value", "field", "rule", "platform", "workspace")


class PropagationRun(TimestampMixin, WorkspaceMixin, JobStatusMixin, db.Model):
    """Regenerating names in place (same id, same sequence number); `changes` records old -> new.

    A renamed dimension value (`old_value` -> `new_value`) rewrites the names
    built from it; otherwise (`scope`, `target_id`) the stale names of a value
    (short code changed), field, rule, platform or the whole workspace are
    rendered again under the current rules.
    """

    __tablename__ = "rule_propagations"

    __workspace_id_indexed__ = False  # idx_propagation_workspace_created leads with it
    __table_args__ = (sa.Index("idx_propagation_workspace_created", "workspace_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dimension_value_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("rule_dimension_values.id", ondelete="SET NULL"))
    dimension_key: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    old_value: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    new_value: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    changes: Mapped[list] = json_list_column()
    requested_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    scope: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="value", server_default="value")
    target_id: Mapped[Optional[int]] = mapped_column(nullable=True)  # the field, rule or platform (by scope)
    target_label: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="", server_default="")

    requested_by = relationship("User")

    @property
    def is_rename(self) -> bool:
        return self.scope == "value" and self.old_value != self.new_value

    @property
    def title(self) -> str:
        if self.is_rename:
            return f"Rename {self.dimension_key} {self.old_value} → {self.new_value}"
        return f"Regenerate the stale names of {self.target_label or self.scope}"


class StaleScan(TimestampMixin, WorkspaceMixin, JobStatusMixin, db.Model):
    """Which names of a workspace render differently now (stale): a job, so that a million names never hold
    up a page. The page shows its live status panel, then its findings a page at a time; `stale_ids` are
    the stale names' ids in id order (what each would become is rendered again for the page shown only)."""

    __tablename__ = "rule_stale_scans"
    __workspace_id_indexed__ = False  # idx_stale_scan_workspace_created leads with it
    __table_args__ = (sa.Index("idx_stale_scan_workspace_created", "workspace_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    checked: Mapped[int] = mapped_column(nullable=False, default=0)  # names rendered again
    stale_ids: Mapped[list] = json_list_column()

    requested_by = relationship("User")

    @property
    def stale_count(self) -> int:
        return len(self.stale_ids or [])

    @property
    def title(self) -> str:
        return "Looking for stale names"

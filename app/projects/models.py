"""Projects (seeds 002 and 003): study projects, their metadata, dates and attachments;
generated projects with their files; repository exports; workflow executions.

Project types use joined-table inheritance, as seed 002 asks: `projects` holds what
every project has, and `school_projects` / `self_study_projects` hold each type's own
fields, one row per project (primary key = the project's), every field NOT NULL and
non-blank. A school project without a course code cannot exist in the database,
and no project carries empty columns of the other type.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship, synonym

from app.extensions import db
from app.platform.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, JobStatusMixin
from app.platform.models import (
    SoftDeleteMixin,
    TenantMixin,
    TimestampMixin,
    UTCDateTime,
    json_dict_column,
    json_list_column,
    json_type,
    pg_only,
    utcnow,
    uuid_pk,
)

SCHOOL, SELF_STUDY = "school", "self_study"
PROJECT_TYPES = (SCHOOL, SELF_STUDY)
PROJECT_TYPE_LABELS = {SCHOOL: "School project", SELF_STUDY: "Self-study project"}
STUDY_FREQUENCIES = ("daily", "several_per_week", "weekly", "biweekly", "monthly")
STUDY_FREQUENCY_LABELS = {"daily": "Daily", "several_per_week": "Several times a week", "weekly": "Weekly",
                          "biweekly": "Every two weeks", "monthly": "Monthly"}
DATE_KINDS = ("deadline", "exam", "milestone")
EXPORT_ARCHIVES = ("zip", "tar", "tar.gz")
EXPORT_GIT = ("github", "gitlab", "git")
EXPORT_TYPES = EXPORT_ARCHIVES + EXPORT_GIT
EXPORT_TYPE_LABELS = {"zip": "ZIP archive", "tar": "TAR archive", "tar.gz": "TAR GZIP archive",
                      "github": "GitHub repository", "gitlab": "GitLab repository", "git": "Other git remote"}


def _filled(column: str) -> str:
    return f"({column} IS NOT NULL AND TRIM({column}) <> '')"


SCHOOL_FIELDS = ("course_name", "course_code", "teacher_name")
SELF_STUDY_FIELDS = ("goal_description", "study_frequency")
TYPE_FIELDS = {SCHOOL: SCHOOL_FIELDS, SELF_STUDY: SELF_STUDY_FIELDS}


class Project(TimestampMixin, TenantMixin, db.Model):
    """A study project of one user. A draft until published; abandoned drafts are cleaned up."""

    __tablename__ = "projects"

    __organization_id_indexed__ = False  # idx_project_owner_created leads with it
    __table_args__ = (
        sa.CheckConstraint("project_type IN ('school', 'self_study')", name="check_project_type_valid"),
        sa.CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
                           name="check_project_dates_ordered"),
        sa.CheckConstraint("is_draft OR published_at IS NOT NULL", name="check_project_published_at"),
        # Lists: my projects of one type, newest first.
        sa.Index("idx_project_owner_type", "organization_id", "owner_id", "project_type", "created_at"),
        # The All tab: my projects of both types, newest first, read in order (no sort of every project I own).
        sa.Index("idx_project_owner_created", "organization_id", "owner_id", "created_at", "id"),
        # abandoned_drafts(hours): drafts by age, so cleanup reads a range of one index, already in its
        # (updated_at, id) keyset order: no sort even when many drafts share a timestamp.
        sa.Index("idx_project_draft_cleanup", "is_draft", "updated_at", "id"),
        # Search (projects/search.py): one owner's projects by the words of their name, course and goal.
        pg_only(sa.Index("idx_project_search_gin", "organization_id", "owner_id", "search_vector",
                         postgresql_using="gin")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    project_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    start_date: Mapped[Optional[date]] = mapped_column(sa.Date, nullable=True)
    end_date: Mapped[Optional[date]] = mapped_column(sa.Date, nullable=True)
    is_draft: Mapped[bool] = mapped_column(nullable=False, default=True)
    published_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    # The words of the name, course name and goal (projects/search.py): a tsvector kept by triggers on
    # PostgreSQL, a plain text kept by the before_save hook on SQLite. Never loaded with the row.
    search_vector: Mapped[Optional[str]] = mapped_column(
        sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"), nullable=True, deferred=True)

    owner = relationship("User", foreign_keys=[owner_id])
    metadata_items: Mapped[list["ProjectMeta"]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ProjectMeta.key", passive_deletes=True)
    important_dates: Mapped[list["ImportantDate"]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ImportantDate.date", passive_deletes=True)

    # Every load of Project joins both type tables (LEFT OUTER JOIN on the primary key), so a
    # list of mixed projects is one query and each row comes back as its own type.
    __mapper_args__ = {"polymorphic_on": "project_type", "polymorphic_abstract": True, "with_polymorphic": "*"}

    def type_fields(self) -> dict:
        """This project's own fields by name (a school project's course, a self-study project's goal)."""
        return {name: getattr(self, name) for name in TYPE_FIELDS.get(self.project_type, ())}

    @property
    def type_label(self) -> str:
        return PROJECT_TYPE_LABELS.get(self.project_type, self.project_type)

    @property
    def meta(self) -> dict:
        return {m.key: m.value for m in self.metadata_items}

    @classmethod
    def abandoned_drafts(cls, hours: int, now: datetime | None = None) -> sa.Select:
        """Drafts untouched for `hours` (reads `idx_project_draft_cleanup`)."""
        cutoff = (now or utcnow()) - timedelta(hours=hours)
        return sa.select(cls).where(cls.is_draft.is_(True), cls.updated_at < cutoff)


class SchoolProject(Project):
    __tablename__ = "school_projects"
    __table_args__ = (
        sa.CheckConstraint(" AND ".join(_filled(c) for c in SCHOOL_FIELDS), name="check_school_project_fields_filled"),
    )
    __mapper_args__ = {"polymorphic_identity": SCHOOL}

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                                          primary_key=True)
    course_name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    course_code: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    teacher_name: Mapped[str] = mapped_column(sa.String(255), nullable=False)


class SelfStudyProject(Project):
    __tablename__ = "self_study_projects"
    __table_args__ = (
        sa.CheckConstraint(" AND ".join(_filled(c) for c in SELF_STUDY_FIELDS),
                           name="check_self_study_project_fields_filled"),
    )
    __mapper_args__ = {"polymorphic_identity": SELF_STUDY}

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                                          primary_key=True)
    goal_description: Mapped[str] = mapped_column(sa.Text, nullable=False)
    # Free text, as in the seed; the form suggests STUDY_FREQUENCY_LABELS' values.
    study_frequency: Mapped[str] = mapped_column(sa.String(50), nullable=False)

    @property
    def frequency_label(self) -> str:
        return STUDY_FREQUENCY_LABELS.get(self.study_frequency or "", self.study_frequency or "")


class ProjectMeta(TimestampMixin, db.Model):
    """Free-form key / JSON value pairs of a project (syllabus, links, grading...)."""

    __tablename__ = "project_meta"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "key", name="uq_project_meta_key"),
        sa.CheckConstraint("TRIM(key) <> ''", name="check_project_meta_key_not_empty"),
        pg_only(sa.Index("idx_project_meta_value_gin", "value", postgresql_using="gin")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of its own: uq_project_meta_key (project_id, key) serves lookups by project.
    project_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                                                  nullable=False)
    key: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    value: Mapped[Optional[object]] = mapped_column(json_type(), nullable=True)

    project: Mapped[Project] = relationship(back_populates="metadata_items")


class ImportantDate(TimestampMixin, db.Model):
    """A deadline, exam or milestone of a project (exported as an .ics calendar)."""

    __tablename__ = "project_important_dates"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('deadline', 'exam', 'milestone')", name="check_important_date_kind_valid"),
        sa.Index("idx_important_date_project_date", "project_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                                                  nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="deadline")
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    date: Mapped[date] = mapped_column(sa.Date, nullable=False)
    notes: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    project: Mapped[Project] = relationship(back_populates="important_dates")


class ProjectAttachment(TimestampMixin, TenantMixin, SoftDeleteMixin, db.Model):
    """A file attached to a project. The project is PROTECTed (RESTRICT): it can't be
    deleted while attachments exist, so no file is ever orphaned by accident."""

    __tablename__ = "project_attachments"
    __table_args__ = (
        sa.CheckConstraint("size >= 0", name="check_project_attachment_size"),
        sa.Index("idx_project_attachment_project", "project_id", "is_active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("projects.id", ondelete="RESTRICT"),
                                                  nullable=False)
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    storage_path: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="application/octet-stream")
    size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="")
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship(foreign_keys=[project_id])
    uploaded_by = relationship("User", foreign_keys=[uploaded_by_id])


class ProjectTemplate(TimestampMixin, TenantMixin, db.Model):
    """An organization's own generation template, uploaded as a checked zip."""

    __tablename__ = "project_templates"
    __organization_id_indexed__ = False  # uq_project_template_slug leads with it
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "slug", name="uq_project_template_slug"),
        sa.CheckConstraint("total_files >= 0 AND total_size >= 0", name="check_project_template_totals"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    slug: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    questions: Mapped[list] = json_list_column()
    storage_path: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    total_files: Mapped[int] = mapped_column(nullable=False, default=0)
    total_size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    uploaded_by = relationship("User", foreign_keys=[uploaded_by_id])


class WorkflowExecution(TimestampMixin, TenantMixin, db.Model):
    """One run of a workflow (a generation) with its steps and log, as the user sees them."""

    __tablename__ = "workflow_executions"
    __table_args__ = (sa.Index("idx_workflow_project_created", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                                                  nullable=False)
    workflow: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="generate")
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="running")
    steps: Mapped[list] = json_list_column()
    log: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    def step(self, name: str, status: str = "done", detail: str = "") -> None:
        self.steps = list(self.steps or []) + [{"name": name, "status": status, "detail": detail,
                                                 "at": utcnow().isoformat(timespec="seconds")}]
        self.log = (self.log or "") + f"{utcnow().isoformat(timespec='seconds')} {name}: {status}" \
            + (f" ({detail})" if detail else "") + "\n"


# Seed 003's validations, enforced by the database too (the same SQL on SQLite and PostgreSQL).
# A 64-character lowercase hex digest: ltrim() with a character set exists on both databases.
SHA256_HEX_SQL = "length({column}) = 64 AND ltrim({column}, '0123456789abcdef') = ''"
# A relative path inside the storage root: no leading '/', no '..' segment, no backslash.
SAFE_RELATIVE_PATH_SQL = (
    "{empty_ok}({column} NOT LIKE '/%' AND {column} <> '..' AND {column} NOT LIKE '../%' "
    "AND {column} NOT LIKE '%/../%' AND {column} NOT LIKE '%/..' AND replace({column}, '\\', '') = {column})"
)


class GeneratedProject(TimestampMixin, TenantMixin, JobStatusMixin, db.Model):
    """One generation of a project's files from a template (a job row)."""

    __tablename__ = "generated_projects"
    STATUS_NAMES = {QUEUED: "pending", RUNNING: "generating", SUCCEEDED: "completed", FAILED: "failed"}
    ARCHIVED = "archived"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'generating', 'completed', 'failed', 'archived')",
                           name="check_generated_project_status_valid"),
        sa.CheckConstraint("total_files >= 0 AND total_size >= 0", name="check_generated_project_totals"),
        sa.CheckConstraint(
            SAFE_RELATIVE_PATH_SQL.format(column="output_directory", empty_ok="output_directory = '' OR "),
            name="check_generated_project_output_directory"),
        sa.Index("idx_generated_project_project_created", "project_id", "created_at"),
        sa.Index("idx_generated_project_creator_created", "created_by_id", "created_at"),
        # Seed 003: created_at and updated_at are db_index=True (status is indexed by JobStatusMixin).
        sa.Index("idx_generated_project_created", "created_at"),
        sa.Index("idx_generated_project_updated", "updated_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    project_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("projects.id", ondelete="CASCADE"),
                                                  nullable=False)
    workflow_execution_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("workflow_executions.id", ondelete="SET NULL"), nullable=True)
    previous_id: Mapped[Optional[uuid.UUID]] = mapped_column(
        sa.Uuid, sa.ForeignKey("generated_projects.id", ondelete="SET NULL"), nullable=True)
    template_key: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    template_name: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    options: Mapped[dict] = json_dict_column()
    output_directory: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    total_files: Mapped[int] = mapped_column(nullable=False, default=0)
    total_size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    requested_by_id = synonym("created_by_id")  # who may press Retry (platform JobStatusMixin)

    project: Mapped[Project] = relationship(foreign_keys=[project_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    workflow_execution: Mapped[Optional[WorkflowExecution]] = relationship(foreign_keys=[workflow_execution_id])
    previous: Mapped[Optional["GeneratedProject"]] = relationship(remote_side=[id], foreign_keys=[previous_id])
    files: Mapped[list["ProjectFile"]] = relationship(
        back_populates="generated_project", order_by="ProjectFile.file_path", cascade="all, delete-orphan",
        passive_deletes=True)

    @property
    def title(self) -> str:
        return f"Generate {self.project.name} ({self.template_name or self.template_key})"

    @property
    def is_terminal(self) -> bool:  # archived is a resting state too: the status panel stops polling
        return self.status == self.ARCHIVED or super().is_terminal

    @property
    def status_label(self) -> str:
        return "Archived" if self.status == self.ARCHIVED else super().status_label

    @property
    def is_archived(self) -> bool:
        return self.status == self.ARCHIVED

    @property
    def is_usable(self) -> bool:
        return self.status in (self.STATUS_NAMES[SUCCEEDED], self.ARCHIVED)


class ProjectFile(TimestampMixin, db.Model):
    """One file of a generation: where it goes, what it is, and a manifest entry (size, sha256, mode)."""

    __tablename__ = "project_files"
    __table_args__ = (
        sa.UniqueConstraint("generated_project_id", "file_path", name="uq_project_file_path"),
        sa.CheckConstraint("file_size >= 0", name="check_project_file_size"),
        sa.CheckConstraint(
            "file_path <> '' AND file_path NOT LIKE '/%' AND file_path <> '..' AND file_path NOT LIKE '../%' "
            "AND file_path NOT LIKE '%/../%' AND file_path NOT LIKE '%/..'",
            name="check_project_file_path_relative"),
        sa.CheckConstraint(SHA256_HEX_SQL.format(column="content_hash"), name="check_project_file_content_hash"),
        sa.Index("idx_project_file_generated_path", "generated_project_id", "file_path"),
        sa.Index("idx_project_file_type", "file_type"),
        sa.Index("idx_project_file_hash", "content_hash"),
        sa.Index("idx_project_file_created", "created_at"),
        sa.Index("idx_project_file_updated", "updated_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    generated_project_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("generated_projects.id", ondelete="CASCADE"), nullable=False)
    file_path: Mapped[str] = mapped_column(sa.String(500), nullable=False, index=True)
    file_name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    file_type: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="text")
    file_size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    content_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    content_preview: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    is_executable: Mapped[bool] = mapped_column(nullable=False, default=False)

    generated_project: Mapped[GeneratedProject] = relationship(back_populates="files")

    @property
    def mode(self) -> int:
        return 0o755 if self.is_executable else 0o644


class RepositoryExport(TimestampMixin, TenantMixin, JobStatusMixin, db.Model):
    """An export of a generation: an archive to download, or a push to a git remote (a job row)."""

    __tablename__ = "repository_exports"
    STATUS_NAMES = {QUEUED: "pending", RUNNING: "exporting", SUCCEEDED: "completed", FAILED: "failed"}
    __table_args__ = (
        sa.CheckConstraint("export_type IN ('zip', 'tar', 'tar.gz', 'github', 'gitlab', 'git')",
                           name="check_repository_export_type_valid"),
        sa.CheckConstraint("status IN ('pending', 'exporting', 'completed', 'failed')",
                           name="check_repository_export_status_valid"),
        sa.CheckConstraint("archive_size IS NULL OR archive_size >= 0", name="check_repository_export_size"),
        sa.Index("idx_repository_export_generated_created", "generated_project_id", "created_at"),
        sa.Index("idx_repository_export_type", "export_type"),
        sa.Index("idx_repository_export_created", "created_at"),
        sa.Index("idx_repository_export_updated", "updated_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    generated_project_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("generated_projects.id", ondelete="CASCADE"), nullable=False)
    export_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    repository_name: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    repository_url: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    include_git: Mapped[bool] = mapped_column(nullable=False, default=False)
    archive_path: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    archive_size: Mapped[Optional[int]] = mapped_column(sa.BigInteger, nullable=True)
    archive_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="")
    config: Mapped[dict] = json_dict_column()
    # The push token, Fernet-encrypted with a key from SECRET_KEY; never rendered or logged, and cleared once
    # the push succeeded (kept only so a failed push can be retried).
    credential: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    requested_by_id = synonym("created_by_id")

    generated_project: Mapped[GeneratedProject] = relationship(foreign_keys=[generated_project_id])
    created_by = relationship("User", foreign_keys=[created_by_id])

    @property
    def title(self) -> str:
        return f"{EXPORT_TYPE_LABELS.get(self.export_type, self.export_type)} of {self.generated_project.project.name}"

    @property
    def is_archive(self) -> bool:
        return self.export_type in EXPORT_ARCHIVES

    @property
    def download_name(self) -> str:
        from app.projects.archives import slug_for

        return f"{slug_for(self.generated_project.project.name)}-{self.generated_project_id}.{self.export_type}"

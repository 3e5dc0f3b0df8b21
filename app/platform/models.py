"""Column mixins shared by every feature: timestamps, tenancy, soft delete.

Timestamps are timezone-aware UTC. Defaults are callables (`utcnow`), evaluated
per row, never once at import time.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.mutable import MutableDict, MutableList
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:  # pragma: no cover
    from app.accounts.models import User


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A DateTime that always comes back timezone-aware in UTC.

    SQLite has no time zones and returns naive values; PostgreSQL returns aware
    ones. Normalising here means the rest of the code compares datetimes freely.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        if value is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        elif value is not None:
            value = value.astimezone(timezone.utc)  # whatever zone the session ran in: UTC in the app
        return value


_uuid7_lock = threading.Lock()
_uuid7_last = [0, 0]  # (unix ms, 12-bit counter) of the last id made in this process


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then 74 random bits.

    Ids made later sort later (B-tree inserts stay at the right edge, like a serial), but they
    reveal neither how many rows exist nor the next one. Within one millisecond of one process,
    the 12 bits after the version act as a counter (RFC 9562 method 1), so ids stay increasing;
    past 4,096 ids in a millisecond the timestamp borrows the next one. (Python 3.11 has no uuid.uuid7.)
    """
    now = int(time.time() * 1000) if unix_ms is None else unix_ms
    with _uuid7_lock:
        last_ms, counter = _uuid7_last
        if now <= last_ms:
            now, counter = last_ms, counter + 1
            if counter > 0xFFF:
                now, counter = now + 1, 0
        else:
            counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # random start, room to count up
        _uuid7_last[:] = [now, counter]
    random_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (now & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | random_b
    return uuid.UUID(int=value)


def uuid_pk() -> Mapped[uuid.UUID]:
    """A UUIDv7 primary key made in Python: `uuid` on PostgreSQL, CHAR(32) hex on SQLite (sa.Uuid)."""
    return mapped_column(sa.Uuid, primary_key=True, default=uuid7)


def json_type() -> sa.types.TypeEngine:
    """JSONB on PostgreSQL (GIN-indexable), JSON text elsewhere.

    A new type object per column: `Mutable*.as_mutable` binds to the type
    instance, so sharing one would make list columns coerce to dicts.
    """
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def json_dict_column(**kwargs: Any) -> Mapped[dict]:
    return mapped_column(MutableDict.as_mutable(json_type()), default=dict, nullable=False, **kwargs)


def json_list_column(**kwargs: Any) -> Mapped[list]:
    return mapped_column(MutableList.as_mutable(json_type()), default=list, nullable=False, **kwargs)


def pg_only(index: sa.Index) -> sa.Index:
    """Mark an index (GIN, trigram) as PostgreSQL-only; SQLite gets none."""
    return index.ddl_if(dialect="postgresql")


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class TenantMixin:
    """Rows owned by one organization. Read them through `platform.tenancy`."""

    __tenant_scope__ = "organization"
    # A model whose own composite index or unique constraint leads with organization_id
    # sets this to False: a second index on the column alone would only cost writes
    # (the index analyzer reports such prefixes; tests/platform/test_index_redundancy.py
    # keeps the schema free of them).
    __organization_id_indexed__ = True

    @declared_attr
    def organization_id(cls) -> Mapped[int]:
        return mapped_column(
            sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False,
            index=cls.__dict__.get("__organization_id_indexed__", True),
        )


class WorkspaceMixin(TenantMixin):
    """Rows owned by one workspace (and so by its organization)."""

    __tenant_scope__ = "workspace"
    __workspace_id_indexed__ = True  # as __organization_id_indexed__, for workspace_id

    @declared_attr
    def workspace_id(cls) -> Mapped[int]:
        return mapped_column(
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False,
            index=cls.__dict__.get("__workspace_id_indexed__", True),
        )


class SoftDeleteError(ValueError):
    """A soft delete or restore that makes no sense for the row's state."""


class SoftDeleteMixin:
    """Seed 001's SoftDeleteModel: rows are hidden, not removed.

    `soft_delete`/`restore` refuse a second delete or the restore of an active
    row, and run the before/after soft-delete and restore hooks. They change the
    row in the session; the calling service commits.
    """

    is_active: Mapped[bool] = mapped_column(default=True, nullable=False, server_default=sa.true())
    deleted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    delete_reason: Mapped[str] = mapped_column(sa.String(255), default="", nullable=False, server_default="")

    @declared_attr
    def deleted_by_id(cls) -> Mapped[Optional[int]]:
        return mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL", use_alter=True), nullable=True)

    @declared_attr
    def deleted_by(cls) -> Mapped[Optional["User"]]:
        from sqlalchemy.orm import relationship

        # remote_side: for users themselves this is self-referential, and without it SQLAlchemy
        # reads it as one-to-many: deactivating B by A would write A.deleted_by_id = B.
        return relationship("User", foreign_keys=[cls.deleted_by_id], remote_side="User.id", lazy="select",
                            post_update=True)

    def soft_delete(self, user: "User | None" = None, reason: str = "") -> None:
        from app.platform.hooks import run_hooks

        if not self.is_active:
            raise SoftDeleteError("This record is already deleted.")
        run_hooks("before_soft_delete", self, actor=user, reason=reason)
        self.is_active = False
        self.deleted_at = utcnow()
        self.deleted_by = user
        self.delete_reason = (reason or "")[:255]
        run_hooks("after_soft_delete", self, actor=user, reason=reason)

    def restore(self, user: "User | None" = None) -> None:
        from app.platform.hooks import run_hooks

        if self.is_active:
            raise SoftDeleteError("This record is not deleted, so there is nothing to restore.")
        run_hooks("before_restore", self, actor=user)
        self.is_active = True
        self.deleted_at = None
        self.deleted_by = None
        self.delete_reason = ""
        run_hooks("after_restore", self, actor=user)

    @classmethod
    def soft_delete_all(cls, statement: sa.Select, *, user: "User | None" = None, reason: str = "",
                        prepare: Callable[[Any], dict] | None = None, **options) -> "BulkResult":
        """Seed 001's queryset `delete()`: soft-delete every row `statement` selects, each exactly as
        `soft_delete` does one (its hooks, so its audit rows; the same metadata and retention options).

        `prepare(row)`, if given, runs just before each row's delete and returns options of that row
        alone (a ticket's metadata holds its own status and number), which win over `options`.
        Rows already deleted are skipped and counted, not an error. Rows load in batches, so a large
        selection never sits in memory whole. The calling service commits (or rolls back) once.
        """
        def change(row) -> None:
            row.soft_delete(user=user, reason=reason, **{**options, **(prepare(row) if prepare else {})})

        return _bulk(cls, statement, change, lambda row: row.is_active, "already deleted")

    @classmethod
    def restore_all(cls, statement: sa.Select, *, user: "User | None" = None,
                    prepare: Callable[[Any], Any] | None = None) -> "BulkResult":
        """Restore every deleted row `statement` selects, each with the restore hooks; active rows are skipped.

        `prepare(row)`, if given, runs just before each row's restore (its return value is ignored).
        """
        def change(row) -> None:
            if prepare is not None:
                prepare(row)
            row.restore(user=user)

        return _bulk(cls, statement, change, lambda row: not row.is_active, "not deleted")

    @classmethod
    def select_active(cls):
        return sa.select(cls).where(cls.is_active.is_(True))

    @classmethod
    def select_deleted(cls):
        return sa.select(cls).where(cls.is_active.is_(False))

    @classmethod
    def select_with_deleted(cls):
        return sa.select(cls)


@dataclass
class BulkResult:
    """What a bulk soft delete or restore did: the ids it changed and those it left alone, with why."""

    changed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


BULK_BATCH_SIZE = 500


def _bulk(model, statement: sa.Select, change, applies, skip_reason: str) -> BulkResult:
    from app.extensions import db

    ids = list(db.session.scalars(statement.with_only_columns(model.id).order_by(None).order_by(model.id)))
    result = BulkResult()
    for start in range(0, len(ids), BULK_BATCH_SIZE):
        batch = ids[start:start + BULK_BATCH_SIZE]
        for row in db.session.scalars(sa.select(model).where(model.id.in_(batch)).order_by(model.id)):
            if not applies(row):
                result.skipped[row.id] = skip_reason
                continue
            change(row)
            result.changed.append(row.id)
        db.session.flush()  # runs validation and the flush hooks per batch, not once for everything
    return result


class EnhancedSoftDeleteMixin(SoftDeleteMixin):
    """Seed 001's EnhancedSoftDeleteModel: metadata, restorability, auto purge.

    Rows past `auto_delete_at` are hard-deleted by the purge job
    (`platform.trash.purge_expired`).
    """

    deletion_metadata: Mapped[dict] = json_dict_column()
    can_be_restored: Mapped[bool] = mapped_column(default=True, nullable=False, server_default=sa.true())
    auto_delete_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True, index=True)

    def soft_delete(  # type: ignore[override]
        self,
        user: "User | None" = None,
        reason: str = "",
        metadata: dict | None = None,
        auto_delete_at: datetime | None = None,
        retention_days: int | None = None,
        can_be_restored: bool = True,
    ) -> None:
        super().soft_delete(user=user, reason=reason)
        self.deletion_metadata = dict(metadata or {})
        self.can_be_restored = can_be_restored
        if auto_delete_at is None and retention_days is not None:
            auto_delete_at = self.deleted_at + timedelta(days=retention_days)
        self.auto_delete_at = auto_delete_at

    def restore(self, user: "User | None" = None) -> None:
        if not self.is_active and not self.can_be_restored:
            raise SoftDeleteError("This record was marked as not restorable when it was deleted.")
        super().restore(user=user)
        self.deletion_metadata = {}
        self.auto_delete_at = None

"""Purging soft-deleted rows whose `auto_delete_at` has passed (EnhancedSoftDeleteMixin)."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.platform.models import EnhancedSoftDeleteMixin, utcnow


def purgeable_models() -> list[type]:
    """Models this purge handles; a model with `__platform_purge__ = False` is purged by its feature's own job."""
    return sorted(
        (m.class_ for m in db.Model.registry.mappers
         if issubclass(m.class_, EnhancedSoftDeleteMixin) and getattr(m.class_, "__platform_purge__", True)),
        key=lambda m: m.__tablename__,
    )


def delete_in_batches(stmt, batch_size: int) -> int:
    """ORM-delete the rows `stmt` selects, `batch_size` per transaction; returns how many went.

    ORM deletes, so every model's before/after_delete hooks run (files go with their rows);
    batches keep each transaction short on a large trash. A failed commit is rolled back.
    """
    deleted = 0
    while True:
        rows = db.session.scalars(stmt.limit(batch_size)).all()
        if not rows:
            return deleted
        for row in rows:
            db.session.delete(row)
        try:
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        deleted += len(rows)


def purge_expired(organization_id: int | None = None, batch_size: int = 500, progress=None) -> dict[str, int]:
    """Hard-delete soft-deleted rows past auto_delete_at, in batches. Returns counts per table."""
    now = utcnow()
    counts: dict[str, int] = {}
    models = purgeable_models()
    for index, model in enumerate(models):
        stmt = sa.select(model).where(
            model.is_active.is_(False), model.auto_delete_at.is_not(None), model.auto_delete_at <= now
        )
        if organization_id is not None:
            stmt = stmt.where(model.organization_id == organization_id)
        counts[model.__tablename__] = delete_in_batches(stmt, batch_size)
        if progress is not None:
            progress(100 * (index + 1) / len(models), f"Checked {model.__tablename__}")
    return counts


def purge_all_organizations() -> dict[str, int]:
    """Periodic entry point."""
    return purge_expired()


from app.platform.jobs import register_periodic  # noqa: E402

register_periodic("purge-trash", 3600, "app.platform.trash.purge_all_organizations")

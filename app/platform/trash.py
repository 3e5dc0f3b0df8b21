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


def purge_expired(organization_id: int | None = None, batch_size: int = 500, progress=None) -> dict[str, int]:
    """Hard-delete soft-deleted rows past auto_delete_at, in batches. Returns counts per table."""
    now = utcnow()
    counts: dict[str, int] = {}
    models = purgeable_models()
    for index, model in enumerate(models):
        counts[model.__tablename__] = 0
        while True:
            stmt = sa.select(model).where(
                model.is_active.is_(False), model.auto_delete_at.is_not(None), model.auto_delete_at <= now
            )
            if organization_id is not None:
                stmt = stmt.where(model.organization_id == organization_id)
            rows = db.session.scalars(stmt.limit(batch_size)).all()
            if not rows:
                break
            for row in rows:
                db.session.delete(row)  # ORM delete: before/after_delete hooks run
            counts[model.__tablename__] += len(rows)
            db.session.commit()
        if progress is not None:
            progress(100 * (index + 1) / len(models), f"Checked {model.__tablename__}")
    return counts


def purge_all_organizations() -> dict[str, int]:
    """Periodic entry point."""
    return purge_expired()


from app.platform.jobs import register_periodic  # noqa: E402

register_periodic("purge-trash", 3600, "app.platform.trash.purge_all_organizations")

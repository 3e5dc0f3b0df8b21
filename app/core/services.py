"""Reads for the dashboard and the Jobs page."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.platform.jobs import QUEUED, RUNNING, find_kind, job_kinds, job_models
from app.platform.parsing import parse_row_id


def recent_jobs(organization_id: int, *, user=None, limit: int = 50, kind: str = "", status: str = "") -> list:
    """The organization's recent job rows of every registered kind that `user` may see, newest first."""
    rows = []
    for model in job_models():
        stmt = sa.select(model).where(model.organization_id == organization_id)
        if status:
            stmt = stmt.where(model.status_in(status))
        if kind and hasattr(model, "kind"):
            stmt = stmt.where(model.kind == kind)
        elif kind and kind_name_for_model(model) != kind:
            continue
        # A row of a kind this process no longer knows has no panel to render: leave it out.
        rows.extend(r for r in db.session.scalars(stmt.order_by(model.created_at.desc()).limit(limit))
                    if find_kind(r) is not None and (user is None or r.visible_to(user)))
    # Ties on time: by table, then id (ints and UUIDs don't compare with each other).
    rows.sort(key=lambda r: (r.created_at, r.__tablename__, r.id), reverse=True)
    return rows[:limit]


def kind_name_for_model(model) -> str | None:
    for name, kind in job_kinds.items():
        if kind.model is model:
            return name
    return None


def active_job_count(organization_id: int) -> int:
    total = 0
    for model in job_models():
        total += db.session.scalar(
            sa.select(sa.func.count()).select_from(model).where(
                model.organization_id == organization_id, model.status_in(QUEUED, RUNNING))
        ) or 0
    return total


def job_row_for(kind_name: str, row_id: int, organization_id: int, user=None):
    """The job row behind /jobs/<kind>/<id>, or None (404) if it is missing or another tenant's."""
    kind = job_kinds.get(kind_name)
    if kind is None:
        return None
    row_id = parse_row_id(kind.model, row_id)  # /jobs/<kind>/<int> of a UUID-keyed kind names no row
    row = db.session.get(kind.model, row_id) if row_id is not None else None
    if row is None or row.organization_id != organization_id:
        return None
    found = find_kind(row)
    if found is None or found.name != kind_name:  # /jobs/purge_trash/<id of a usage task> is not a URL
        return None
    if user is not None and not row.visible_to(user):
        return None  # someone else's work answers 404, like their pages
    return row

"""Seed 001's bulk soft delete: a whole selection is soft-deleted (and restored) row by row, with the same
hooks, metadata, retention and audit as one row, and rows already in that state are skipped, not errors."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent, Workspace
from app.extensions import db
from app.platform import models as platform_models


def _audits(org_id: int, action: str) -> list[int]:
    return sorted(db.session.scalars(sa.select(AuditEvent.object_id).where(
        AuditEvent.organization_id == org_id, AuditEvent.action == action)))


def test_bulk_soft_delete_and_restore_run_each_rows_hooks(app_ctx, make_org, make_user, monkeypatch):
    monkeypatch.setattr(platform_models, "BULK_BATCH_SIZE", 2)  # several batches even for a few rows
    org = make_org("Acme", workspaces=("General", "Alpha", "Beta", "Gamma", "Delta"))
    other = make_org("Globex", workspaces=("Alpha",))
    admin = make_user(org, "admin")
    chosen = sa.select(Workspace).where(Workspace.organization_id == org.id, Workspace.name != "General")

    result = Workspace.soft_delete_all(chosen, user=admin, reason="Spring cleaning", retention_days=30,
                                       metadata={"bulk": True})
    db.session.commit()

    ids = sorted(result.changed)
    assert len(ids) == 4 and result.skipped == {}
    for workspace in db.session.scalars(sa.select(Workspace).where(Workspace.id.in_(ids))):
        assert not workspace.is_active and workspace.deleted_by_id == admin.id
        assert workspace.delete_reason == "Spring cleaning" and workspace.deletion_metadata == {"bulk": True}
        assert (workspace.auto_delete_at - workspace.deleted_at).days == 30
    assert _audits(org.id, "workspace_deleted") == ids  # one audit row each, as for a single delete
    assert db.session.scalars(sa.select(Workspace.is_active).where(Workspace.organization_id == other.id)).all() == [True]
    general = db.session.scalars(sa.select(Workspace).where(Workspace.organization_id == org.id,
                                                            Workspace.name == "General")).one()
    assert general.is_active

    again = Workspace.soft_delete_all(sa.select(Workspace).where(Workspace.organization_id == org.id), user=admin)
    db.session.commit()
    assert again.changed == [general.id] and set(again.skipped) == set(ids)
    assert set(again.skipped.values()) == {"already deleted"}

    restored = Workspace.restore_all(chosen, user=admin)
    db.session.commit()
    assert sorted(restored.changed) == ids
    assert _audits(org.id, "workspace_restored") == ids
    for workspace in db.session.scalars(sa.select(Workspace).where(Workspace.id.in_(ids))):
        assert workspace.is_active and workspace.deleted_at is None and workspace.deletion_metadata == {}


def test_rows_marked_not_restorable_stop_a_bulk_restore(app_ctx, make_org, make_user):
    org = make_org("Acme", workspaces=("Alpha", "Beta"))
    admin = make_user(org, "admin")
    everything = sa.select(Workspace).where(Workspace.organization_id == org.id)
    Workspace.soft_delete_all(everything, user=admin, can_be_restored=False)
    db.session.commit()
    with pytest.raises(platform_models.SoftDeleteError, match="not restorable"):
        Workspace.restore_all(everything, user=admin)
    db.session.rollback()
    assert db.session.scalars(sa.select(Workspace.is_active).where(Workspace.organization_id == org.id)).all() == [
        False, False], "nothing half-restored"

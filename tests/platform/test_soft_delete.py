"""Soft delete (seed 001): refusals with clear messages, the three selects, enhanced fields, purge."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Organization, User, Workspace
from app.extensions import db
from app.platform.models import SoftDeleteError, utcnow
from app.platform.trash import purge_all_organizations, purge_expired, purgeable_models
from tests.factories import make_member, make_organization


@pytest.fixture()
def acme(app_ctx):
    org = make_organization("Acme", workspaces=("General", "Alpha", "Beta"))
    admin = make_member(org, "admin", "admin@acme.example.com")
    return org, admin


def _ws(slug: str) -> Workspace:
    return db.session.scalars(sa.select(Workspace).where(Workspace.slug == slug)).one()


def test_soft_delete_and_restore_set_and_clear_the_fields(acme):
    org, admin = acme
    agent = make_member(org, "agent", "agent@acme.example.com")
    agent.soft_delete(user=admin, reason="x" * 300)
    db.session.commit()
    db.session.expire_all()
    agent = db.session.get(User, agent.id)
    assert agent.is_active is False and agent.deleted_at is not None
    assert agent.deleted_by == admin and agent.delete_reason == "x" * 255
    assert db.session.get(User, admin.id).deleted_by_id is None  # the actor's own row is untouched

    agent.restore(user=admin)
    db.session.commit()
    db.session.expire_all()
    agent = db.session.get(User, agent.id)
    assert (agent.is_active, agent.deleted_at, agent.deleted_by_id, agent.delete_reason) == (True, None, None, "")


def test_double_delete_and_restoring_an_active_row_are_refused(acme):
    org, admin = acme
    alpha = _ws("alpha")
    with pytest.raises(SoftDeleteError, match="not deleted, so there is nothing to restore"):
        alpha.restore()
    alpha.soft_delete(user=admin, reason="first")
    first_deleted_at = alpha.deleted_at
    with pytest.raises(SoftDeleteError, match="already deleted"):
        alpha.soft_delete(user=admin, reason="second")
    assert (alpha.delete_reason, alpha.deleted_at) == ("first", first_deleted_at)
    db.session.rollback()


def test_select_active_deleted_and_with_deleted(acme):
    org, admin = acme
    _ws("beta").soft_delete(user=admin)
    db.session.commit()

    def slugs(stmt):
        return sorted(db.session.scalars(stmt.where(Workspace.organization_id == org.id)).all(), key=lambda w: w.slug)

    assert [w.slug for w in slugs(Workspace.select_active())] == ["alpha", "general"]
    assert [w.slug for w in slugs(Workspace.select_deleted())] == ["beta"]
    assert [w.slug for w in slugs(Workspace.select_with_deleted())] == ["alpha", "beta", "general"]
    assert db.session.scalars(User.select_active()).all() == [admin]
    assert db.session.scalars(User.select_deleted()).all() == []


def test_enhanced_soft_delete_keeps_metadata_and_computes_auto_delete_from_retention(acme):
    org, admin = acme
    alpha = _ws("alpha")
    alpha.soft_delete(user=admin, reason="merged", metadata={"merged_into": "general"},
                      retention_days=org.trash_retention_days)
    db.session.commit()
    assert org.trash_retention_days == 30
    assert alpha.deletion_metadata == {"merged_into": "general"}
    assert alpha.auto_delete_at == alpha.deleted_at + timedelta(days=30)
    assert alpha.can_be_restored is True

    explicit = datetime(2030, 1, 1, tzinfo=timezone.utc)
    beta = _ws("beta")
    beta.soft_delete(user=admin, auto_delete_at=explicit, retention_days=5)  # an explicit date wins
    db.session.commit()
    assert beta.auto_delete_at == explicit

    alpha.restore(user=admin)
    db.session.commit()
    assert (alpha.deletion_metadata, alpha.auto_delete_at, alpha.is_active) == ({}, None, True)


def test_not_restorable_rows_refuse_restore(acme):
    org, admin = acme
    alpha = _ws("alpha")
    alpha.soft_delete(user=admin, reason="legal", can_be_restored=False)
    db.session.commit()
    with pytest.raises(SoftDeleteError, match="marked as not restorable"):
        alpha.restore(user=admin)
    assert alpha.is_active is False


def test_organization_retention_setting_drives_workspace_deletion(acme):
    from app.accounts.services import workspace_delete

    org, admin = acme
    org.settings = {**org.settings, "trash_retention_days": 3}
    db.session.commit()
    alpha = workspace_delete(actor=admin, workspace=_ws("alpha"), reason="")
    assert alpha.auto_delete_at - alpha.deleted_at == timedelta(days=3)


def test_purge_hard_deletes_only_rows_past_auto_delete_at(acme):
    org, admin = acme
    other = make_organization("Other", workspaces=("General", "Old"))
    now = utcnow()
    _ws("alpha").soft_delete(user=admin, retention_days=1)
    _ws("beta").soft_delete(user=admin, retention_days=10)
    old = db.session.scalars(sa.select(Workspace).where(Workspace.organization_id == other.id,
                                                        Workspace.slug == "old")).one()
    old.soft_delete(retention_days=1)
    db.session.commit()
    db.session.add(Workspace(organization_id=org.id, name="Never deleted", slug="kept"))
    db.session.commit()

    assert purge_expired() == {"workspaces": 0}  # nothing is due yet
    with time_machine.travel(now + timedelta(days=2), tick=False):
        assert purge_expired(organization_id=org.id) == {"workspaces": 1}  # only this tenant's
        assert purge_all_organizations() == {"workspaces": 1}  # the periodic job: everyone's
    db.session.expire_all()
    remaining = set(db.session.scalars(sa.select(Workspace.slug).where(Workspace.organization_id == org.id)))
    assert remaining == {"general", "beta", "kept"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workspace)
                             .where(Workspace.organization_id == other.id)) == 1
    with time_machine.travel(now + timedelta(days=11), tick=False):
        assert purge_expired() == {"workspaces": 1}
    assert Workspace in purgeable_models() and User not in purgeable_models()
    # The organization and its members are untouched by the purge.
    assert db.session.get(Organization, org.id) is not None and db.session.get(User, admin.id) is not None


def test_purge_reports_progress_in_batches(acme):
    org, admin = acme
    for slug in ("alpha", "beta"):
        _ws(slug).soft_delete(user=admin, auto_delete_at=utcnow() - timedelta(seconds=1))
    db.session.commit()
    reports = []
    counts = purge_expired(batch_size=1, progress=lambda pct, msg: reports.append((pct, msg)))
    assert counts == {"workspaces": 2}
    assert reports == [(100.0, "Checked workspaces")]

"""Workspaces through the real pages: create, rename, trash with retention, restore, purge."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent, Organization, Workspace
from app.extensions import db
from app.platform.models import utcnow
from tests.factories import workspace_of
from tests.helpers import page_text, reload, signed_in


def _workspaces(org) -> list[tuple[str, str, bool]]:
    db.session.expire_all()
    return db.session.execute(sa.select(Workspace.name, Workspace.slug, Workspace.is_active)
                              .where(Workspace.organization_id == org.id).order_by(Workspace.id)).all()


def test_create_rename_and_slugs_unique_per_organization(app, org, admin, make_org):
    other = make_org("Other")  # has its own "general": slugs are unique per organization only
    client, auth = signed_in(app, admin)
    assert auth.post("/workspaces", {"name": "Marketing Team", "description": "Campaigns"}).status_code == 302
    assert auth.post("/workspaces", {"name": "General"}).status_code == 302
    assert [tuple(r) for r in _workspaces(org)] == [("General", "general", True), ("Marketing Team", "marketing-team", True),
                                                    ("General", "general-2", True)]
    assert _workspaces(other) == [("General", "general", True)]
    page = page_text(client.get("/workspaces"))
    assert "marketing-team" in page and "Campaigns" in page

    marketing = db.session.scalars(sa.select(Workspace).where(Workspace.slug == "marketing-team")).one()
    assert auth.post(f"/workspaces/{marketing.id}/edit", {"name": "Growth", "description": ""}).status_code == 302
    renamed = reload(Workspace, marketing.id)
    assert (renamed.name, renamed.slug, renamed.description) == ("Growth", "marketing-team", "")
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("workspace_created") == 2 + 1 + 1 and "workspace_changed" in actions


def test_invalid_workspace_names_show_the_rule_messages(app, org, admin):
    _, auth = signed_in(app, admin)
    for name, message in (("", "Workspace name is required."), ("   ", "Workspace name is required."),
                          ("x" * 121, "Workspace name must be at most 120 characters.")):
        response = auth.post("/workspaces", {"name": name})
        assert response.status_code == 422 and message in page_text(response), name
    general = workspace_of(org)
    response = auth.post(f"/workspaces/{general.id}/edit", {"name": "", "description": "d" * 2001})
    assert response.status_code == 422
    assert "Workspace name is required." in page_text(response)
    assert "Description must be at most 2000 characters." in page_text(response)
    assert _workspaces(org) == [("General", "general", True)]


def test_delete_moves_to_trash_with_the_organizations_retention_and_restore_brings_back(app, org, admin):
    client, auth = signed_in(app, admin)
    assert auth.post("/organization", {"name": "Acme", "subscription_tier": "professional",
                                       "trash_retention_days": "7"}).status_code == 302
    assert reload(Organization, org.id).trash_retention_days == 7
    auth.post("/workspaces", {"name": "Scratch"})
    scratch = db.session.scalars(sa.select(Workspace).where(Workspace.slug == "scratch")).one()

    before = utcnow()
    assert auth.post(f"/workspaces/{scratch.id}/delete", {"reason": "experiment over"}).status_code == 302
    gone = reload(Workspace, scratch.id)
    assert (gone.is_active, gone.delete_reason, gone.deleted_by_id) == (False, "experiment over", admin.id)
    assert gone.deletion_metadata == {"deleted_by_email": admin.email, "name": "Scratch"}
    assert gone.auto_delete_at - gone.deleted_at == timedelta(days=7)
    assert gone.deleted_at >= before - timedelta(seconds=1)
    assert "<td>Scratch" not in page_text(client.get("/workspaces"))
    assert client.get(f"/workspaces/{scratch.id}/edit").status_code == 404  # deleted rows aren't edited

    trash = page_text(client.get("/trash"))
    assert "Scratch" in trash and "experiment over" in trash
    assert f'action="/workspaces/{scratch.id}/restore"' in trash
    assert "removed for good 7 days after deletion" in trash

    assert auth.post(f"/workspaces/{scratch.id}/restore", page="/trash").status_code == 302
    back = reload(Workspace, scratch.id)
    assert (back.is_active, back.deleted_at, back.auto_delete_at, back.deletion_metadata) == (True, None, None, {})
    assert "<td>Scratch" in page_text(client.get("/workspaces"))


def test_the_last_workspace_cannot_be_deleted(app, org, admin):
    _, auth = signed_in(app, admin)
    response = auth.post(f"/workspaces/{workspace_of(org).id}/delete", {"reason": ""}, follow_redirects=True)
    assert "An organization needs at least one workspace." in page_text(response)
    assert _workspaces(org) == [("General", "general", True)]


def test_a_workspace_marked_not_restorable_has_no_restore(app, org, admin):
    extra = Workspace(organization_id=org.id, name="Legal hold", slug="legal-hold")
    db.session.add(extra)
    db.session.commit()
    extra.soft_delete(user=admin, reason="purged by policy", can_be_restored=False, retention_days=1)
    db.session.commit()
    client, auth = signed_in(app, admin)
    trash = page_text(client.get("/trash"))
    assert "Legal hold" in trash and f"/workspaces/{extra.id}/restore" not in trash
    response = auth.post(f"/workspaces/{extra.id}/restore", page="/trash", follow_redirects=True)
    assert "This record was marked as not restorable when it was deleted." in page_text(response)
    assert not reload(Workspace, extra.id).is_active


@pytest.mark.parametrize("role", ["agent", "customer"])
def test_members_without_manage_workspaces_cannot_change_workspaces(app, org, make_user, role):
    member = make_user(org, role, f"{role}@acme.example.com")
    client, auth = signed_in(app, member)
    general = workspace_of(org)
    # Customers don't see workspaces at all (unless an admin grants them: platform/customer_access.py).
    assert client.get("/workspaces").status_code == (200 if role == "agent" else 403)
    assert "New workspace" not in page_text(client.get("/workspaces"))
    assert auth.post("/workspaces", {"name": "Mine"}).status_code == 403
    assert client.get(f"/workspaces/{general.id}/edit").status_code == 403
    assert auth.post(f"/workspaces/{general.id}/edit", {"name": "Mine"}).status_code == 403
    assert auth.post(f"/workspaces/{general.id}/delete", {"reason": ""}).status_code == 403
    assert auth.post(f"/workspaces/{general.id}/restore").status_code == 403
    assert _workspaces(org) == [("General", "general", True)]


def test_managers_manage_workspaces(app, org, make_user):
    manager = make_user(org, "manager", "manager@acme.example.com")
    _, auth = signed_in(app, manager)
    assert auth.post("/workspaces", {"name": "Ops"}).status_code == 302
    assert ("Ops", "ops", True) in _workspaces(org)


def test_purge_now_hard_deletes_only_expired_trash(app, org, admin, run_jobs):
    expired = Workspace(organization_id=org.id, name="Expired", slug="expired")
    recent = Workspace(organization_id=org.id, name="Recent", slug="recent")
    db.session.add_all([expired, recent])
    db.session.commit()
    expired.soft_delete(user=admin, reason="", auto_delete_at=utcnow() - timedelta(minutes=1))
    recent.soft_delete(user=admin, reason="", retention_days=30)
    db.session.commit()
    _, auth = signed_in(app, admin)
    response = auth.post("/trash/purge", page="/trash")
    assert response.status_code == 200
    run_jobs()
    names = [r[0] for r in _workspaces(org)]
    assert "Expired" not in names and "Recent" in names and "General" in names
    assert "workspace_purged" in db.session.scalars(sa.select(AuditEvent.action)).all()


def test_a_too_long_delete_reason_is_shown_on_the_page(app, org, admin):
    extra = Workspace(organization_id=org.id, name="Extra", slug="extra")
    db.session.add(extra)
    db.session.commit()
    _, auth = signed_in(app, admin)
    response = auth.post(f"/workspaces/{extra.id}/delete", {"reason": "r" * 256})
    assert response.status_code == 422
    assert "Field cannot be longer than 255 characters." in page_text(response)
    assert reload(Workspace, extra.id).is_active

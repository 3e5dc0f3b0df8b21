"""The Trash page restores several members and workspaces together ("Restore selected"), each with its own
restore hooks (audit rows), as the platform's bulk restore; only the caller's organization, only what the
caller's role may restore, and workspaces deleted as not restorable stay in the trash."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts import services
from app.accounts.models import AuditEvent, User, Workspace
from app.extensions import db
from app.platform import models as platform_models
from tests.factories import workspace_of
from tests.helpers import page_text, reload, signed_in


def _audits(org_id: int, action: str) -> list[int]:
    return sorted(db.session.scalars(sa.select(AuditEvent.object_id).where(
        AuditEvent.organization_id == org_id, AuditEvent.action == action)))


def _trash(org, admin, make_user):
    members = [make_user(org, "agent", f"agent{n}@acme.example.com") for n in range(2)]
    for member in members:
        services.member_deactivate(actor=admin, member=reload(User, member.id), reason="left")
    spaces = [services.workspace_create(organization=org, actor=admin, name=name) for name in ("Alpha", "Beta", "Gamma")]
    for space in spaces:
        services.workspace_delete(actor=admin, workspace=reload(Workspace, space.id), reason="done")
    return members, spaces


def test_restore_selected_members_and_workspaces_together(app, org, admin, make_user, monkeypatch):
    members, spaces = _trash(org, admin, make_user)
    calls = []
    real = platform_models.SoftDeleteMixin.restore_all.__func__

    def spy(cls, statement, **kwargs):
        calls.append(cls.__name__)
        return real(cls, statement, **kwargs)

    monkeypatch.setattr(platform_models.SoftDeleteMixin, "restore_all", classmethod(spy))
    client, auth = signed_in(app, admin)
    page = page_text(client.get("/trash"))
    assert 'id="trash-bulk"' in page and 'name="member_ids"' in page and 'name="workspace_ids"' in page

    response = auth.post("/trash/restore", {"member_ids": [str(m.id) for m in members],
                                            "workspace_ids": [str(spaces[0].id), str(spaces[1].id)]}, page="/trash")
    assert response.status_code == 302 and sorted(calls) == ["User", "Workspace"]
    assert "2 members and 2 workspaces restored." in page_text(client.get("/trash"))
    db.session.expire_all()
    assert all(db.session.get(User, m.id).is_active for m in members)
    assert [db.session.get(Workspace, s.id).is_active for s in spaces] == [True, True, False]
    assert _audits(org.id, "member_restored") == sorted(m.id for m in members)
    assert _audits(org.id, "workspace_restored") == sorted([spaces[0].id, spaces[1].id])

    again = auth.post("/trash/restore", {"workspace_ids": [str(spaces[0].id), str(spaces[2].id)]}, page="/trash")
    assert again.status_code == 302
    assert "1 workspace restored. 1 left in the trash" in page_text(client.get("/trash"))


def test_nothing_chosen_other_organizations_and_roles(app, org, admin, make_user, make_org):
    members, spaces = _trash(org, admin, make_user)
    client, auth = signed_in(app, admin)
    assert auth.post("/trash/restore", {}, page="/trash").status_code == 302
    assert "Choose what to restore." in page_text(client.get("/trash"))

    other = make_org("Globex")
    outsider = make_user(other, "admin", "eve@globex.example.com")
    _, outsider_auth = signed_in(app, outsider)
    outsider_auth.post("/trash/restore", {"member_ids": [str(members[0].id)],
                                          "workspace_ids": [str(spaces[0].id)]}, page="/trash")
    assert not reload(User, members[0].id).is_active and not reload(Workspace, spaces[0].id).is_active

    manager = make_user(org, "manager", "manager@acme.example.com")
    manager_client, manager_auth = signed_in(app, manager)
    assert 'name="member_ids"' not in page_text(manager_client.get("/trash"))  # members: admins only
    assert manager_auth.post("/trash/restore", {"member_ids": [str(members[0].id)]},
                             page="/trash").status_code == 403
    assert manager_auth.post("/trash/restore", {"workspace_ids": [str(spaces[0].id)]},
                             page="/trash").status_code == 302
    assert reload(Workspace, spaces[0].id).is_active and not reload(User, members[0].id).is_active


def test_workspaces_deleted_as_not_restorable_stay(app, org, admin, make_user):
    _members, spaces = _trash(org, admin, make_user)
    locked = reload(Workspace, spaces[0].id)
    locked.can_be_restored = False
    db.session.commit()
    client, auth = signed_in(app, admin)
    auth.post("/trash/restore", {"workspace_ids": [str(s.id) for s in spaces]}, page="/trash")
    assert "2 workspaces restored. 1 left in the trash" in page_text(client.get("/trash"))
    assert not reload(Workspace, spaces[0].id).is_active
    assert workspace_of(org).is_active


def test_trash_page_points_to_the_ticket_trash(app, org, admin):
    """A first-time admin looks for a deleted ticket in Admin -> Trash: the page says where it is."""
    client, _ = signed_in(app, admin)
    html = page_text(client.get("/trash"))
    assert 'href="/tickets/trash"' in html and "ticket trash" in html

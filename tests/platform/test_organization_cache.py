"""Per-organization caches (the nav's workspaces, the assignee choices) follow directory_version.

A change made through the models bumps the version in its transaction, so every process
sees it on its next request; a change that did not bump it is not seen, which is what
proves the lists really come from the cache.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import Organization, User, Workspace
from app.extensions import db
from tests.factories import make_member, make_organization, workspace_of
from tests.helpers import page_text, reload, signed_in


def _version(org_id: int) -> int:
    return db.session.scalar(sa.select(Organization.directory_version).where(Organization.id == org_id))


def _rename_behind_the_models(workspace_id: int, name: str, *, bump: bool, org_id: int) -> None:
    """What another process's committed change looks like to this one: rows changed, this cache untouched."""
    db.session.execute(sa.update(Workspace).where(Workspace.id == workspace_id).values(name=name))
    if bump:
        db.session.execute(sa.update(Organization).where(Organization.id == org_id)
                           .values(directory_version=Organization.directory_version + 1))
    db.session.commit()


def test_the_nav_follows_the_directory_version(app, app_ctx):
    org = make_organization("Initech", workspaces=("Alpha", "Beta"))
    admin = make_member(org, "admin", "boss@initech.example.com")
    client, _ = signed_in(app, admin)
    alpha = workspace_of(org, "Alpha")
    assert "Alpha" in page_text(client.get("/dashboard"))

    _rename_behind_the_models(alpha.id, "Renamed quietly", bump=False, org_id=org.id)
    assert "Renamed quietly" not in page_text(client.get("/dashboard"))  # cached: the version did not move

    _rename_behind_the_models(alpha.id, "Renamed loudly", bump=True, org_id=org.id)
    html = page_text(client.get("/dashboard"))
    assert "Renamed loudly" in html and "Renamed quietly" not in html


def test_workspace_and_member_changes_through_the_models_bump_the_version(app, app_ctx):
    org = make_organization("Umbrella", workspaces=("Main",))
    admin = make_member(org, "admin", "boss@umbrella.example.com")
    agent = make_member(org, "agent", "agent@umbrella.example.com")
    start = _version(org.id)

    workspace = workspace_of(org, "Main")
    workspace.name = "Headquarters"
    db.session.commit()
    assert _version(org.id) == start + 1

    reload(User, agent.id).availability_status = "away"
    db.session.commit()
    assert _version(org.id) == start + 2

    reload(User, agent.id).last_active_at = sa.func.now()  # activity is not in any cached list
    db.session.commit()
    assert _version(org.id) == start + 2

    make_member(org, "customer", "new@umbrella.example.com")
    assert _version(org.id) == start + 3
    reload(Workspace, workspace.id).soft_delete(user=reload(User, admin.id), reason="moved", retention_days=30)
    db.session.commit()
    assert _version(org.id) == start + 4


def test_the_assignee_choices_show_a_renamed_agent_at_once(app, app_ctx):
    org = make_organization("Hooli")
    agent = make_member(org, "agent", "gavin@hooli.example.com", full_name="Gavin Belson")
    client, auth = signed_in(app, agent)
    assert "Gavin Belson" in page_text(client.get("/tickets/"))

    response = auth.post("/preferences/profile", {"full_name": "Gavin B.", "availability_status": "online"},
                         page="/preferences")
    assert response.status_code in (200, 302), page_text(response)
    html = page_text(client.get("/tickets/"))
    assert "Gavin B." in html and "Gavin Belson" not in html


def test_another_organization_never_gets_this_ones_lists(app, app_ctx):
    first = make_organization("First Co", workspaces=("Only first",))
    second = make_organization("Second Co", workspaces=("Only second",))
    one, _ = signed_in(app, make_member(first, "admin", "a@first.example.com"))
    two, _ = signed_in(app, make_member(second, "admin", "a@second.example.com"))
    assert "Only first" in page_text(one.get("/dashboard"))
    html = page_text(two.get("/dashboard"))
    assert "Only second" in html and "Only first" not in html

"""Tenancy: another organization's object URL answers 404 and changes nothing; scoped reads."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User, UserPermission, UserSession, Workspace
from app.extensions import db
from app.platform.jobs import BackgroundTask
from tests.factories import make_member, make_organization, workspace_of
from tests.helpers import browser, page_text, reload, signed_in


@pytest.fixture()
def client(app):
    return browser(app)


@pytest.fixture()
def globex(app_ctx):
    """Another tenant with one of everything an object URL can point at."""
    org = make_organization("Globex", workspaces=("Alpha", "Beta", "Old"))
    boss = make_member(org, "admin", "boss@globex.example.com")
    worker = make_member(org, "agent", "worker@globex.example.com")
    invited = make_member(org, "agent", "invited@globex.example.com", password=None)
    left = make_member(org, "agent", "left@globex.example.com")
    left.soft_delete(user=boss, reason="left")
    old = workspace_of(org, "Old")
    old.soft_delete(user=boss, reason="unused", retention_days=30)
    session = UserSession(user=boss)
    task = BackgroundTask(organization_id=org.id, kind="purge_trash", title="Purge", requested_by_id=boss.id)
    db.session.add_all([session, task])
    db.session.commit()
    return {"org": org, "boss": boss, "worker": worker, "invited": invited, "left": left,
            "alpha": workspace_of(org, "Alpha"), "old": old, "session": session, "task": task}


def _snapshot():
    db.session.expire_all()
    users = db.session.execute(sa.select(User.id, User.role, User.is_active, User.availability_status,
                                         User.max_concurrent_tickets, User.password_hash)).all()
    workspaces = db.session.execute(sa.select(Workspace.id, Workspace.name, Workspace.is_active)).all()
    sessions = db.session.execute(sa.select(UserSession.id, UserSession.is_active)).all()
    grants = db.session.execute(sa.select(UserPermission.user_id, UserPermission.permission)).all()
    return sorted(users), sorted(workspaces), sorted(sessions), sorted(grants)


def _object_requests(g):
    member, left, invited, alpha, old = g["worker"].id, g["left"].id, g["invited"].id, g["alpha"].id, g["old"].id
    edit = {"role": "admin", "availability_status": "busy", "max_concurrent_tickets": "99", "customer_tier": "basic",
            "permissions": ["view_usage"]}
    return [
        ("GET", f"/members/{member}", None),
        ("POST", f"/members/{member}", edit),
        ("POST", f"/members/{member}/deactivate", {"reason": "x"}),
        ("POST", f"/members/{left}/restore", {}),
        ("POST", f"/members/{invited}/invite", {}),
        ("GET", f"/workspaces/{alpha}/edit", None),
        ("POST", f"/workspaces/{alpha}/edit", {"name": "Hijacked"}),
        ("POST", f"/workspaces/{alpha}/delete", {"reason": "x"}),
        ("POST", f"/workspaces/{old}/restore", {}),
        ("POST", "/workspaces/switch", {"workspace_id": str(alpha)}),
        ("POST", f"/preferences/sessions/{g['session'].id}/end", {}),
        ("GET", f"/jobs/purge_trash/{g['task'].id}/status", None),
    ]


def test_every_object_url_of_another_organization_answers_404(app, admin, globex):
    client, auth = signed_in(app, admin)  # an admin: every role and permission check passes
    before = _snapshot()
    for method, url, data in _object_requests(globex):
        if method == "GET":
            response = client.get(url)
        else:
            response = auth.post(url, data)
        assert response.status_code == 404, (method, url, response.status_code)
        html = page_text(response)
        assert "Not found" in html
        assert "globex" not in html.lower(), url  # not a word about the other tenant
    assert _snapshot() == before
    # The switcher did not move this user into the other tenant's workspace either.
    assert "Alpha" not in page_text(client.get("/dashboard"))


def test_the_same_urls_work_for_the_owner(app, globex):
    """The control: each URL above does reach its object for the right user (so the 404s mean something)."""
    client, auth = signed_in(app, globex["boss"])
    assert client.get(f"/members/{globex['worker'].id}").status_code == 200
    assert client.get(f"/workspaces/{globex['alpha'].id}/edit").status_code == 200
    assert auth.post(f"/members/{globex['invited'].id}/invite").status_code == 200
    assert auth.post("/workspaces/switch", {"workspace_id": str(globex["alpha"].id)}).status_code == 302
    assert auth.post(f"/members/{globex['left'].id}/restore", {}).status_code == 302
    assert auth.post(f"/workspaces/{globex['old'].id}/restore", {}).status_code == 302
    assert client.get(f"/jobs/purge_trash/{globex['task'].id}/status").status_code == 200
    assert reload(User, globex["left"].id).is_active and reload(Workspace, globex["old"].id).is_active


def test_a_colleagues_session_cannot_be_ended(app, org, admin, make_user):
    colleague = make_user(org, "agent", "colleague@acme.example.com")
    colleague_client, _ = signed_in(app, colleague)
    _, auth = signed_in(app, admin)
    their_session = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == colleague.id)).one()
    assert auth.post(f"/preferences/sessions/{their_session.id}/end").status_code == 404
    assert colleague_client.get("/dashboard").status_code == 200


def test_object_urls_are_all_covered_by_the_cross_tenant_test(app):
    """A new URL with an object id must be added to `_object_requests` (or this fails)."""
    covered = {"/members/<int:member_id>", "/members/<int:member_id>/deactivate", "/members/<int:member_id>/restore",
               "/members/<int:member_id>/invite", "/workspaces/<int:workspace_id>/edit",
               "/workspaces/<int:workspace_id>/delete", "/workspaces/<int:workspace_id>/restore",
               "/preferences/sessions/<int:session_id>/end", "/invite/<token>",
               # signed, user-bound links: tests/accounts/test_password_reset.py
               "/password/reset/<token>", "/email/confirm/<token>",
               # another user's API token: tests/rules/test_api.py::test_someone_elses_token_cannot_be_revoked
               "/preferences/api-tokens/<int:token_id>/revoke"}
    platform_rules = {r.rule for r in app.url_map.iter_rules()
                      if r.arguments and r.endpoint.split(".")[0] == "accounts"}
    assert platform_rules <= covered, platform_rules - covered


def test_a_deleted_workspace_cannot_be_switched_to(app, org, admin):
    _, auth = signed_in(app, admin)
    extra = Workspace(organization_id=org.id, name="Extra", slug="extra")
    db.session.add(extra)
    db.session.commit()
    extra.soft_delete(user=admin, reason="")
    db.session.commit()
    assert auth.post("/workspaces/switch", {"workspace_id": str(extra.id)}).status_code == 404
    assert auth.post("/workspaces/switch", {"workspace_id": "not-a-number"}).status_code == 404


# --------------------------------------------------------------------------- scoped reads, directly
def test_scoped_and_get_or_404_limit_reads_to_the_current_organization(app, org, admin, globex):
    from flask_login import login_user
    from werkzeug.exceptions import NotFound

    from app.accounts.services import session_start
    from app.platform.tenancy import current_workspace, get_or_404, scoped, scoped_active

    with app.test_request_context("/"):
        session_start(user=admin, remember=False)
        login_user(admin)
        assert {u.email for u in db.session.scalars(scoped(User))} == {admin.email}
        assert db.session.scalars(scoped_active(Workspace)).all() == [workspace_of(org)]
        assert get_or_404(User, admin.id) == admin
        for model, object_id, kwargs in ((User, globex["worker"].id, {}), (User, globex["left"].id, {"include_deleted": True}),
                                         (Workspace, globex["alpha"].id, {}), (User, "abc", {}), (User, None, {})):
            with pytest.raises(NotFound):
                get_or_404(model, object_id, **kwargs)
        assert current_workspace() == workspace_of(org)

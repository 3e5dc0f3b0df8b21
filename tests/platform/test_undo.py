"""Undo after a soft delete (one platform route, a signed token in the flash) and asking before hard deletes."""
from __future__ import annotations

import re

import time_machine

from app.accounts.models import Workspace
from app.platform.models import utcnow
from tests.factories import workspace_of
from tests.helpers import page_text, reload, signed_in

UNDO_FORM = re.compile(r'action="/undo".*?name="token" value="([^"]+)"', re.S)


def _delete_workspace(app, admin, org):
    extra = Workspace(organization_id=org.id, name="Extra", slug="extra")
    from app.extensions import db

    db.session.add(extra)
    db.session.commit()
    client, auth = signed_in(app, admin)
    response = auth.post(f"/workspaces/{extra.id}/delete", {"reason": ""}, page=f"/workspaces/{extra.id}/edit")
    assert response.status_code == 302
    html = page_text(client.get(response.headers["Location"]))
    assert "Workspace Extra moved to the trash." in html and ">Undo</button>" in html
    return client, auth, extra, UNDO_FORM.search(html).group(1)


def test_undo_restores_the_deleted_row(app, admin, org):
    client, auth, extra, token = _delete_workspace(app, admin, org)
    assert not reload(Workspace, extra.id).is_active
    response = auth.post("/undo", {"token": token, "next": "/workspaces"})
    assert response.status_code == 302 and response.headers["Location"] == "/workspaces"
    assert reload(Workspace, extra.id).is_active
    assert "Undone" in page_text(client.get("/workspaces"))


def test_undo_is_only_for_the_same_user_and_in_time(app, admin, org, make_user):
    _, _, extra, token = _delete_workspace(app, admin, org)
    other_admin = make_user(org, "admin", "second@acme.example.com")
    _, other_auth = signed_in(app, other_admin)
    assert other_auth.post("/undo", {"token": token}).status_code == 404
    _, auth = signed_in(app, admin)
    assert auth.post("/undo", {"token": token + "x"}).status_code == 400
    with time_machine.travel(utcnow().timestamp() + 601, tick=False):
        _, late = signed_in(app, admin)
        response = late.post("/undo", {"token": token}, follow_redirects=True)
    assert "Too late to undo" in page_text(response)
    assert not reload(Workspace, extra.id).is_active


def test_hard_deletes_ask_first_naming_what_is_lost(app, admin, org):
    client, _ = signed_in(app, admin)
    html = page_text(client.get("/trash"))
    assert '<details class="confirm">' in html and "This can't be undone." in html
    assert "Yes, purge expired items" in html
    general = workspace_of(org)
    assert general.is_active

"""An admin deletes the whole organization: typed confirmation, everyone signed out, no more jobs;
an operator brings it back from the command line."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import AuditEvent, Organization, UserSession
from app.extensions import db
from app.platform.jobs import BackgroundTask, dispatch
from tests.factories import make_member
from tests.helpers import page_text, reload, signed_in


def _delete(auth, confirmation: str, reason: str = "We moved to another tool"):
    return auth.post("/organization/delete", {"confirmation": confirmation, "reason": reason}, page="/organization")


def test_a_wrong_name_is_refused_at_the_field_and_nothing_changes(app, org, admin):
    client, auth = signed_in(app, admin)
    page = page_text(client.get("/organization"))
    assert "Delete the organization" in page and f"flask organization-restore {org.slug}" in page
    response = _delete(auth, "acme")  # the name is "Acme": case counts
    assert response.status_code == 422
    html = page_text(response)
    assert "name, Acme, exactly as shown to confirm." in html and 'aria-invalid="true"' in html
    assert reload(Organization, org.id).is_active
    assert _delete(auth, "").status_code == 422
    assert client.get("/dashboard").status_code == 200  # still signed in


def test_deleting_signs_everyone_out_and_keeps_them_out(app, org, admin):
    agent = make_member(org, "agent", "agent@acme.example.com")
    agent_client, _ = signed_in(app, agent)
    client, auth = signed_in(app, admin)
    response = _delete(auth, "Acme")
    assert response.status_code == 302 and response.headers["Location"].endswith("/signin")
    assert "Acme was deleted and everyone in it was signed out" in page_text(client.get("/signin"))
    deleted = reload(Organization, org.id)
    assert not deleted.is_active and deleted.delete_reason == "We moved to another tool"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)
                             .where(UserSession.is_active.is_(True))) == 0
    assert agent_client.get("/dashboard").status_code == 302  # their session ended with the organization
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "organization_deleted")).one()
    assert event.actor_id == admin.id and event.object_label == "Acme"


def test_members_of_a_deleted_organization_cannot_sign_in_until_it_is_restored(app, org, admin):
    client, auth = signed_in(app, admin)
    assert _delete(auth, "Acme").status_code == 302
    from tests.helpers import Auth, browser

    fresh = Auth(browser(app))
    assert fresh.login(admin.email).status_code != 302
    result = app.test_cli_runner().invoke(args=["organization-restore", org.slug])
    assert result.exit_code == 0 and "Restored Acme (acme)." in result.output, result.output
    assert reload(Organization, org.id).is_active
    assert fresh.login(admin.email).status_code == 302
    assert db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "organization_restored")).one()
    unknown = app.test_cli_runner().invoke(args=["organization-restore", "no-such-slug"])
    assert unknown.exit_code != 0 and "There is no organization with the slug 'no-such-slug'." in unknown.output


def test_only_admins_delete(app, org, admin):
    manager = make_member(org, "manager", "manager@acme.example.com")
    _, auth = signed_in(app, manager)
    assert _delete(auth, "Acme").status_code == 403
    assert reload(Organization, org.id).is_active


def test_a_deleted_organizations_queued_jobs_wait(app, org, admin):
    task = BackgroundTask(organization_id=org.id, kind="purge_trash", title="Purge", requested_by_id=admin.id)
    db.session.add(task)
    org.soft_delete(user=admin, reason="closing")
    db.session.commit()
    assert dispatch(org.id) == []
    assert reload(BackgroundTask, task.id).rq_job_id is None

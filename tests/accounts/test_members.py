"""Roles and members through the real pages: what admins, managers, agents and customers can do."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent, User, UserPermission
from app.extensions import db
from tests.helpers import Auth, browser, is_signed_in, page_text, reload, signed_in

NEW_PASSWORD = "my-own-fresh-passphrase"


@pytest.fixture()
def people(app_ctx, org, admin, make_user):
    return {
        "admin": admin,
        "manager": make_user(org, "manager", "manager@acme.example.com"),
        "agent": make_user(org, "agent", "agent@acme.example.com"),
        "customer": make_user(org, "customer", "customer@acme.example.com"),
    }


def _edit(auth, member, **fields):
    data = {"role": member.role, "availability_status": member.availability_status,
            "max_concurrent_tickets": str(member.max_concurrent_tickets), "customer_tier": member.customer_tier,
            "skills": "", "certifications": ""}
    data.update(fields)
    return auth.post(f"/members/{member.id}", data)


def test_admin_adds_a_member_who_joins_through_the_invitation_link(app, people, outbox):
    admin_client, admin_auth = signed_in(app, people["admin"])
    response = admin_auth.post("/members", {"email": "New.Person@acme.example.com", "full_name": "New Person",
                                            "role": "agent"})
    assert response.status_code == 200
    html = page_text(response)
    link = re.search(r'value="(http://localhost/invite/[^"]+)"', html).group(1)
    member = db.session.scalars(sa.select(User).where(User.email == "new.person@acme.example.com")).one()
    assert (member.organization_id, member.role, member.has_password) == (people["admin"].organization_id, "agent", False)
    # Not offered as available for tickets before they have even accepted.
    assert member.availability_status == "offline"
    assert "invited" in page_text(admin_client.get("/members"))
    # The invitation was queued as mail, whatever the member's notification settings.
    [(to, subject, body)] = outbox
    assert to == "new.person@acme.example.com" and "invited to Acme" in subject and link in body

    newcomer = browser(app)
    path = link.replace("http://localhost", "")
    page = newcomer.get(path)
    assert page.status_code == 200 and "new.person@acme.example.com" in page_text(page)
    auth = Auth(newcomer)
    response = newcomer.post(path, data={"csrf_token": auth.csrf(path), "password": "short"})
    assert response.status_code == 422 and "Use at least 12 characters." in page_text(response)
    response = newcomer.post(path, data={"csrf_token": auth.csrf(path), "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert is_signed_in(newcomer)
    assert newcomer.get(path).status_code == 410  # the link works once
    db.session.expire_all()
    assert db.session.get(User, member.id).availability_status == "online"  # joined: available
    assert Auth(browser(app)).login("new.person@acme.example.com", NEW_PASSWORD).status_code == 302


def test_adding_an_existing_email_is_refused_on_the_form(app, people):
    _, auth = signed_in(app, people["admin"])
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    response = auth.post("/members", {"email": people["agent"].email, "full_name": "Dup", "role": "agent"})
    assert response.status_code == 422
    assert "Someone with this email already has an account." in page_text(response)
    response = auth.post("/members", {"email": "not-an-email", "role": "agent"})
    assert response.status_code == 422 and "Enter a valid email address." in page_text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_admin_can_show_the_invitation_link_again_until_a_password_is_set(app, people, make_user, org):
    invited = make_user(org, "agent", "later@acme.example.com", password=None)
    _, auth = signed_in(app, people["admin"])
    response = auth.post(f"/members/{invited.id}/invite")
    assert response.status_code == 200 and "/invite/" in page_text(response)
    response = auth.post(f"/members/{people['agent'].id}/invite")
    assert response.status_code == 302  # has a password already: no link


def test_admin_edits_role_availability_tier_skills_and_permissions(app, people):
    _, auth = signed_in(app, people["admin"])
    agent, customer = people["agent"], people["customer"]

    response = _edit(auth, agent, availability_status="away", max_concurrent_tickets="25",
                     skills="billing, onboarding ,", certifications="ITIL", permissions=["view_usage", "purge_trash"])
    assert response.status_code == 302, page_text(response)
    agent = reload(User, agent.id)
    assert (agent.availability_status, agent.max_concurrent_tickets) == ("away", 25)
    assert (agent.skills, agent.certifications) == (["billing", "onboarding"], ["ITIL"])
    assert sorted(p.permission for p in agent.permissions) == ["purge_trash", "view_usage"]

    response = _edit(auth, customer, customer_tier="premium")
    assert response.status_code == 302
    assert reload(User, customer.id).customer_tier == "premium"

    # Turning the customer into an agent resets what only customers may have (seed 001 constraints).
    response = _edit(auth, reload(User, customer.id), role="agent", availability_status="online")
    assert response.status_code == 302
    changed = reload(User, customer.id)
    assert (changed.role, changed.customer_tier, changed.availability_status) == ("agent", "basic", "online")

    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "member_changed")).all()
    assert any(e.changes.get("role") == ["customer", "agent"] for e in events)


def test_invalid_member_edits_show_the_rule_message_and_save_nothing(app, people):
    _, auth = signed_in(app, people["admin"])
    response = _edit(auth, people["agent"], max_concurrent_tickets="101", availability_status="busy")
    assert response.status_code == 422
    assert "Max concurrent tickets must be between 1 and 100." in page_text(response)
    agent = reload(User, people["agent"].id)
    assert (agent.max_concurrent_tickets, agent.availability_status) == (10, "online")


def test_member_edit_ignores_fields_the_form_does_not_offer(app, people, make_org):
    other = make_org("Elsewhere")
    _, auth = signed_in(app, people["admin"])
    response = _edit(auth, people["agent"], organization_id=str(other.id), is_active="false",
                     deleted_at="2020-01-01", password_hash="x", email="hijack@acme.example.com")
    assert response.status_code == 302
    agent = reload(User, people["agent"].id)
    assert agent.organization_id == people["admin"].organization_id
    assert (agent.is_active, agent.deleted_at, agent.email) == (True, None, "agent@acme.example.com")
    assert agent.password_hash.startswith("$argon2")


def test_admin_deactivates_and_restores_a_member_from_the_trash(app, people):
    admin_client, auth = signed_in(app, people["admin"])
    agent = people["agent"]
    response = auth.post(f"/members/{agent.id}/deactivate", {"reason": "on leave"})
    assert response.status_code == 302
    gone = reload(User, agent.id)
    assert (gone.is_active, gone.delete_reason, gone.deleted_by_id) == (False, "on leave", people["admin"].id)
    assert gone.deleted_at is not None
    assert "agent@acme.example.com" not in page_text(admin_client.get("/members"))
    trash = page_text(admin_client.get("/trash"))
    assert "agent@acme.example.com" in trash and "on leave" in trash
    assert f'action="/members/{agent.id}/restore"' in trash

    response = auth.post(f"/members/{agent.id}/restore", page="/trash")
    assert response.status_code == 302
    back = reload(User, agent.id)
    assert (back.is_active, back.deleted_at, back.delete_reason) == (True, None, "")
    activity = page_text(admin_client.get("/activity"))
    assert "member deactivated" in activity and "member restored" in activity
    assert "agent@acme.example.com" in page_text(admin_client.get("/members"))
    assert Auth(browser(app)).login(agent.email).status_code == 302

    # Restoring an active member is refused with a message, not a crash.
    response = auth.post(f"/members/{agent.id}/restore", page="/trash", follow_redirects=True)
    assert response.status_code == 200
    assert "This record is not deleted, so there is nothing to restore." in page_text(response)


def test_the_last_admin_can_be_neither_demoted_nor_deactivated(app, people):
    admin = people["admin"]
    client, auth = signed_in(app, admin)
    response = _edit(auth, admin, role="manager")
    assert response.status_code == 422
    assert "last admin" in page_text(response)
    assert reload(User, admin.id).role == "admin"

    response = auth.post(f"/members/{admin.id}/deactivate", {"reason": ""}, follow_redirects=True)
    assert "You can&#39;t deactivate yourself." in page_text(response)
    assert reload(User, admin.id).is_active

    # With a second admin, the first may step down (and is signed out by the role change).
    second = people["manager"]
    assert _edit(auth, second, role="admin").status_code == 302
    assert _edit(auth, admin, role="manager").status_code == 302
    assert reload(User, admin.id).role == "manager"
    assert not is_signed_in(client)


def test_another_admin_cannot_deactivate_the_last_remaining_admin(app, people, make_user, org):
    other_admin = make_user(org, "admin", "second-admin@acme.example.com")
    _, auth = signed_in(app, other_admin)
    assert auth.post(f"/members/{people['admin'].id}/deactivate", {"reason": ""}).status_code == 302
    assert not reload(User, people["admin"].id).is_active
    # Now other_admin is the last one; a third party admin can't exist, so demote via the restored admin:
    _, first_auth = signed_in(app, other_admin)
    response = _edit(first_auth, reload(User, other_admin.id), role="agent")
    assert response.status_code == 422 and "last admin" in page_text(response)


def test_manager_sees_members_but_cannot_change_them(app, people):
    client, auth = signed_in(app, people["manager"])
    page = client.get("/members")
    assert page.status_code == 200
    assert "agent@acme.example.com" in page_text(page)
    assert f'/members/{people["agent"].id}"' not in page_text(page)  # no edit links
    assert client.get("/activity").status_code == 200
    assert client.get("/trash").status_code == 200
    agent = people["agent"]
    assert client.get(f"/members/{agent.id}").status_code == 403
    assert _edit(auth, agent, role="admin").status_code == 403
    assert auth.post(f"/members/{agent.id}/deactivate", {"reason": ""}).status_code == 403
    assert auth.post("/members", {"email": "x@acme.example.com", "role": "admin"}).status_code == 403
    assert auth.post(f"/members/{agent.id}/invite").status_code == 403
    assert (reload(User, agent.id).role, reload(User, agent.id).is_active) == ("agent", True)


@pytest.mark.parametrize("role", ["agent", "customer"])
def test_agents_and_customers_cannot_reach_people_pages(app, people, role):
    client, auth = signed_in(app, people[role])
    for path in ("/members", "/activity", "/trash", "/usage", "/organization", f"/members/{people['agent'].id}"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Your role doesn" in page_text(response)
    assert auth.post(f"/members/{people['agent'].id}/deactivate", {"reason": ""}).status_code == 403
    assert auth.post("/trash/purge").status_code == 403
    assert reload(User, people["agent"].id).is_active
    nav = page_text(client.get("/dashboard"))
    assert 'href="/members"' not in nav and 'href="/trash"' not in nav


def test_permissions_granted_per_user(app, people):
    agent = people["agent"]
    client, auth = signed_in(app, agent)
    assert client.get("/usage").status_code == 403
    assert auth.post("/workspaces", {"name": "Agents' space"}).status_code == 403
    manager_client, manager_auth = signed_in(app, people["manager"])
    assert manager_auth.post("/trash/purge").status_code == 403

    _, admin_auth = signed_in(app, people["admin"])
    assert _edit(admin_auth, agent, permissions=["view_usage", "manage_workspaces"]).status_code == 302
    assert _edit(admin_auth, people["manager"], permissions=["purge_trash"]).status_code == 302

    assert client.get("/usage").status_code == 200
    assert 'href="/usage"' in page_text(client.get("/dashboard"))
    assert auth.post("/workspaces", {"name": "Agents' space"}).status_code == 302
    response = manager_auth.post("/trash/purge", page="/trash")
    assert response.status_code == 200 and "Purging expired items" in page_text(response)

    # Taking a permission back works at once (no new sign-in needed).
    assert _edit(admin_auth, reload(User, agent.id), permissions=[]).status_code == 302
    assert client.get("/usage").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserPermission)
                             .where(UserPermission.user_id == agent.id)) == 0


def test_activity_lists_who_changed_what(app, people):
    client, auth = signed_in(app, people["admin"])
    _edit(auth, people["agent"], availability_status="away")
    page = page_text(client.get("/activity"))
    assert "member changed" in page and "agent@acme.example.com" in page
    assert "availability_status" in page and "online" in page and "away" in page
    filtered = page_text(client.get("/activity?action=member_added"))
    assert "member changed" not in filtered.split("<tbody>", 1)[1]


def test_a_too_long_deactivation_reason_is_shown_on_the_page(app, people):
    _, auth = signed_in(app, people["admin"])
    response = auth.post(f"/members/{people['agent'].id}/deactivate", {"reason": "r" * 256})
    assert response.status_code == 422
    assert "Field cannot be longer than 255 characters." in page_text(response)
    assert reload(User, people["agent"].id).is_active


def test_deactivation_voids_an_outstanding_invitation(app_ctx, org, admin, make_user):
    from app.accounts import services
    from app.extensions import db

    invited = make_user(org, "agent", "late@acme.example.com", password=None)
    token = services.member_reinvite(member=invited)
    invited.soft_delete(user=admin, reason="left before starting")
    db.session.commit()
    invited.restore(user=admin)
    db.session.commit()
    import pytest

    with pytest.raises(services.AccountError):
        services.invite_user(token)

"""Issue 10.6: a customer never sees another customer (share dialog, public templates, member lists)
and can't share with one. Each test reproduces what a curious customer tried."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.services import members_visible_to
from app.exports.models import ExportTemplate
from app.extensions import db
from tests.exports.test_templates_usage import _create
from tests.helpers import page_text


def _second_customer(people, make_user):
    return make_user(people["acme"], "customer", "rival@acme.example.com", full_name="Rival Customer")


def test_the_share_dialog_lists_no_other_customer(people, login, make_user):
    _second_customer(people, make_user)
    client, auth = login(people["customer"])
    assert _create(auth, dataset="tickets", fields=["number", "subject"], filter_project="").status_code == 302
    template = db.session.scalars(sa.select(ExportTemplate).where(ExportTemplate.name == "My hours")).one()
    page = page_text(client.get(f"/exports/templates/{template.id}/edit"))
    assert "rival@acme.example.com" not in page and "Rival Customer" not in page
    assert people["agent"].full_name in page or people["agent"].email in page  # staff are listed


def test_a_customer_cannot_share_with_another_customer(people, login, make_user):
    rival = _second_customer(people, make_user)
    client, auth = login(people["customer"])
    assert _create(auth, dataset="tickets", fields=["number", "subject"], filter_project="").status_code == 302
    template = db.session.scalars(sa.select(ExportTemplate).where(ExportTemplate.name == "My hours")).one()
    response = auth.post(f"/exports/templates/{template.id}/share", {"user_ids": [rival.id]},
                         page=f"/exports/templates/{template.id}/edit")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ExportTemplate, template.id).shared_with == []
    assert "share only with the members listed" in page_text(client.get(f"/exports/templates/{template.id}/edit"))
    rival_client, _ = login(rival)
    assert "My hours" not in page_text(rival_client.get("/exports/templates"))


def test_an_admin_cannot_share_a_customers_template_with_another_customer(people, login, make_user):
    """Otherwise the owner would then see the other customer in their own share dialog."""
    rival = _second_customer(people, make_user)
    _, customer_auth = login(people["customer"])
    assert _create(customer_auth, dataset="tickets", fields=["number", "subject"], filter_project="").status_code == 302
    template = db.session.scalars(sa.select(ExportTemplate).where(ExportTemplate.name == "My hours")).one()
    _, admin_auth = login(people["admin"])
    admin_auth.post(f"/exports/templates/{template.id}/share", {"user_ids": [rival.id]},
                    page=f"/exports/templates/{template.id}/edit")
    db.session.expire_all()
    assert db.session.get(ExportTemplate, template.id).shared_with == []


def test_a_customers_template_never_becomes_public_to_other_customers(people, login, make_user):
    rival = _second_customer(people, make_user)
    _, auth = login(people["customer"])
    assert _create(auth, name="Secret plan", dataset="tickets", fields=["number", "subject"], filter_project="",
                   is_public="y").status_code == 302
    template = db.session.scalars(sa.select(ExportTemplate).where(ExportTemplate.name == "Secret plan")).one()
    assert template.is_public is False
    with db.engine.begin() as conn:  # even a template made public before this rule existed
        conn.execute(sa.update(ExportTemplate).where(ExportTemplate.id == template.id).values(is_public=True))
    rival_client, _ = login(rival)
    assert "Secret plan" not in page_text(rival_client.get("/exports/templates"))
    staff_client, _ = login(people["agent"])
    assert "Secret plan" in page_text(staff_client.get("/exports/templates"))


def test_members_visible_to_a_customer_are_staff_and_themselves(people, make_user, app_ctx):
    rival = _second_customer(people, make_user)
    seen = {m.email for m in db.session.scalars(members_visible_to(people["customer"]))}
    assert people["customer"].email in seen and rival.email not in seen
    assert {people["admin"].email, people["manager"].email, people["agent"].email} <= seen
    staff_seen = {m.email for m in db.session.scalars(members_visible_to(people["agent"]))}
    assert {people["customer"].email, rival.email} <= staff_seen
    assert not any(m.organization_id != people["acme"].id for m in db.session.scalars(members_visible_to(rival)))

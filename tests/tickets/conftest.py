"""Helpdesk tests drive the app like browsers do (one context per request, real forms and CSRF)."""
from __future__ import annotations

import io

import pytest

from tests.helpers import browser, csrf_from, record_outbox, signed_in


@pytest.fixture()
def client(app):
    return browser(app)


@pytest.fixture()
def outbox(monkeypatch):
    """Mail that `platform.mail.notify` wrote and its caller committed, recorded instead of sent."""
    return record_outbox(monkeypatch)


@pytest.fixture()
def people(make_org, make_user):
    """One helpdesk organization (manager, two agents, two customers) and a second organization."""
    org = make_org("Acme")
    other = make_org("Globex")
    return {
        "org": org,
        "other_org": other,
        "manager": make_user(org, "manager", "manager@acme.example.com"),
        "agent": make_user(org, "agent", "agent@acme.example.com", full_name="Alice Agent"),
        "agent2": make_user(org, "agent", "agent2@acme.example.com", full_name="Bob Agent"),
        "customer": make_user(org, "customer", "carol@customer.example.com", full_name="Carol Customer"),
        "customer2": make_user(org, "customer", "dave@customer.example.com", full_name="Dave Customer"),
        "outsider": make_user(other, "agent", "eve@globex.example.com"),
        "outsider_customer": make_user(other, "customer", "frank@globex.example.com"),
    }


@pytest.fixture()
def login(app):
    """login(user) -> a signed-in browser with a `post(url, data)` that sends the page's CSRF token."""

    def _login(user):
        client, _auth = signed_in(app, user)

        def post(url, data=None, *, page="/tickets/", headers=None, **kwargs):
            token = csrf_from(client.get(page).get_data(as_text=True))
            return client.post(url, data={"csrf_token": token, **(data or {})}, headers=headers or {}, **kwargs)

        client.form_post = post
        return client

    return _login


@pytest.fixture()
def make_ticket(app_ctx):
    from app.extensions import db
    from app.tickets import services

    def _make(customer, subject="Printer on fire", description="It smokes.", priority="medium", actor=None):
        ticket = services.ticket_create(organization=customer.organization, actor=actor or customer,
                                        customer=customer, subject=subject, description=description,
                                        priority=priority)
        db.session.expire_all()
        return ticket

    return _make


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def upload(data: bytes, name: str):
    return (io.BytesIO(data), name)


def text(response) -> str:
    """The response body with HTML entities decoded (apostrophes come back as &#39;)."""
    import html

    return html.unescape(response.get_data(as_text=True))


def default_policy(organization_id: int, **targets):
    """The default policy every new organization gets ("Default"), set to `targets` and committed."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.tickets.models import SLAPolicy

    row = db.session.scalars(sa.select(SLAPolicy).where(SLAPolicy.organization_id == organization_id,
                                                        SLAPolicy.is_default.is_(True))).one()
    for key, value in targets.items():
        setattr(row, key, value)
    db.session.commit()
    return row


def no_sla_policy(organization_id: int) -> None:
    """Remove the organization's policies: tickets without clocks."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.tickets.models import SLAPolicy

    db.session.execute(sa.delete(SLAPolicy).where(SLAPolicy.organization_id == organization_id))
    db.session.commit()


@pytest.fixture()
def standard_sla_policy(people):
    """The organization's default SLA policy: medium 60/240 minutes, urgent 15/60, around the clock."""
    return default_policy(people["org"].id, name="Standard", medium_first_response_minutes=60, medium_resolution_minutes=240,
                          urgent_first_response_minutes=15, urgent_resolution_minutes=60)

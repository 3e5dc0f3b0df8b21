"""With Redis unreachable, no request answers 500: sign-in throttling (database rows) holds, and work that is saved
stays saved (its job waits for the reconciler, its mail for the outbox sweep).

The app here points REDIS_URL at a port nothing listens on; the database is the suite's.
"""
from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import make_test_app
from tests.factories import PASSWORD, workspace_of
from tests.helpers import Auth, browser, csrf_from, signed_in


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: connections are refused


@pytest.fixture(scope="module")
def down_app(app, backend):
    """The same database, and a Redis that refuses every connection."""
    return make_test_app(backend, REDIS_URL=f"redis://127.0.0.1:{_dead_port()}/0")


@pytest.fixture()
def people(app, make_org, make_user):
    org = make_org("Acme")
    return {"org": org, "admin": make_user(org, "admin", "admin@acme.example.com"),
            "agent": make_user(org, "agent", "agent@acme.example.com"),
            "customer": make_user(org, "customer", "carol@customer.example.com")}


def test_sign_in_works_and_is_still_throttled_with_redis_down(down_app, people):
    auth = Auth(browser(down_app))
    assert auth.login(people["agent"].email).status_code == 302

    stranger = Auth(browser(down_app))
    limit = down_app.config["LOGIN_FREE_FAILURES"]  # the backoff's counters are database rows
    for _ in range(limit):
        refused = stranger.login(people["admin"].email, "wrong-password-123")
        assert refused.status_code == 422 and "match an active account" in refused.get_data(as_text=True)
    throttled = stranger.login(people["admin"].email, PASSWORD)
    assert throttled.status_code == 422 and "Too many failed sign-in attempts" in throttled.get_data(as_text=True)


def test_saved_work_never_answers_500_with_redis_down(down_app, people, make_ticket_for):
    from app.platform.mail import OutboxMessage
    from app.tickets.models import TicketComment

    ticket = make_ticket_for(people["customer"])
    client, _auth = signed_in(down_app, people["agent"])
    token = csrf_from(client.get(f"/tickets/{ticket.id}").get_data(as_text=True))
    replied = client.post(f"/tickets/{ticket.id}/comments", data={"csrf_token": token, "content": "On my way."})
    assert replied.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TicketComment)) == 1
    assert db.session.scalar(sa.select(OutboxMessage.status)) == "pending"  # the sweep sends it later

    for page in ("/dashboard", "/jobs", f"/tickets/{ticket.id}", "/tickets/", "/exports/", "/rules/"):
        assert client.get(page).status_code == 200, page


def test_an_export_and_a_generation_are_saved_and_wait_with_redis_down(down_app, people):
    from app.exports.models import ExportRequest
    from app.rules.models import Generation
    from tests.rules.conftest import build_naming

    naming = build_naming(workspace_of(people["org"]))
    db.session.commit()
    client, auth = signed_in(down_app, people["admin"])
    exported = auth.post("/exports/new", {"title": "Names", "format": "csv", "dataset": "time_entries",
                                          "selected_fields": ["date", "member"], "template_id": ""},
                         page="/exports/new?dataset=time_entries")
    assert exported.status_code == 302, exported.get_data(as_text=True)[:2000]
    generated = auth.post(f"/rules/generations/new?rule={naming.rule.id}",
                          {"rule": str(naming.rule.id), "dim_environment": ["dev"], "dim_project": ["web"],
                           "dim_region": ["weu"]}, page="/rules/generations/new")
    assert generated.status_code == 302, generated.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportRequest)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Generation)) == 1
    assert client.get(generated.headers["Location"]).status_code == 200


@pytest.fixture()
def make_ticket_for(app_ctx):
    from app.tickets import services

    def _make(customer):
        ticket = services.ticket_create(organization=customer.organization, actor=customer, customer=customer,
                                        subject="Printer on fire", description="It smokes.")
        db.session.expire_all()
        return ticket

    return _make


def test_password_reset_answers_and_is_still_throttled_with_redis_down(down_app, people):
    """The reset throttle counts in database rows (the sign-in backoff's), not Redis: no 500, and the limit holds."""
    limit = down_app.config["PASSWORD_RESET_MAX_PER_ADDRESS"]
    for _ in range(limit):
        asked = Auth(browser(down_app)).post("/password/forgot", {"email": people["admin"].email},
                                             page="/password/forgot")
        assert asked.status_code == 302
    refused = Auth(browser(down_app)).post("/password/forgot", {"email": people["admin"].email},
                                           page="/password/forgot")
    assert refused.status_code == 429 and "Too many reset requests" in refused.get_data(as_text=True)

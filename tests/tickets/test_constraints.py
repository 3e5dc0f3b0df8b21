"""Each seed constraint rejects bad rows at the database (rows written with plain SQL, past the validators)."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.platform.models import utcnow
from app.tickets.models import SLAPolicy, Ticket, TicketAttachment, TicketComment


def _ticket_row(org, customer, **overrides):
    now = utcnow()
    row = dict(organization_id=org.id, ticket_number=overrides.pop("ticket_number", 1), subject="s", description="",
               status="new", priority="medium", customer_id=customer.id, tags=[], custom_fields={},
               sla_breach=False, sla_paused_seconds=0, satisfaction_comment="", created_at=now, updated_at=now,
               deletion_metadata={}, can_be_restored=True, is_active=True, delete_reason="")
    row.update(overrides)
    return row


def _insert(model, **values):
    with db.engine.begin() as conn:
        conn.execute(sa.insert(model.__table__).values(**values))


def test_a_good_row_is_accepted(people):
    _insert(Ticket, **_ticket_row(people["org"], people["customer"]))


@pytest.mark.parametrize("overrides", [
    {"customer_satisfaction_score": 6},
    {"customer_satisfaction_score": 0},
    {"time_to_first_response": -1},
    {"status": "bogus"},
    {"priority": "critical"},
    {"updated_at": utcnow() - timedelta(days=1)},
    {"resolved_at": utcnow() - timedelta(days=1)},
], ids=["score-6", "score-0", "negative-response", "status", "priority", "updated-before-created",
        "resolved-before-created"])
def test_ticket_check_constraints(people, overrides):
    with pytest.raises(sa.exc.IntegrityError):
        _insert(Ticket, **_ticket_row(people["org"], people["customer"], **overrides))


def test_ticket_number_is_unique_per_organization(people):
    _insert(Ticket, **_ticket_row(people["org"], people["customer"], ticket_number=7))
    _insert(Ticket, **_ticket_row(people["other_org"], people["outsider_customer"], ticket_number=7))
    with pytest.raises(sa.exc.IntegrityError):
        _insert(Ticket, **_ticket_row(people["org"], people["customer"], ticket_number=7))


def test_one_active_sla_policy_per_name(people):
    now = utcnow()
    base = dict(organization_id=people["org"].id, name="Standard", is_default=False, business_hours_only=False,
                business_days=[], timezone="UTC", created_at=now, updated_at=now,
                **{f"{p}_{k}_minutes": 60 for p in ("low", "medium", "high", "urgent")
                   for k in ("first_response", "resolution")})
    _insert(SLAPolicy, **base, is_active=False)
    _insert(SLAPolicy, **base, is_active=True)
    _insert(SLAPolicy, **{**base, "organization_id": people["other_org"].id}, is_active=True)
    with pytest.raises(sa.exc.IntegrityError):
        _insert(SLAPolicy, **base, is_active=True)
    with pytest.raises(sa.exc.IntegrityError):
        _insert(SLAPolicy, **{**base, "name": "Zero", "medium_resolution_minutes": 0}, is_active=True)


def test_comment_and_attachment_constraints(people, make_ticket):
    ticket = make_ticket(people["customer"])
    now = utcnow()
    comment = dict(organization_id=ticket.organization_id, ticket_id=ticket.id, content="x", created_at=now,
                   updated_at=now)
    _insert(TicketComment, **comment, comment_type="reply")
    with pytest.raises(sa.exc.IntegrityError):
        _insert(TicketComment, **comment, comment_type="shout")
    with pytest.raises(sa.exc.IntegrityError):
        _insert(TicketComment, **{**comment, "content": ""}, comment_type="note")
    attachment = dict(organization_id=ticket.organization_id, ticket_id=ticket.id, storage_path="p",
                      original_name="a", content_type="text/plain", sha256="", created_at=now, updated_at=now)
    _insert(TicketAttachment, **attachment, size=1, download_count=0)
    for bad in ({"size": -1, "download_count": 0}, {"size": 1, "download_count": -1}):
        with pytest.raises(sa.exc.IntegrityError):
            _insert(TicketAttachment, **attachment, **bad)


def test_concurrent_creation_numbers_without_gaps_or_duplicates(app, backend, people):
    """Threads create tickets at once, each in its own session and transaction."""
    if not backend["postgres"]:
        pytest.skip("concurrent numbering is exercised on PostgreSQL (SQLite serialises writers anyway)")
    from app.accounts.models import Organization, User
    from app.tickets import services

    org_id, customer_id = people["org"].id, people["customer"].id
    threads_count, per_thread = 8, 5
    barrier = threading.Barrier(threads_count)
    errors = []

    def work():
        with app.app_context():
            try:
                customer = db.session.get(User, customer_id)
                organization = db.session.get(Organization, org_id)
                barrier.wait()
                for i in range(per_thread):
                    services.ticket_create(organization=organization, actor=customer, customer=customer,
                                           subject=f"race {i}", description="")
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    numbers = sorted(db.session.scalars(sa.select(Ticket.ticket_number).where(Ticket.organization_id == org_id)))
    assert numbers == list(range(1, threads_count * per_thread + 1))


def test_a_rolled_back_ticket_gives_its_number_back(people, make_ticket):
    from app.tickets import services
    from app.tickets.services import TicketError

    make_ticket(people["customer"])
    with pytest.raises(TicketError):
        services.ticket_create(organization=people["org"], actor=people["agent"], customer=people["agent"],
                               subject="not a customer", description="")
    bad = Ticket(organization_id=people["org"].id, customer=people["customer"], subject="", description="")
    db.session.add(bad)
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()
    assert make_ticket(people["customer"]).ticket_number == 2

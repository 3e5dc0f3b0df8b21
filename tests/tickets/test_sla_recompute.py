"""Editing, deactivating or activating an SLA policy recomputes the due times of the open tickets it concerns,
in a job whose panel on the SLA page says how many tickets were updated. Tickets are clocked with frozen time."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from app.extensions import db
from app.platform.jobs import BackgroundTask
from app.tickets import services
from app.tickets.models import SLAPolicy, Ticket, TicketHistory
from tests.helpers import reload
from tests.tickets.conftest import no_sla_policy, text

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")


def _at(minutes):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


def _minutes(value):
    return None if value is None else int((value - T0).total_seconds() // 60)


def _due(ticket_id):
    row = reload(Ticket, ticket_id)
    return _minutes(row.first_response_due), _minutes(row.resolution_due)


@pytest.fixture()
def standard(standard_sla_policy):
    return standard_sla_policy


def _form(policy, **changes):
    """The edit form as the page fills it in, with `changes` typed over it."""
    data = {name: str(getattr(policy, name)) for name in services.SLA_TARGET_FIELDS}
    data.update(name=policy.name, timezone=policy.timezone, business_start="09:00", business_end="17:00",
                business_days=["0", "1", "2", "3", "4"])
    if policy.is_default:
        data["is_default"] = "y"
    data.update(changes)
    return data


def _set_status(ticket_id, status, actor):
    services.ticket_change_status(ticket=reload(Ticket, ticket_id), actor=actor, status=status)


def test_editing_targets_recomputes_open_tickets_of_that_priority(people, standard, make_ticket, login, run_jobs):
    agent = people["agent"]
    with _at(0):
        plain = make_ticket(people["customer"], subject="Plain")
        was_paused = make_ticket(people["customer"], subject="Was paused")
        pending = make_ticket(people["customer"], subject="Pending now")
        urgent = make_ticket(people["customer"], subject="Urgent", priority="urgent")
        resolved = make_ticket(people["customer"], subject="Resolved")
        breached = make_ticket(people["customer"], subject="Breached")
    with _at(30):
        for ticket in (was_paused, pending):
            _set_status(ticket.id, "pending", agent)
    with _at(90):
        _set_status(was_paused.id, "open", agent)  # paused for 60 minutes
        _set_status(resolved.id, "resolved", agent)
    with _at(300):
        db.session.execute(db.update(Ticket).where(Ticket.id == breached.id).values(sla_breach=True))
        db.session.commit()
    assert _due(was_paused.id) == (120, 300)
    updated_before = reload(Ticket, breached.id).updated_at

    manager = login(people["manager"])
    saved = manager.form_post(f"/tickets/sla/{standard.id}", _form(standard, medium_first_response_minutes="120",
                                                                  medium_resolution_minutes="480"),
                              page=f"/tickets/sla/{standard.id}")
    assert saved.status_code == 302
    flash = text(manager.get("/tickets/sla"))
    assert "SLA policy Standard saved. The due times of open tickets it concerns are being recomputed" in flash
    run_jobs()

    assert _due(breached.id) == (120, 480)
    assert _due(was_paused.id) == (180, 540)   # the hour it already spent pending still counts
    assert _due(pending.id) == (120, 480)      # its current pause is added when it resumes, as always
    assert _due(plain.id) == (120, 480)
    assert _due(urgent.id) == (15, 60)         # another priority: untouched
    assert _due(resolved.id) == (60, 240)      # no longer open: its SLA is history
    assert reload(Ticket, breached.id).sla_breach  # it happened: the flag stays
    assert reload(Ticket, breached.id).updated_at == updated_before  # nobody changed the ticket itself

    with _at(200):
        _set_status(pending.id, "open", agent)  # paused from minute 30 to 200
    assert _due(pending.id) == (120 + 170, 480 + 170)

    history = db.session.scalars(db.select(TicketHistory).where(
        TicketHistory.ticket_id == breached.id, TicketHistory.field.in_(("first_response_due", "resolution_due")))).all()
    assert {(h.field, h.internal, h.actor_id) for h in history} == {
        ("first_response_due", True, people["manager"].id), ("resolution_due", True, people["manager"].id)}
    page = text(manager.get("/tickets/sla"))
    assert "Updated the due times of 4 open tickets" in page and "(checked 5)" in page


def test_a_name_only_edit_starts_no_recompute(people, standard, login):
    manager = login(people["manager"])
    manager.form_post(f"/tickets/sla/{standard.id}", _form(standard, name="Standard support"),
                      page=f"/tickets/sla/{standard.id}")
    page = text(manager.get("/tickets/sla"))
    assert "SLA policy Standard support saved." in page and "being recomputed" not in page
    assert db.session.scalar(db.select(db.func.count()).select_from(BackgroundTask)) == 0


def test_deactivating_moves_tickets_to_the_default_and_activating_brings_due_times_back(
        people, standard, make_ticket, login, run_jobs):
    backup = SLAPolicy(organization_id=people["org"].id, name="Backup", medium_first_response_minutes=30,
                       medium_resolution_minutes=90)
    db.session.add(backup)
    db.session.commit()
    with _at(0):
        ticket = make_ticket(people["customer"])
    assert reload(Ticket, ticket.id).sla_policy_id == standard.id
    manager = login(people["manager"])

    manager.form_post(f"/tickets/sla/{standard.id}/active", {"active": "0"}, page="/tickets/sla")
    run_jobs()
    row = reload(Ticket, ticket.id)
    assert row.sla_policy_id == backup.id and _due(ticket.id) == (30, 90)
    change = db.session.scalars(db.select(TicketHistory).where(TicketHistory.field == "sla_policy_id")).one()
    assert (change.old_value, change.new_value, change.internal) == ("Standard", "Backup", True)

    manager.form_post(f"/tickets/sla/{backup.id}/active", {"active": "0"}, page="/tickets/sla")
    run_jobs()
    row = reload(Ticket, ticket.id)
    assert row.sla_policy_id is None and _due(ticket.id) == (None, None)  # no active policy: no clock

    manager.form_post(f"/tickets/sla/{standard.id}/active", {"active": "1"}, page="/tickets/sla")
    run_jobs()
    assert reload(Ticket, ticket.id).sla_policy_id == standard.id and _due(ticket.id) == (60, 240)
    page = text(manager.get("/tickets/sla"))
    assert "SLA policy Standard activated. The due times of open tickets it concerns are being recomputed" in page
    assert "Updated the due times of 1 open ticket (checked 1)." in page


def test_switching_to_business_hours_recomputes_in_the_calendar(people, standard, make_ticket, login, run_jobs):
    friday_evening = datetime(2026, 3, 6, 16, 30, tzinfo=BERLIN)
    with time_machine.travel(friday_evening, tick=False):
        ticket = make_ticket(people["customer"])
    assert reload(Ticket, ticket.id).first_response_due.astimezone(BERLIN) == datetime(2026, 3, 6, 17, 30, tzinfo=BERLIN)
    manager = login(people["manager"])
    manager.form_post(f"/tickets/sla/{standard.id}", _form(standard, business_hours_only="y",
                                                          timezone="Europe/Berlin"),
                      page=f"/tickets/sla/{standard.id}")
    run_jobs()
    row = reload(Ticket, ticket.id)
    assert row.first_response_due.astimezone(BERLIN) == datetime(2026, 3, 9, 9, 30, tzinfo=BERLIN)
    # 240 business minutes = 30 min on Friday + 3.5 h on Monday
    assert row.resolution_due.astimezone(BERLIN) == datetime(2026, 3, 9, 12, 30, tzinfo=BERLIN)


def test_a_new_policy_gives_tickets_without_one_their_due_times(people, make_ticket, login, run_jobs):
    no_sla_policy(people["org"].id)
    with _at(0):
        ticket = make_ticket(people["customer"])
    assert _due(ticket.id) == (None, None)
    manager = login(people["manager"])
    data = {name: "100" for name in services.SLA_TARGET_FIELDS}
    data.update(name="First", is_default="y", medium_first_response_minutes="45", medium_resolution_minutes="90",
                business_start="09:00", business_end="17:00", timezone="UTC")
    assert manager.form_post("/tickets/sla", data, page="/tickets/sla").status_code == 302
    run_jobs()
    assert _due(ticket.id) == (45, 90)


def test_only_managers_policies_of_their_organization(people, standard, login):
    outsider = login(people["outsider"])
    assert outsider.form_post(f"/tickets/sla/{standard.id}/active", {"active": "0"}, page="/tickets/").status_code in (403, 404)
    assert login(people["agent"]).form_post(f"/tickets/sla/{standard.id}/active", {"active": "0"}).status_code == 403
    assert reload(SLAPolicy, standard.id).is_active
    assert db.session.scalar(db.select(db.func.count()).select_from(BackgroundTask)) == 0

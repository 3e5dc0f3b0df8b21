"""SLA clocks with frozen time: due times, priority changes, pausing while pending, business hours, breaches."""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine

from app.extensions import db
from app.platform.models import utcnow
from app.tickets import services
from app.tickets.models import SLAPolicy, Ticket, TicketHistory
from app.tickets.sla import add_business_seconds, business_seconds_between
from tests.helpers import reload
from tests.tickets.conftest import no_sla_policy, text

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)  # a Monday
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture()
def policy(standard_sla_policy):
    return standard_sla_policy


def _at(minutes):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


def test_due_times_are_set_at_creation(people, policy, make_ticket):
    with _at(0):
        ticket = make_ticket(people["customer"])
    assert ticket.sla_policy_id == policy.id
    assert ticket.first_response_due == T0 + timedelta(minutes=60)
    assert ticket.resolution_due == T0 + timedelta(minutes=240)


def test_priority_change_recomputes_due_times(people, policy, make_ticket):
    with _at(0):
        ticket = make_ticket(people["customer"])
    with _at(5):
        services.ticket_change_priority(ticket=reload(Ticket, ticket.id), actor=people["agent"], priority="urgent")
    row = reload(Ticket, ticket.id)
    assert row.first_response_due == T0 + timedelta(minutes=15)
    assert row.resolution_due == T0 + timedelta(minutes=60)


def test_clock_pauses_while_pending(people, policy, make_ticket):
    with _at(0):
        ticket = make_ticket(people["customer"])
    with _at(30):
        services.ticket_change_status(ticket=reload(Ticket, ticket.id), actor=people["agent"], status="pending")
    with _at(500):  # long past the due times, but pending: no breach
        assert services.sla_flag_breaches() == 0
    with _at(90):
        services.ticket_change_status(ticket=reload(Ticket, ticket.id), actor=people["agent"], status="open")
    row = reload(Ticket, ticket.id)
    assert row.sla_paused_seconds == 60 * 60 and row.sla_paused_at is None
    assert row.first_response_due == T0 + timedelta(minutes=120)
    assert row.resolution_due == T0 + timedelta(minutes=300)


def test_breach_is_flagged_by_the_periodic_job_and_shown(people, policy, make_ticket, login):
    with _at(0):
        ticket = make_ticket(people["customer"], subject="Slow one")
        answered = make_ticket(people["customer"], subject="Answered")
    with _at(10):
        services.comment_add(ticket=reload(Ticket, answered.id), author=people["agent"], content="On it")
    with _at(59):
        assert services.sla_flag_breaches() == 0
    with _at(61):
        from app.tickets.jobs import flag_sla_breaches

        assert flag_sla_breaches() == 1
    assert reload(Ticket, ticket.id).sla_breach and not reload(Ticket, answered.id).sla_breach
    history = db.session.scalars(db.select(TicketHistory).where(TicketHistory.ticket_id == ticket.id,
                                                                TicketHistory.event == "changed")).all()
    assert [(h.field, h.new_value, h.actor_id, h.internal) for h in history] == [("sla_breach", "yes", None, True)]
    agent = login(people["agent"])
    listing = text(agent.get("/tickets/?breached=1"))
    assert "Slow one" in listing and "Answered" not in listing and "breached" in listing


def test_late_first_reply_marks_the_breach(people, policy, make_ticket):
    with _at(0):
        ticket = make_ticket(people["customer"])
    with _at(75):
        services.comment_add(ticket=reload(Ticket, ticket.id), author=people["agent"], content="Sorry, late")
    row = reload(Ticket, ticket.id)
    assert row.sla_breach and row.time_to_first_response == 75 * 60


def test_list_shows_time_left_and_overdue(people, policy, make_ticket, login):
    base = utcnow() + timedelta(days=1)  # signing in needs a clock later than the users' rows
    with time_machine.travel(base, tick=False):
        make_ticket(people["customer"], subject="Clocked")
    with time_machine.travel(base + timedelta(minutes=20), tick=False):
        assert "40m left" in text(login(people["agent"]).get("/tickets/"))
    with time_machine.travel(base + timedelta(minutes=70), tick=False):
        assert "10m overdue" in text(login(people["agent"]).get("/tickets/"))


def _office_hours(org_id):
    return SLAPolicy(organization_id=org_id, name="Office", business_hours_only=True, business_days=[0, 1, 2, 3, 4],
                     business_start=time(9, 0), business_end=time(17, 0), timezone="Europe/Berlin",
                     medium_first_response_minutes=60, medium_resolution_minutes=600)


def test_business_hours_skip_nights_and_weekends():
    policy = _office_hours(1)
    friday = datetime(2026, 3, 6, 16, 30, tzinfo=BERLIN).astimezone(timezone.utc)
    due = add_business_seconds(friday, 3600, policy)
    assert due.astimezone(BERLIN) == datetime(2026, 3, 9, 9, 30, tzinfo=BERLIN)
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=BERLIN).astimezone(timezone.utc)
    assert business_seconds_between(friday, saturday, policy) == 30 * 60
    # Across the spring DST change (29 March 2026) a business day is still 8 hours.
    before = datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN).astimezone(timezone.utc)
    after = datetime(2026, 3, 30, 17, 0, tzinfo=BERLIN).astimezone(timezone.utc)
    assert business_seconds_between(before, after, policy) == 2 * 8 * 3600


def test_ticket_due_in_business_hours(people, make_ticket):
    no_sla_policy(people["org"].id)
    db.session.add(_office_hours(people["org"].id))
    db.session.commit()
    friday_evening = datetime(2026, 3, 6, 16, 30, tzinfo=BERLIN)
    with time_machine.travel(friday_evening, tick=False):
        ticket = make_ticket(people["customer"])
    assert ticket.first_response_due.astimezone(BERLIN) == datetime(2026, 3, 9, 9, 30, tzinfo=BERLIN)
    # 600 business minutes = 30 min on Friday + 8 h Monday + 1.5 h Tuesday
    assert ticket.resolution_due.astimezone(BERLIN) == datetime(2026, 3, 10, 10, 30, tzinfo=BERLIN)


def test_sla_policy_page_creates_and_refuses_duplicates(people, login):
    manager = login(people["manager"])
    data = {"name": "Gold", "is_default": "y", "low_first_response_minutes": "100", "low_resolution_minutes": "200",
            "medium_first_response_minutes": "50", "medium_resolution_minutes": "100",
            "high_first_response_minutes": "20", "high_resolution_minutes": "40",
            "urgent_first_response_minutes": "5", "urgent_resolution_minutes": "10",
            "business_days": ["0", "1"], "business_start": "09:00", "business_end": "17:00", "timezone": "UTC"}
    assert manager.form_post("/tickets/sla", data, page="/tickets/sla").status_code == 302
    again = manager.form_post("/tickets/sla", data, page="/tickets/sla")
    assert again.status_code == 422 and "An active policy with this name already exists." in text(again)
    bad = manager.form_post("/tickets/sla", {**data, "name": "Bad", "timezone": "Mars/Olympus"}, page="/tickets/sla")
    assert bad.status_code == 422 and "time zone" in text(bad)
    hours = manager.form_post("/tickets/sla", {**data, "name": "Odd", "business_hours_only": "y",
                                               "business_start": "18:00", "business_end": "08:00"}, page="/tickets/sla")
    assert hours.status_code == 422 and "start time before the end time" in text(hours)
    policy = db.session.scalars(db.select(SLAPolicy).where(SLAPolicy.name == "Gold")).one()
    assert policy.name == "Gold" and policy.is_default and policy.medium_first_response_minutes == 50
    assert manager.form_post(f"/tickets/sla/{policy.id}/active", {"active": "0"}, page="/tickets/sla").status_code == 302
    assert manager.form_post("/tickets/sla", data, page="/tickets/sla").status_code == 302  # the name is free again

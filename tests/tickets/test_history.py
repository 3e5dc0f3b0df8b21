"""The ticket's history is a complete timeline: creation, replies and notes, files, field changes, merges and
the trash. Customers see the public part only, on the page and in the fragment HTMX refreshes."""
import re

from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket, TicketHistory
from app.tickets.services import TicketError
from tests.helpers import reload
from tests.tickets.conftest import PDF, PNG, no_sla_policy, text, upload

HX = {"HX-Request": "true"}


def timeline(response) -> str:
    """The history section's words, as a reader sees them (no tags, single spaces)."""
    html = text(response)
    section = html[html.index('id="ticket-history"'):]
    section = section[:section.index("</section>")]
    return " ".join(re.sub(r"<[^>]+>", "", section.split(">", 1)[1]).split())


def _events(ticket_id):
    db.session.expire_all()
    return [(h.event, h.field, h.internal) for h in db.session.scalars(
        db.select(TicketHistory).where(TicketHistory.ticket_id == ticket_id).order_by(TicketHistory.id))]


def _worked_ticket(people, login):
    """An agent opens a ticket for Carol with a file, replies, notes, changes fields; returns (ticket, agent)."""
    agent = login(people["agent"])
    opened = agent.form_post("/tickets/new", {"customer": people["customer"].email, "subject": "Router blinks red",
                                              "description": "Since the storm", "attachments": upload(PNG, "led.png")},
                             page="/tickets/new", content_type="multipart/form-data")
    assert opened.status_code == 302
    ticket = db.session.scalars(db.select(Ticket)).one()
    page = f"/tickets/{ticket.id}"
    agent.form_post(f"/tickets/{ticket.id}/comments", {"content": "Please restart it", "attachments": upload(PDF, "guide.pdf")},
                    page=page, content_type="multipart/form-data")
    agent.form_post(f"/tickets/{ticket.id}/comments", {"content": "SECRET walrus: line fault suspected", "internal": "y",
                                                       "attachments": upload(PDF, "walrus-trace.pdf")},
                    page=page, content_type="multipart/form-data")
    agent.form_post(f"/tickets/{ticket.id}/priority", {"priority": "high"}, page=page, headers=HX)
    agent.form_post(f"/tickets/{ticket.id}/custom-fields", {"custom_fields": "line: narwhal-42"}, page=page, headers=HX)
    return ticket, agent


def test_every_kind_of_event_is_recorded_once_with_its_actor(people, login):
    no_sla_policy(people["org"].id)  # no deadlines to move on the priority change
    ticket, _agent = _worked_ticket(people, login)
    assert _events(ticket.id) == [
        ("created", "", False),
        ("attachment", "", False),             # led.png, with the ticket
        ("reply", "", False),
        ("changed", "status", False),          # the first public reply opens the ticket
        ("attachment", "", False),             # guide.pdf, on the reply
        ("note", "", True),
        ("attachment", "", True),              # walrus-trace.pdf, on the note: internal like the note
        ("changed", "priority", False),
        ("changed", "custom_fields", True),
    ]
    rows = db.session.scalars(db.select(TicketHistory).where(TicketHistory.ticket_id == ticket.id)
                              .order_by(TicketHistory.id)).all()
    assert {h.actor_id for h in rows} == {people["agent"].id}
    assert rows[0].new_value == "Router blinks red" and rows[2].new_value == "Please restart it"
    assert rows[2].comment_id is not None and rows[6].new_value == "walrus-trace.pdf"


def test_agent_sees_the_whole_timeline(people, login):
    ticket, agent = _worked_ticket(people, login)
    entries = timeline(agent.get(f"/tickets/{ticket.id}"))
    for expected in ("Alice Agent opened the ticket for Carol Customer", "attached led.png", "replied",
                     "Please restart it", "added an internal note", "SECRET walrus", "walrus-trace.pdf to an internal note",
                     "changed priority from medium to high", "changed custom fields", "narwhal-42", "internal"):
        assert expected in entries, expected


def test_customer_never_sees_internal_entries_on_the_page_or_the_fragment(people, login):
    ticket, _agent = _worked_ticket(people, login)
    customer = login(people["customer"])
    for response in (customer.get(f"/tickets/{ticket.id}"), customer.get(f"/tickets/{ticket.id}/history", headers=HX)):
        assert response.status_code == 200
        entries = timeline(response)
        assert "opened the ticket for Carol Customer" in entries and "Please restart it" in entries
        assert "guide.pdf" in entries and "changed priority from medium to high" in entries
        for secret in ("SECRET walrus", "walrus-trace.pdf", "internal note", "narwhal-42", "custom fields", "internal"):
            assert secret not in entries, secret
        assert "SECRET walrus" not in text(response) and "walrus-trace.pdf" not in text(response)
    # Without HTMX the fragment's address leads to the page; another customer gets 404 for both.
    assert customer.get(f"/tickets/{ticket.id}/history").status_code == 302
    other = login(people["customer2"])
    assert other.get(f"/tickets/{ticket.id}/history", headers=HX).status_code == 404
    assert login(people["outsider"]).get(f"/tickets/{ticket.id}/history", headers=HX).status_code == 404


def test_the_timeline_refreshes_itself_after_an_inline_change(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    agent = login(people["agent"])
    page = text(agent.get(f"/tickets/{ticket.id}"))
    assert 'hx-trigger="ticket-changed from:body"' in page
    changed = agent.form_post(f"/tickets/{ticket.id}/status", {"status": "pending"}, page=f"/tickets/{ticket.id}",
                              headers=HX)
    assert changed.headers["HX-Trigger"] == "ticket-changed"
    fragment = agent.get(f"/tickets/{ticket.id}/history", headers=HX)
    assert "<html" not in text(fragment)
    assert "changed status from new to pending" in timeline(fragment)


def test_merge_is_on_both_timelines_and_internal_on_the_target(people, login, make_ticket):
    original = make_ticket(people["customer"], subject="Original")
    duplicate = make_ticket(people["customer"], subject="Duplicate")
    agent = login(people["agent"])
    agent.form_post(f"/tickets/{duplicate.id}/merge", {"target": str(original.ticket_number)},
                    page=f"/tickets/{duplicate.id}")
    assert ("merged_in", "", True) in _events(original.id)
    assert ("changed", "merged_into_id", False) in _events(duplicate.id)
    assert "merged ticket #2 Duplicate into this one" in timeline(agent.get(f"/tickets/{original.id}"))
    assert "merged this ticket into #1" in timeline(agent.get(f"/tickets/{duplicate.id}"))
    customer = login(people["customer"])
    assert "merged ticket #2" not in timeline(customer.get(f"/tickets/{original.id}"))
    assert "merged this ticket into #1" in timeline(customer.get(f"/tickets/{duplicate.id}"))


def test_merge_refuses_another_customers_ticket(people, login, make_ticket):
    carol = make_ticket(people["customer"], subject="Carol's printer")
    dave = make_ticket(people["customer2"], subject="Dave's printer")
    services.comment_add(ticket=carol, author=people["customer"], content="My address is 1 Private Lane")
    try:
        services.ticket_merge(source=reload(Ticket, carol.id), target=reload(Ticket, dave.id), actor=people["agent"])
    except TicketError as refused:
        assert "belongs to another customer" in str(refused)
    else:
        raise AssertionError("a merge across customers must be refused")
    db.session.rollback()
    agent = login(people["agent"])
    response = agent.form_post(f"/tickets/{carol.id}/merge", {"target": str(dave.ticket_number)},
                               page=f"/tickets/{carol.id}")
    assert "belongs to another customer" in text(agent.get(response.headers["Location"]))
    assert reload(Ticket, carol.id).merged_into_id is None
    assert "Private Lane" not in text(login(people["customer2"]).get(f"/tickets/{dave.id}"))


def test_trash_and_restore_are_events_with_the_reason_for_staff_only(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    services.ticket_delete(ticket=reload(Ticket, ticket.id), actor=people["agent"], reason="customer called back")
    services.ticket_restore(ticket=reload(Ticket, ticket.id), actor=people["manager"])
    assert _events(ticket.id)[-2:] == [("deleted", "", True), ("restored", "", True)]
    entries = timeline(login(people["agent"]).get(f"/tickets/{ticket.id}"))
    assert "moved the ticket to the trash: customer called back" in entries
    assert "restored the ticket from the trash" in entries
    customer_page = login(people["customer"]).get(f"/tickets/{ticket.id}")
    assert "trash" not in timeline(customer_page) and "customer called back" not in text(customer_page)


def test_a_priority_change_records_the_moved_deadlines_for_staff(people, login, make_ticket):
    ticket = make_ticket(people["customer"])  # the organization's default policy gives it due times
    services.ticket_change_priority(ticket=reload(Ticket, ticket.id), actor=people["agent"], priority="urgent")
    changed = [(e, f, i) for e, f, i in _events(ticket.id) if e == "changed"]
    assert changed == [("changed", "priority", False), ("changed", "first_response_due", True),
                       ("changed", "resolution_due", True)]
    entries = timeline(login(people["agent"]).get(f"/tickets/{ticket.id}"))
    assert "moved the first response deadline from" in entries and "moved the resolution deadline from" in entries
    assert "deadline" not in timeline(login(people["customer"]).get(f"/tickets/{ticket.id}"))

"""Status flow, replies, assignment, merge, ratings, tags, custom fields and history, through the pages."""
import pytest

from app.extensions import db
from app.tickets import services
from app.tickets.models import STATUSES, Ticket, TicketComment, TicketHistory
from app.tickets.services import TRANSITIONS, TicketError
from tests.helpers import reload
from tests.tickets.conftest import PNG, text, upload

HX = {"HX-Request": "true"}


def test_customer_opens_a_ticket_with_an_attachment_and_sees_it(people, login):
    customer = login(people["customer"])
    response = customer.form_post("/tickets/new", {"subject": "Cannot log in", "description": "Error 42",
                                                   "priority": "high", "attachments": upload(PNG, "shot.png")},
                                  page="/tickets/new", content_type="multipart/form-data")
    assert response.status_code == 302, text(response)
    page = text(customer.get(response.headers["Location"]))
    assert "#1 Cannot log in" in page and "shot.png" in page
    ticket = db.session.scalars(db.select(Ticket)).one()
    assert (ticket.customer_id, ticket.priority, ticket.status) == (people["customer"].id, "high", "new")


def test_open_ticket_form_shows_errors_and_saves_nothing(people, login):
    customer = login(people["customer"])
    response = customer.form_post("/tickets/new", {"subject": "   ", "description": "x"}, page="/tickets/new")
    assert response.status_code == 422
    assert "Subject is required." in text(response)
    assert db.session.scalar(db.select(db.func.count()).select_from(Ticket)) == 0


def test_agent_opens_a_ticket_for_a_customer(people, login):
    agent = login(people["agent"])
    response = agent.form_post("/tickets/new", {"customer": people["customer"].email, "subject": "Phone call",
                                                "priority": "low"}, page="/tickets/new")
    assert response.status_code == 302
    assert db.session.scalars(db.select(Ticket)).one().customer_id == people["customer"].id


@pytest.mark.parametrize("typed, message", [
    ("", "Enter the customer's email."),
    ("nobody@customer.example.com", "No customer of this organization has the email nobody@customer.example.com."),
    ("agent2@acme.example.com", "No customer of this organization has the email"),  # staff, not a customer
    ("frank@globex.example.com", "No customer of this organization has the email"),  # another organization's
])
def test_agent_must_name_a_customer_of_the_organization(people, login, typed, message):
    agent = login(people["agent"])
    form = agent.get("/tickets/new").get_data(as_text=True)
    assert '<datalist id="customer-emails">' in form and people["customer"].email in form
    assert people["outsider_customer"].email not in form
    response = agent.form_post("/tickets/new", {"customer": typed, "subject": "Phone call", "priority": "low"},
                               page="/tickets/new")
    assert response.status_code == 422 and message in text(response)
    assert 'value="Phone call"' in text(response)  # what was typed is kept
    assert db.session.scalar(db.select(db.func.count()).select_from(Ticket)) == 0


def test_numbers_are_sequential_per_organization(people, make_ticket):
    numbers = [make_ticket(people["customer"]).ticket_number for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert make_ticket(people["outsider_customer"]).ticket_number == 1


@pytest.mark.parametrize("start", STATUSES)
def test_every_transition_is_allowed_or_refused_with_a_reason(people, make_ticket, start):
    agent = people["agent"]
    for target in STATUSES:
        ticket = make_ticket(people["customer"])
        db.session.execute(db.update(Ticket).where(Ticket.id == ticket.id).values(status=start))
        db.session.commit()
        ticket = reload(Ticket, ticket.id)
        if target in TRANSITIONS[start]:
            services.ticket_change_status(ticket=ticket, actor=agent, status=target)
            assert reload(Ticket, ticket.id).status == target
        else:
            with pytest.raises(TicketError) as refused:
                services.ticket_change_status(ticket=ticket, actor=agent, status=target)
            assert str(refused.value)
            db.session.rollback()
            assert reload(Ticket, ticket.id).status == start


def test_inline_status_change_and_refusal_over_htmx(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    ok = agent.form_post(f"/tickets/{ticket.id}/status", {"status": "resolved"}, page=page, headers=HX)
    assert ok.status_code == 200 and 'id="ticket-properties"' in text(ok)
    assert ok.headers["HX-Trigger"] == "ticket-changed"  # still takes replies: the typed reply stays put
    assert reload(Ticket, ticket.id).resolved_at is not None
    refused = agent.form_post(f"/tickets/{ticket.id}/status", {"status": "pending"}, page=page, headers=HX)
    assert refused.status_code == 422
    assert "A resolved ticket can't become pending" in text(refused)
    closed = agent.form_post(f"/tickets/{ticket.id}/status", {"status": "closed"}, page=page, headers=HX)
    assert closed.status_code == 200
    # Closed: the conversation and files cards fetch themselves again and lose their forms.
    assert closed.headers["HX-Trigger"] == "ticket-changed, ticket-replies-toggled"
    assert 'hx-trigger="ticket-replies-toggled from:body"' in text(agent.get(page))
    final = agent.form_post(f"/tickets/{ticket.id}/status", {"status": "open"}, page=page, headers=HX)
    assert "A closed ticket is final" in text(final)


def test_resolved_at_is_set_on_resolve_and_cleared_on_reopen(people, make_ticket):
    ticket = make_ticket(people["customer"])
    services.ticket_change_status(ticket=ticket, actor=people["agent"], status="resolved")
    assert reload(Ticket, ticket.id).resolved_at is not None
    services.ticket_change_status(ticket=reload(Ticket, ticket.id), actor=people["agent"], status="open")
    assert reload(Ticket, ticket.id).resolved_at is None


def test_first_public_agent_reply_sets_time_to_first_response(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    agent.form_post(f"/tickets/{ticket.id}/comments", {"content": "Looking", "internal": "y"}, page=page)
    assert reload(Ticket, ticket.id).time_to_first_response is None  # an internal note is no response
    response = agent.form_post(f"/tickets/{ticket.id}/comments", {"content": "We are on it."}, page=page)
    assert response.status_code == 302
    row = reload(Ticket, ticket.id)
    assert row.time_to_first_response is not None and row.time_to_first_response >= 0
    assert row.status == "open"


def test_empty_reply_is_refused_on_the_form(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    customer = login(people["customer"])
    response = customer.form_post(f"/tickets/{ticket.id}/comments", {"content": " "}, page=f"/tickets/{ticket.id}")
    assert response.status_code == 422 and "Message is required." in text(response)


def test_customer_reply_reopens_a_pending_ticket(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    services.ticket_change_status(ticket=ticket, actor=people["agent"], status="pending")
    customer = login(people["customer"])
    customer.form_post(f"/tickets/{ticket.id}/comments", {"content": "Here is the info"}, page=f"/tickets/{ticket.id}")
    assert reload(Ticket, ticket.id).status == "open"


def test_assignment_respects_availability_and_limit_and_notifies(people, login, make_ticket, outbox):
    agent2 = people["agent2"]
    agent2.availability_status = "offline"
    db.session.commit()
    ticket = make_ticket(people["customer"])
    manager = login(people["manager"])
    page = f"/tickets/{ticket.id}"
    refused = manager.form_post(f"/tickets/{ticket.id}/assignee", {"assignee": agent2.id}, page=page, headers=HX)
    assert refused.status_code == 422 and "is offline" in text(refused)

    agent = people["agent"]
    agent.max_concurrent_tickets = 1
    db.session.commit()
    ok = manager.form_post(f"/tickets/{ticket.id}/assignee", {"assignee": agent.id}, page=page, headers=HX)
    assert ok.status_code == 200
    assert reload(Ticket, ticket.id).assigned_agent_id == agent.id
    assert outbox.to(agent.email) and "assigned to you" in outbox.to(agent.email)[0][1]

    second = make_ticket(people["customer"], subject="Another")
    full = manager.form_post(f"/tickets/{second.id}/assignee", {"assignee": agent.id}, page=page, headers=HX)
    assert full.status_code == 422 and "open tickets (their limit)" in text(full)


def test_assignment_mail_honours_the_agents_preference(people, make_ticket, outbox, app):
    agent = people["agent"]
    agent.preferences.email_notifications = False
    db.session.commit()
    ticket = make_ticket(people["customer"])
    with app.test_request_context():
        services.ticket_assign(ticket=ticket, actor=people["manager"], agent=agent)
    assert outbox.to(agent.email) == []


def test_tags_custom_fields_and_history(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    agent.form_post(f"/tickets/{ticket.id}/tags", {"tags": "Billing, urgent stuff"}, page=page, headers=HX)
    agent.form_post(f"/tickets/{ticket.id}/custom-fields", {"custom_fields": "order: 1234\nplan: pro"}, page=page, headers=HX)
    bad = agent.form_post(f"/tickets/{ticket.id}/custom-fields", {"custom_fields": "no colon here"}, page=page, headers=HX)
    assert bad.status_code == 422 and "name: value" in text(bad)
    agent.form_post(f"/tickets/{ticket.id}/priority", {"priority": "urgent"}, page=page, headers=HX)
    row = reload(Ticket, ticket.id)
    assert row.tags == ["billing", "urgent-stuff"] and row.custom_fields == {"order": "1234", "plan": "pro"}
    fields = {h.field: h for h in db.session.scalars(db.select(TicketHistory).where(TicketHistory.ticket_id == ticket.id))}
    assert fields["priority"].old_value == "medium" and fields["priority"].new_value == "urgent"
    assert fields["priority"].actor_id == people["agent"].id
    assert "tags" in fields and "custom_fields" in fields
    html = text(agent.get(page))
    assert "changed priority" in html and "urgent-stuff" in html


def test_merge_moves_comments_and_closes_the_duplicate(people, login, make_ticket):
    original = make_ticket(people["customer"], subject="Original")
    duplicate = make_ticket(people["customer"], subject="Duplicate")
    services.comment_add(ticket=duplicate, author=people["customer"], content="Same problem again")
    agent = login(people["agent"])
    response = agent.form_post(f"/tickets/{duplicate.id}/merge", {"target": f"#{original.ticket_number}"},
                               page=f"/tickets/{duplicate.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/tickets/{original.id}")
    dup = reload(Ticket, duplicate.id)
    assert dup.status == "closed" and dup.merged_into_id == original.id
    contents = [c.content for c in db.session.scalars(db.select(TicketComment).where(TicketComment.ticket_id == original.id))]
    assert "Same problem again" in contents and any("was merged into this ticket" in c for c in contents)
    assert "merged into" in text(agent.get(f"/tickets/{duplicate.id}"))
    again = agent.form_post(f"/tickets/{original.id}/merge", {"target": str(original.ticket_number)},
                            page=f"/tickets/{original.id}")
    assert "can't be merged into itself" in text(agent.get(again.headers["Location"]))


def test_customer_rates_a_resolved_ticket(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    customer = login(people["customer"])
    page = f"/tickets/{ticket.id}"
    early = customer.form_post(f"/tickets/{ticket.id}/rate", {"score": "5"}, page=page)
    assert early.status_code == 422 and "once it is resolved" in text(early)
    services.ticket_change_status(ticket=reload(Ticket, ticket.id), actor=people["agent"], status="resolved")
    assert "Rate this ticket" in text(customer.get(page))
    ok = customer.form_post(f"/tickets/{ticket.id}/rate", {"score": "4", "comment": "quick"}, page=page)
    assert ok.status_code == 302
    assert reload(Ticket, ticket.id).customer_satisfaction_score == 4
    other = login(people["customer2"])
    assert other.form_post(f"/tickets/{ticket.id}/rate", {"score": "1"}, page="/tickets/").status_code == 404


def test_agents_cannot_rate_and_customers_cannot_change_status(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    customer = login(people["customer"])
    assert customer.form_post(f"/tickets/{ticket.id}/status", {"status": "closed"}).status_code == 403
    agent = login(people["agent"])
    assert agent.form_post(f"/tickets/{ticket.id}/rate", {"score": "5"}).status_code == 403

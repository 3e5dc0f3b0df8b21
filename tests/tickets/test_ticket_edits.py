"""Edits on an existing ticket, through the ticket page: renaming it, the mail a customer gets when staff
open a ticket for them, and closed tickets' frozen tags and fields."""
import pytest

from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket, TicketHistory
from tests.helpers import reload
from tests.tickets.conftest import PNG, text, upload

HX = {"HX-Request": "true"}
CAROL = "carol@customer.example.com"


def _history(ticket_id: int, **where) -> list[TicketHistory]:
    db.session.expire_all()
    stmt = db.select(TicketHistory).where(TicketHistory.ticket_id == ticket_id).order_by(TicketHistory.id)
    return [h for h in db.session.scalars(stmt) if all(getattr(h, k) == v for k, v in where.items())]


def _set_status(ticket: Ticket, status: str) -> Ticket:
    db.session.execute(db.update(Ticket).where(Ticket.id == ticket.id).values(status=status))
    db.session.commit()
    return reload(Ticket, ticket.id)




# --------------------------------------------------------------------------- 1. the subject
def test_agent_renames_a_ticket_inline_and_the_history_says_from_what_to_what(people, login, make_ticket):
    ticket = make_ticket(people["customer"], subject="Printer on fire")
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    assert "Edit subject" in text(agent.get(page))
    response = agent.form_post(f"/tickets/{ticket.id}/subject", {"subject": "  Printer on fire in room 4  "},
                               page=page, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "ticket-changed"
    fragment = text(response)
    assert 'id="ticket-subject"' in fragment and f"#{ticket.ticket_number} Printer on fire in room 4" in fragment
    assert "<title>" in fragment  # htmx retitles the browser tab
    assert reload(Ticket, ticket.id).subject == "Printer on fire in room 4"
    [entry] = _history(ticket.id, field="subject")
    assert (entry.old_value, entry.new_value, entry.actor_id, entry.internal) == (
        "Printer on fire", "Printer on fire in room 4", people["agent"].id, False)
    # The customer's timeline shows the public change.
    timeline = text(login(people["customer"]).get(page))
    assert "changed subject from Printer on fire to Printer on fire in room 4" in " ".join(
        timeline.replace("<em>", "").replace("</em>", "").split())


def test_renaming_without_javascript_redirects_with_a_message(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    manager = login(people["manager"])
    response = manager.form_post(f"/tickets/{ticket.id}/subject", {"subject": "Toner empty"},
                                 page=f"/tickets/{ticket.id}")
    assert response.status_code == 302
    page = text(manager.get(response.headers["Location"]))
    assert "Subject changed." in page and "Toner empty" in page


@pytest.mark.parametrize("typed, message", [
    ("   ", "Subject is required."),
    ("x" * 201, "Subject must be at most 200 characters."),
])
def test_a_bad_subject_is_refused_under_the_input_and_nothing_changes(people, login, make_ticket, typed, message):
    ticket = make_ticket(people["customer"], subject="Original subject")
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    response = agent.form_post(f"/tickets/{ticket.id}/subject", {"subject": typed}, page=page, headers=HX)
    assert response.status_code == 422
    fragment = text(response)
    assert f'<p class="error" id="subject-error">{message}</p>' in fragment
    assert "<details class=\"subject-edit\" open>" in fragment  # the form stays open with what was typed
    assert reload(Ticket, ticket.id).subject == "Original subject"
    assert _history(ticket.id, field="subject") == []
    # Without JavaScript: the whole page, the error at the input, the typed text kept.
    full = agent.form_post(f"/tickets/{ticket.id}/subject", {"subject": typed}, page=page)
    assert full.status_code == 422 and message in text(full) and "Conversation" in text(full)


def test_a_subject_of_exactly_the_models_limit_is_accepted(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    agent = login(people["agent"])
    response = agent.form_post(f"/tickets/{ticket.id}/subject", {"subject": " " + "y" * 200 + " "},
                               page=f"/tickets/{ticket.id}", headers=HX)
    assert response.status_code == 200 and reload(Ticket, ticket.id).subject == "y" * 200
    assert 'maxlength="200"' in text(response)


def test_customers_cannot_rename_and_see_no_control(people, login, make_ticket, app):
    ticket = make_ticket(people["customer"], subject="Mine")
    customer = login(people["customer"])
    page = text(customer.get(f"/tickets/{ticket.id}"))
    assert "Edit subject" not in page and f"/tickets/{ticket.id}/subject" not in page
    response = customer.form_post(f"/tickets/{ticket.id}/subject", {"subject": "Hacked"},
                                  page=f"/tickets/{ticket.id}", headers=HX)
    assert response.status_code == 403
    outsider = login(people["outsider"])  # staff of another organization: no such ticket
    assert outsider.form_post(f"/tickets/{ticket.id}/subject", {"subject": "Hacked"}).status_code == 404
    assert reload(Ticket, ticket.id).subject == "Mine"
    with app.test_request_context(), pytest.raises(services.TicketError):
        services.ticket_change_subject(ticket=reload(Ticket, ticket.id), actor=people["customer"], subject="Hacked")


def test_a_merged_ticket_is_not_renamed(people, login, make_ticket):
    original = make_ticket(people["customer"], subject="Original")
    duplicate = make_ticket(people["customer"], subject="Duplicate")
    services.ticket_merge(source=duplicate, target=original, actor=people["agent"])
    agent = login(people["agent"])
    assert "Edit subject" not in text(agent.get(f"/tickets/{duplicate.id}"))
    response = agent.form_post(f"/tickets/{duplicate.id}/subject", {"subject": "Renamed"},
                               page=f"/tickets/{duplicate.id}", headers=HX)
    assert response.status_code == 422 and "merged into another one" in text(response)
    assert reload(Ticket, duplicate.id).subject == "Duplicate"


# --------------------------------------------------------------------------- 3. mail for a ticket opened on a customer's behalf
def test_customer_is_mailed_when_an_agent_opens_a_ticket_for_them(people, login, outbox):
    agent = login(people["agent"])
    response = agent.form_post("/tickets/new", {"customer": CAROL, "subject": "Phone call: VPN",
                                                "description": "Called at 9:00, VPN drops.", "priority": "high",
                                                "attachments": upload(PNG, "screenshot.png")},
                               page="/tickets/new", content_type="multipart/form-data")
    assert response.status_code == 302
    ticket = db.session.scalars(db.select(Ticket)).one()
    [(to, subject, body)] = outbox.to(CAROL)
    assert subject == f"[#{ticket.ticket_number}] Phone call: VPN"
    assert f"Alice Agent opened ticket #{ticket.ticket_number} for you: Phone call: VPN" in body
    assert "Called at 9:00, VPN drops." in body and "screenshot.png" in body
    assert f"http://localhost/tickets/{ticket.id}" in body
    assert outbox.to(people["agent"].email) == []


def test_no_mail_when_the_customer_opens_their_own_ticket_or_has_mail_off(people, login, outbox):
    customer = login(people["customer"])
    assert customer.form_post("/tickets/new", {"subject": "My own", "priority": "low"},
                              page="/tickets/new").status_code == 302
    assert outbox == []
    people["customer"].preferences.email_notifications = False
    db.session.commit()
    agent = login(people["agent"])
    assert agent.form_post("/tickets/new", {"customer": CAROL, "subject": "For Carol", "priority": "low"},
                           page="/tickets/new").status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(Ticket)) == 2
    assert outbox == []


def test_no_mail_when_the_ticket_is_refused(people, login, outbox):
    agent = login(people["agent"])
    response = agent.form_post("/tickets/new", {"customer": CAROL, "subject": "   ", "priority": "low"},
                               page="/tickets/new")
    assert response.status_code == 422 and outbox == []


# --------------------------------------------------------------------------- 4. frozen tags and custom fields
@pytest.mark.parametrize("status, reason", [
    ("closed", "A closed ticket is final: its tags and custom fields can no longer change."),
    ("cancelled", "A cancelled ticket's tags and custom fields can't change; reopen the ticket first."),
])
def test_closed_and_cancelled_tickets_keep_their_tags_and_fields(people, login, make_ticket, status, reason):
    ticket = make_ticket(people["customer"])
    services.ticket_set_tags(ticket=ticket, actor=people["agent"], text="billing")
    services.ticket_set_custom_fields(ticket=reload(Ticket, ticket.id), actor=people["agent"], text="order: 1")
    ticket = _set_status(reload(Ticket, ticket.id), status)
    entries_before = len(_history(ticket.id))
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    html = text(agent.get(page))
    assert reason in html
    assert 'name="tags" value="billing" placeholder="billing, login" disabled' in html
    assert "Save fields</button>" in html and 'placeholder="order: 1234" disabled' in html

    tags = agent.form_post(f"/tickets/{ticket.id}/tags", {"tags": "other"}, page=page, headers=HX)
    assert tags.status_code == 422
    fragment = text(tags)
    # The reason is shown at the tags form (between its input and the custom fields form).
    assert fragment.index('name="tags"') < fragment.index(f'<p class="error" role="alert">{reason}</p>') \
        < fragment.index('name="custom_fields"')
    fields = agent.form_post(f"/tickets/{ticket.id}/custom-fields", {"custom_fields": "order: 2"}, page=page,
                             headers=HX)
    assert fields.status_code == 422 and reason in text(fields)
    # Without JavaScript: back to the page with the reason.
    plain = agent.form_post(f"/tickets/{ticket.id}/tags", {"tags": "other"}, page=page)
    assert plain.status_code == 302 and reason in text(agent.get(plain.headers["Location"]))

    row = reload(Ticket, ticket.id)
    assert (row.tags, row.custom_fields) == (["billing"], {"order": "1"})
    assert len(_history(ticket.id)) == entries_before


def test_a_reopened_ticket_takes_tags_again_and_resolved_ones_still_do(people, login, make_ticket):
    ticket = _set_status(make_ticket(people["customer"]), "cancelled")
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    assert agent.form_post(f"/tickets/{ticket.id}/status", {"status": "open"}, page=page,
                           headers=HX).status_code == 200
    assert agent.form_post(f"/tickets/{ticket.id}/tags", {"tags": "reopened"}, page=page,
                           headers=HX).status_code == 200
    services.ticket_change_status(ticket=reload(Ticket, ticket.id), actor=people["agent"], status="resolved")
    ok = agent.form_post(f"/tickets/{ticket.id}/custom-fields", {"custom_fields": "cause: cable"}, page=page,
                         headers=HX)
    assert ok.status_code == 200 and "disabled" not in text(ok).split('name="tags"')[1].split(">")[0]
    row = reload(Ticket, ticket.id)
    assert (row.tags, row.custom_fields) == (["reopened"], {"cause": "cable"})
    assert [h.field for h in _history(ticket.id, event="changed") if h.field in ("tags", "custom_fields")] == [
        "tags", "custom_fields"]

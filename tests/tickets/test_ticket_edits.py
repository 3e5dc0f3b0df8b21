"""Edits on an existing ticket, through the ticket page: the mail a customer gets when staff open a ticket
for them, and closed tickets' frozen tags and fields."""
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

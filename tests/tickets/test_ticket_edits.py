"""Edits on an existing ticket, through the ticket page: the mail a customer gets when staff open a ticket
for them."""
from app.extensions import db
from app.tickets.models import Ticket
from tests.tickets.conftest import PNG, upload

CAROL = "carol@customer.example.com"


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

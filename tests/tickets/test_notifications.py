"""Mail on replies: the customer hears of an agent's public reply, the assigned agent of the customer's reply;
internal notes are never mailed; everyone's email_notifications preference is honoured."""
from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket
from tests.helpers import reload
from tests.tickets.conftest import PNG, upload

CAROL = "carol@customer.example.com"
ALICE = "agent@acme.example.com"


def _assigned_ticket(people, make_ticket, app):
    ticket = make_ticket(people["customer"], subject="VPN drops")
    with app.test_request_context():
        services.ticket_assign(ticket=reload(Ticket, ticket.id), actor=people["agent"], agent=people["agent"])
    return reload(Ticket, ticket.id)


def test_agents_public_reply_mails_the_customer_with_the_reply_and_a_link(people, login, make_ticket, outbox, app):
    ticket = _assigned_ticket(people, make_ticket, app)
    agent = login(people["agent"])
    response = agent.form_post(f"/tickets/{ticket.id}/comments", {"content": "Please update the client to 5.2",
                                                                  "attachments": upload(PNG, "settings.png")},
                               page=f"/tickets/{ticket.id}", content_type="multipart/form-data")
    assert response.status_code == 302
    [(to, subject, body)] = outbox.to(CAROL)
    assert subject == f"Re: [#{ticket.ticket_number}] VPN drops"
    assert "Alice Agent replied" in body and "Please update the client to 5.2" in body
    assert "settings.png" in body and f"http://localhost/tickets/{ticket.id}" in body
    assert outbox.to(ALICE) == []  # nobody is mailed about their own reply


def test_internal_notes_are_never_mailed(people, login, make_ticket, outbox, app):
    ticket = _assigned_ticket(people, make_ticket, app)
    colleague = login(people["agent2"])
    colleague.form_post(f"/tickets/{ticket.id}/comments", {"content": "SECRET: refund them quietly", "internal": "y"},
                        page=f"/tickets/{ticket.id}")
    assert not any("SECRET" in body for _to, _subject, body in outbox)
    assert outbox.to(CAROL) == []


def test_customers_reply_mails_the_assigned_agent(people, login, make_ticket, outbox, app):
    ticket = _assigned_ticket(people, make_ticket, app)
    outbox.clear()  # the assignment mail
    customer = login(people["customer"])
    customer.form_post(f"/tickets/{ticket.id}/comments", {"content": "Still dropping every hour"},
                       page=f"/tickets/{ticket.id}")
    [(to, subject, body)] = outbox
    assert to == ALICE and subject == f"Re: [#{ticket.ticket_number}] VPN drops"
    assert "Carol Customer (the customer) replied" in body and "Still dropping every hour" in body


def test_customers_reply_on_an_unassigned_ticket_mails_nobody(people, make_ticket, outbox):
    ticket = make_ticket(people["customer"])
    services.comment_add(ticket=ticket, author=people["customer"], content="Any news?")
    assert outbox == []


def test_mail_honours_the_recipients_preference(people, make_ticket, outbox, app):
    ticket = _assigned_ticket(people, make_ticket, app)
    outbox.clear()
    people["customer"].preferences.email_notifications = False
    people["agent"].preferences.email_notifications = False
    db.session.commit()
    services.comment_add(ticket=reload(Ticket, ticket.id), author=people["agent"], content="Fixed, I think")
    services.comment_add(ticket=reload(Ticket, ticket.id), author=people["customer"], content="Thanks!")
    assert outbox == []
    people["customer"].preferences.email_notifications = True
    db.session.commit()
    # Outside a request (a job, the CLI) the link comes from PUBLIC_BASE_URL.
    services.comment_add(ticket=reload(Ticket, ticket.id), author=people["agent2"], content="Confirmed fixed")
    [(to, _subject, body)] = outbox
    assert to == CAROL and "Bob Agent replied" in body and f"/tickets/{ticket.id}" in body

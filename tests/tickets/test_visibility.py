"""A customer never sees another customer's ticket or any internal note; other organizations get 404."""
from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket, TicketAttachment
from tests.tickets.conftest import PDF, PNG, text, upload

HX = {"HX-Request": "true"}


def _ticket_with_note(people, make_ticket, login):
    ticket = make_ticket(people["customer"], subject="Invoice wrong", description="Charged twice")
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    agent.form_post(f"/tickets/{ticket.id}/comments", {"content": "Public answer", "attachments": upload(PNG, "public.png")},
                    page=page, content_type="multipart/form-data")
    agent.form_post(f"/tickets/{ticket.id}/comments", {"content": "SECRET zebra note", "internal": "y",
                                                       "attachments": upload(PDF, "secret.pdf")},
                    page=page, content_type="multipart/form-data")
    return ticket


def test_customer_sees_public_replies_but_no_internal_note(people, login, make_ticket):
    ticket = _ticket_with_note(people, make_ticket, login)
    customer = login(people["customer"])
    html = text(customer.get(f"/tickets/{ticket.id}"))
    assert "Public answer" in html and "public.png" in html
    assert "SECRET zebra" not in html and "secret.pdf" not in html and "internal note" not in html
    agent_html = text(login(people["agent"]).get(f"/tickets/{ticket.id}"))
    assert "SECRET zebra note" in agent_html and "secret.pdf" in agent_html


def test_customer_search_does_not_match_internal_notes_or_others_tickets(people, login, make_ticket):
    ticket = _ticket_with_note(people, make_ticket, login)
    make_ticket(people["customer2"], subject="Dave's zebra problem")
    customer = login(people["customer"])
    assert "Invoice wrong" not in text(customer.get("/tickets/?q=zebra", headers={**HX, "HX-Target": "ticket-results"}))
    assert "Dave's zebra" not in text(customer.get("/tickets/?q=zebra"))
    assert "Invoice wrong" in text(customer.get("/tickets/?q=answer"))
    agent = login(people["agent"])
    found = text(agent.get("/tickets/?q=zebra", headers={**HX, "HX-Target": "ticket-results"}))
    assert "Invoice wrong" in found and "Dave's zebra problem" in found and "<html" not in found
    assert ticket.id


def test_customer_cannot_open_another_customers_ticket_fragment_or_file(people, login, make_ticket):
    ticket = _ticket_with_note(people, make_ticket, login)
    other = login(people["customer2"])
    assert other.get(f"/tickets/{ticket.id}").status_code == 404
    assert other.form_post(f"/tickets/{ticket.id}/comments", {"content": "hi"}).status_code == 404
    assert "Invoice wrong" not in text(other.get("/tickets/"))
    for attachment in db.session.scalars(db.select(TicketAttachment)):
        assert other.get(f"/tickets/attachments/{attachment.id}").status_code == 404


def test_internal_attachment_download_is_404_for_the_customer(people, login, make_ticket):
    ticket = _ticket_with_note(people, make_ticket, login)
    files = {a.original_name: a for a in db.session.scalars(db.select(TicketAttachment))}
    customer = login(people["customer"])
    assert customer.get(f"/tickets/attachments/{files['secret.pdf'].id}").status_code == 404
    response = customer.get(f"/tickets/attachments/{files['public.png'].id}")
    assert response.status_code == 200 and response.data == PNG
    db.session.expire_all()
    assert db.session.get(TicketAttachment, files["public.png"].id).download_count == 1
    assert ticket.id


def test_other_organization_gets_404_everywhere(people, login, make_ticket):
    ticket = _ticket_with_note(people, make_ticket, login)
    outsider = login(people["outsider"])
    attachment = db.session.scalars(db.select(TicketAttachment)).first()
    for url in (f"/tickets/{ticket.id}", f"/tickets/attachments/{attachment.id}"):
        assert outsider.get(url).status_code == 404
    for url, data in ((f"/tickets/{ticket.id}/status", {"status": "resolved"}),
                      (f"/tickets/{ticket.id}/assignee", {"assignee": people["outsider"].id}),
                      (f"/tickets/{ticket.id}/delete", {"reason": "x"}),
                      (f"/tickets/{ticket.id}/restore", {})):
        assert outsider.form_post(url, data).status_code == 404
    assert "Invoice wrong" not in text(outsider.get("/tickets/?q=Invoice"))
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "open"


def test_agent_cannot_assign_an_agent_of_another_organization(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    agent = login(people["agent"])
    response = agent.form_post(f"/tickets/{ticket.id}/assignee", {"assignee": people["outsider"].id},
                               page=f"/tickets/{ticket.id}", headers=HX)
    assert response.status_code == 422 and "Choose an agent of this organization." in text(response)
    assert services.open_ticket_count(people["outsider"]) == 0


def test_customers_cannot_reach_staff_pages(people, login):
    customer = login(people["customer"])
    for url in ("/tickets/trash", "/tickets/sla", "/tickets/kb/new"):
        assert customer.get(url).status_code == 403
    assert login(people["agent"]).get("/tickets/sla").status_code == 403


def test_sla_clocks_are_for_staff_only(people, login, make_ticket):
    from tests.tickets.conftest import default_policy

    default_policy(people["org"].id, medium_first_response_minutes=60, medium_resolution_minutes=240)
    ticket = make_ticket(people["customer"], subject="Clock check")
    staff_list, staff_page = (text(login(people["agent"]).get(url)) for url in ("/tickets/", f"/tickets/{ticket.id}"))
    assert "left</span>" in staff_list and "Resolution due" in staff_page
    customer = login(people["customer"])
    customer_list, customer_page = (text(customer.get(url)) for url in ("/tickets/", f"/tickets/{ticket.id}"))
    assert "Clock check" in customer_list and "left</span>" not in customer_list and "<th>SLA</th>" not in customer_list
    assert "Resolution due" not in customer_page and "First response due" not in customer_page

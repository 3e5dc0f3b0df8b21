"""The gaps a new user found (issue 13's Fixes): each one closed, proved through the pages."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.platform import storage
from app.tickets import services
from app.tickets.models import KnowledgeArticle, SLAPolicy, Ticket, TicketAttachment, TicketComment
from tests.helpers import reload
from tests.tickets.conftest import PNG, text, upload

HX = {"HX-Request": "true"}


def test_a_new_organization_has_an_editable_default_policy_and_tickets_get_clocks(people, login, make_ticket):
    policy = db.session.scalars(sa.select(SLAPolicy).where(SLAPolicy.organization_id == people["org"].id)).one()
    assert policy.name == "Default" and policy.is_default and policy.is_active
    ticket = make_ticket(people["customer"])
    assert reload(Ticket, ticket.id).sla_policy_id == policy.id and ticket.first_response_due is not None
    assert "SLA —" not in text(login(people["agent"]).get(f"/tickets/{ticket.id}"))
    assert login(people["manager"]).get(f"/tickets/sla/{policy.id}").status_code == 200


def test_staff_reach_the_knowledge_base_and_sla_policies_from_the_navigation(people, login):
    manager_nav = text(login(people["manager"]).get("/dashboard"))
    assert 'href="/tickets/kb"' in manager_nav and 'href="/tickets/sla"' in manager_nav
    agent_nav = text(login(people["agent"]).get("/dashboard"))
    assert 'href="/tickets/kb"' in agent_nav and 'href="/tickets/sla"' not in agent_nav  # managers only


def test_property_selects_save_on_change_with_no_second_submit_button(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    page = text(login(people["agent"]).get(f"/tickets/{ticket.id}"))
    properties = page[page.index('id="ticket-properties"'):page.index("</section>", page.index('id="ticket-properties"'))]
    assert properties.count('hx-trigger="change"') == 3
    # A Set button only without JavaScript: with it, the change already saved once.
    assert properties.count(">Set</button>") == 3 == properties.count("<noscript><button")


def test_merge_keeps_the_customers_words_public_and_offers_no_rating(people, login, make_ticket):
    original = make_ticket(people["customer"], subject="Original")
    duplicate = make_ticket(people["customer"], subject="Printer again", description="It smokes AGAIN, walrus.")
    services.ticket_merge(source=reload(Ticket, duplicate.id), target=reload(Ticket, original.id),
                          actor=people["agent"])
    moved = db.session.scalars(sa.select(TicketComment).where(TicketComment.ticket_id == original.id,
                                                              TicketComment.comment_type == "reply")).one()
    assert moved.author_id == people["customer"].id and "It smokes AGAIN, walrus." in moved.content
    customer = login(people["customer"])
    assert "It smokes AGAIN, walrus." in text(customer.get(f"/tickets/{original.id}"))
    merged_page = text(customer.get(f"/tickets/{duplicate.id}"))
    assert "Rate this ticket" not in merged_page
    refused = customer.form_post(f"/tickets/{duplicate.id}/rate", {"score": "5"}, page=f"/tickets/{duplicate.id}")
    assert refused.status_code == 422 and "merged into another one" in text(refused)


def test_customers_never_see_tags(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    agent = login(people["agent"])
    agent.form_post(f"/tickets/{ticket.id}/tags", {"tags": "vip-walrus"}, page=f"/tickets/{ticket.id}", headers=HX)
    assert "vip-walrus" in text(agent.get("/tickets/"))
    customer = login(people["customer"])
    assert "vip-walrus" not in text(customer.get("/tickets/"))
    assert "vip-walrus" not in text(customer.get(f"/tickets/{ticket.id}"))


def test_a_new_article_starts_as_a_draft(people, login):
    agent = login(people["agent"])
    form = text(agent.get("/tickets/kb/new"))
    assert 'name="is_published"' in form and 'name="is_published" type="checkbox" value="y" checked' not in form
    agent.form_post("/tickets/kb/new", {"title": "Reset a password", "content": "Click Forgot."},
                    page="/tickets/kb/new")
    article = db.session.scalars(sa.select(KnowledgeArticle)).one()
    assert not article.is_published
    assert login(people["customer"]).get(f"/tickets/kb/{article.id}").status_code == 404


def test_the_ticket_trash_is_emptied_with_confirmation_and_files_go(people, login, make_ticket, make_user):
    ticket_id = make_ticket(people["customer"]).id
    ticket = reload(Ticket, ticket_id)
    services.ticket_attach(ticket=reload(Ticket, ticket.id), actor=people["agent"],
                           files=[_file(PNG, "shot.png")])
    path = db.session.scalars(sa.select(TicketAttachment.storage_path)).one()
    services.ticket_delete(ticket=reload(Ticket, ticket.id), actor=people["agent"], reason="spam")
    admin = make_user(people["org"], "admin", "boss@acme.example.com")
    agent = login(people["agent"])
    assert "Empty the trash" not in text(agent.get("/tickets/trash"))  # no purge_trash permission
    refused = agent.form_post("/tickets/trash/empty", {"confirmation": "EMPTY"}, page="/tickets/trash")
    assert "permission" in text(agent.get(refused.headers["Location"]))
    boss = login(admin)
    assert "Empty the trash" in text(boss.get("/tickets/trash"))
    unconfirmed = boss.form_post("/tickets/trash/empty", {"confirmation": "yes"}, page="/tickets/trash")
    assert "Type EMPTY to confirm" in text(boss.get(unconfirmed.headers["Location"]))
    assert db.session.get(Ticket, ticket_id) is not None
    done = boss.form_post("/tickets/trash/empty", {"confirmation": "EMPTY"}, page="/tickets/trash")
    assert "1 ticket and their files removed" in text(boss.get(done.headers["Location"]))
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id) is None and not storage.resolve(path).exists()


def _file(data: bytes, name: str):
    from werkzeug.datastructures import FileStorage

    stream, filename = upload(data, name)
    return FileStorage(stream=stream, filename=filename)


def test_reply_threading_headers_skip_message_ids_that_are_not_ascii(people, make_ticket):
    """A Message-ID is ASCII (RFC 5322); one received with other characters was RFC 2047-encoded into
    In-Reply-To/References ('=?utf-8?...'), which no mail client threads on. Such ids are left out."""
    from app.tickets.models import InboundEmail
    from app.tickets.outbound import thread_headers

    ticket = make_ticket(people["customer"])
    for message_id in ("<first@client.example>", "<zweit-ü@client.example>"):
        db.session.add(InboundEmail(organization_id=ticket.organization_id, message_id=message_id,
                                    status="imported", ticket_id=ticket.id))
    db.session.commit()
    headers = thread_headers(ticket, automatic=False)
    assert headers["In-Reply-To"] == "<first@client.example>"
    assert headers["References"] == "<first@client.example>"
    assert all(value.isascii() for value in headers.values())

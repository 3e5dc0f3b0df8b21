"""A customer opens a ticket with a file; an agent replies, changes it inline and resolves it; the customer rates it."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.flows import mark_page, page_was_not_reloaded, sign_up
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture()
def helpdesk(app):
    from tests.factories import make_member, make_organization

    with app.app_context():
        org = make_organization("Helpco")
        make_member(org, "manager", "manager@helpco.example.com", full_name="Mia Manager")
        make_member(org, "agent", "agent@helpco.example.com", full_name="Alice Agent")
        make_member(org, "customer", "carol@helpco.example.com", full_name="Carol Customer")
    return {"manager": "manager@helpco.example.com", "agent": "agent@helpco.example.com",
            "customer": "carol@helpco.example.com"}


def _sign_in(page, email):
    page.goto("/signin")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/(dashboard|tickets/)$"))  # customers land on the helpdesk


def test_customer_opens_agent_replies_and_resolves(page, browser_context, console, helpdesk):
    _sign_in(page, helpdesk["customer"])
    page.get_by_role("link", name="Support").click()
    page.wait_for_url("**/tickets/")
    assert page.get_by_text("No tickets yet").is_visible()
    page.get_by_role("link", name="Open a ticket").click()
    page.fill("input[name=subject]", "Printer is on fire")
    page.fill("textarea[name=description]", "Smoke everywhere since this morning.")
    page.select_option("select[name=priority]", "urgent")
    page.set_input_files("input[name=attachments]", files=[{"name": "smoke.png", "mimeType": "image/png", "buffer": PNG}])
    page.get_by_role("button", name="Open ticket").click()
    page.wait_for_url("**/tickets/*")
    assert page.get_by_text("Ticket #1 opened.").is_visible()
    assert page.get_by_role("link", name="smoke.png").is_visible()
    ticket_url = page.url

    agent = browser_context().new_page()
    console.watch(agent)
    _sign_in(agent, helpdesk["agent"])
    agent.locator("#mainnav summary", has_text="Helpdesk").click()  # the helpdesk's pages share a menu
    agent.locator("#mainnav").get_by_role("link", name="Tickets", exact=True).click()
    agent.wait_for_url("**/tickets/")
    agent.wait_for_load_state("load")  # htmx has wired the search box: typing before that sends nothing
    agent.fill("input[name=q]", "fire")  # search as you type
    expect(agent).to_have_url(re.compile(r"q=fire"))
    agent.locator("#ticket-results").get_by_role("link", name="Printer is on fire").click()
    agent.wait_for_url(ticket_url)

    agent.fill("textarea[name=content]", "Note to self: call facilities")
    agent.check("input[name=internal]")
    agent.get_by_role("button", name="Send").click()
    expect(agent.get_by_text("Note added.")).to_be_visible()
    agent.fill("textarea[name=content]", "We have sent someone with an extinguisher.")
    agent.get_by_role("button", name="Send").click()
    expect(agent.get_by_text("Reply sent.")).to_be_visible()
    assert agent.locator("#conversation").get_by_text("We have sent someone").is_visible()
    history = agent.locator("#ticket-history")
    expect(history).to_contain_text("added an internal note")
    expect(history).to_contain_text("replied")

    # Inline (HTMX) changes: the properties panel is swapped, the page is not reloaded.
    mark_page(agent)
    panel = agent.locator("#ticket-properties")

    def change(name, **option):
        with agent.expect_response(f"**/tickets/*/{name}"):
            agent.select_option(f"#ticket-properties select[name={name}]", **option)
        expect(panel).not_to_have_class(re.compile("htmx-(swapping|settling)"))

    change("assignee", label="Alice Agent (online)")
    expect(panel.locator("select[name=assignee] option[selected]")).to_have_text(re.compile("Alice"))
    for status in ("pending", "resolved", "closed"):
        change("status", value=status)
        expect(panel.locator("select[name=status] option[selected]")).to_have_value(status)
    # Closing takes the reply and file forms away without a reload.
    expect(agent.locator("#conversation")).to_contain_text("This ticket is closed; replies are closed.")
    expect(agent.locator("#conversation form.reply-form")).to_have_count(0)
    expect(agent.locator("#ticket-files input[type=file]")).to_have_count(0)
    # The timeline refreshes itself after each inline change.
    expect(history).to_contain_text("changed status from resolved to closed")
    expect(history).to_contain_text("changed assignee to Alice Agent")
    assert page_was_not_reloaded(agent)
    agent.reload()
    assert agent.get_by_text("changed status from resolved to closed").is_visible()

    page.reload()
    assert page.locator("#conversation").get_by_text("We have sent someone with an extinguisher.").is_visible()
    assert page.get_by_text("call facilities").count() == 0
    # The customer's timeline: the public reply and the status changes, never the internal note.
    customer_history = page.locator("#ticket-history")
    expect(customer_history).to_contain_text("Alice Agent replied")
    expect(customer_history).to_contain_text("changed status from resolved to closed")
    expect(customer_history).not_to_contain_text("internal")
    assert page.locator(".ticket-status").first.inner_text() == "closed"
    page.select_option("select[name=score]", "5")
    page.get_by_role("button", name="Rate").click()
    assert page.get_by_text("Thank you for your rating.").is_visible()
    assert page.get_by_text("You rated it 5 of 5").is_visible()


def test_ticket_page_on_a_phone(browser_context, console, helpdesk, live_server):
    from tests.browser.conftest import PHONE

    phone = browser_context(viewport=PHONE).new_page()
    console.watch(phone)
    _sign_in(phone, helpdesk["customer"])
    phone.goto("/tickets/new")
    phone.fill("input[name=subject]", "Small screen")
    phone.get_by_role("button", name="Open ticket").click()
    phone.wait_for_url("**/tickets/*")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


def test_manager_edits_an_sla_policy_and_watches_the_due_times_update(page, helpdesk, jobs):
    """The recompute job's panel appears on the SLA page, polls, and says how many tickets moved."""
    _sign_in(page, helpdesk["customer"])
    page.goto("/tickets/new")
    page.fill("input[name=subject]", "Clocked ticket")
    page.get_by_role("button", name="Open ticket").click()
    page.wait_for_url("**/tickets/*")
    page.context.clear_cookies()

    _sign_in(page, helpdesk["manager"])
    page.goto("/tickets/sla")
    page.get_by_role("link", name="Edit").click()  # the organization's own default policy
    page.fill("input[name=name]", "Standard")
    page.fill("input[name=medium_first_response_minutes]", "60")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("The due times of open tickets it concerns are being recomputed")).to_be_visible()
    panel = page.locator("#sla-recomputes .job-panel").first
    expect(panel).to_have_attribute("data-status", "queued")
    jobs.start()
    expect(panel).to_have_attribute("data-status", "succeeded", timeout=20_000)
    expect(panel).to_contain_text("Updated the due times of 1 open ticket (checked 1).")

    page.get_by_role("link", name="Edit").click()
    page.fill("input[name=medium_first_response_minutes]", "90")
    page.get_by_role("button", name="Save policy").click()
    latest = page.locator("#sla-recomputes .job-panel").first
    expect(latest).to_contain_text("Updated the due times of 1 open ticket (checked 1).", timeout=20_000)
    expect(page.locator("#sla-recomputes .job-panel")).to_have_count(2)


def test_an_email_born_ticket_is_followed_to_its_resolution(page, helpdesk, app):
    """A stranger's email opens a ticket; the agent answers with a canned reply; the emailed answer lands on it."""
    import sqlalchemy as sa

    from app.accounts.models import Organization
    from app.extensions import db
    from app.platform.mail import OutboxMessage
    from app.tickets import inbound
    from app.tickets.models import Ticket

    def receive(raw: bytes) -> str:
        with app.app_context():
            org = db.session.scalars(sa.select(Organization).where(Organization.name == "Helpco")).one()
            return str(inbound.inbound_import(organization=org, raw=raw))

    first = receive(b"From: Zoe Client <zoe@client.example>\r\nSubject: VPN drops every hour\r\n"
                    b"Message-ID: <vpn1@client.example>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                    b"<p>The VPN <b>drops</b> every hour.</p><script>alert('x')</script>\r\n")
    assert first.startswith("imported"), first

    _sign_in(page, helpdesk["agent"])
    page.goto("/tickets/canned")
    page.fill("input[name=title]", "Restart")
    page.fill("textarea[name=body]", "Hello {{customer.first_name}}, please restart the client ({{ticket.number}}).")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Canned reply Restart saved.")).to_be_visible()
    page.locator("#mainnav summary", has_text="Helpdesk").click()
    # Opening the menu fetches the views' counts (HTMX): the new ticket is unassigned.
    expect(page.locator("#mainnav").get_by_role("link", name="Unassigned 1")).to_be_visible()
    expect(page.locator("#mainnav [data-testid=view-count]")).to_have_count(3)
    page.locator("#mainnav").get_by_role("link", name="Incoming email").click()
    expect(page.get_by_text("Opened ticket #1.")).to_be_visible()
    page.get_by_role("link", name="Open ticket").click()
    expect(page.locator(".ticket-text").first).to_contain_text("The VPN drops every hour.")
    assert page.locator("script", has_text="alert").count() == 0
    with page.expect_response("**/tickets/*/canned*"):
        page.get_by_role("button", name="Insert").click()  # HTMX swaps the reply box, filled in
    expect(page.locator("textarea[name=content]")).to_have_value("Hello Zoe, please restart the client (#1).")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()

    with app.app_context():
        sent_id = db.session.scalars(sa.select(OutboxMessage.message_id)
                                     .where(OutboxMessage.recipient == "zoe@client.example")).one()
    answer = receive(f"From: zoe@client.example\r\nSubject: Re: [#1] VPN drops every hour\r\n"
                     f"Message-ID: <vpn2@client.example>\r\nIn-Reply-To: {sent_id}\r\n\r\n"
                     f"Restarted, it holds now.\r\n\r\nOn Monday, Alice wrote:\r\n> Hello Zoe\r\n".encode())
    assert answer.startswith("imported: Added a reply to ticket #1"), answer
    page.reload()
    expect(page.locator("#conversation")).to_contain_text("Restarted, it holds now.")
    expect(page.locator("#conversation")).not_to_contain_text("> Hello Zoe")
    with page.expect_response("**/tickets/*/status"):
        page.select_option("#ticket-properties select[name=status]", "resolved")
    expect(page.locator("#ticket-properties select[name=status] option[selected]")).to_have_value("resolved")
    with app.app_context():
        assert db.session.scalars(sa.select(Ticket.status)).one() == "resolved"


def test_saved_view_and_bulk_form_follow_filters_changed_in_place(page):
    """The filters change the list in place (htmx): the 'save these filters' form and the bulk form's 'every
    ticket matching the filters' must carry the new filters, not the ones the page was loaded with."""
    sign_up(page, organization="Viewco")
    page.goto("/tickets/?priority=low")
    mark_page(page)
    page.select_option("form.ticket-filters select[name=priority]", "urgent")
    page.wait_for_url(re.compile(r"priority=urgent"))
    expect(page.locator("#bulk-filters input[name=priority]")).to_have_value("urgent")
    expect(page.locator("#saved-views input[type=hidden][name=priority]")).to_have_value("urgent")
    assert page_was_not_reloaded(page)
    page.locator("#saved-views summary").click()
    page.fill("#saved-views input[name=name]", "Urgent ones")
    page.locator("#saved-views").get_by_role("button", name="Save view").click()
    expect(page.locator("#saved-views a", has_text="Urgent ones")).to_have_attribute("href", re.compile(r"priority=urgent"))

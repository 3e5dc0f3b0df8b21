"""Agents' everyday tools: canned replies and the Markdown knowledge base."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.tickets.models import CannedReply
from tests.tickets.conftest import text

HX = {"HX-Request": "true"}


def _canned(client, title, body, shared=False, page="/tickets/canned"):
    data = {"title": title, "body": body}
    if shared:
        data["shared"] = "y"
    return client.form_post("/tickets/canned", data, page=page)


def test_canned_replies_are_personal_or_shared_and_fill_in_placeholders_safely(people, login, make_ticket):
    ticket = make_ticket(people["customer"], subject="Router blinks")
    alice, bob = login(people["agent"]), login(people["agent2"])
    assert _canned(alice, "Greeting", "Hello {{customer.name}}, about {{ticket.number}} ({{ ticket.subject }}). "
                                      "{{config.SECRET_KEY}} {{7*7}} <b>hi</b>", shared=True).status_code == 302
    assert _canned(alice, "Mine only", "Regards, {{agent.name}}").status_code == 302
    assert _canned(alice, "", "x").status_code == 422
    shared, mine = (db.session.scalars(sa.select(CannedReply).where(CannedReply.title == t)).one()
                    for t in ("Greeting", "Mine only"))
    assert "Mine only" not in text(bob.get("/tickets/canned")) and "Greeting" in text(bob.get("/tickets/canned"))
    assert bob.get(f"/tickets/canned/{mine.id}").status_code == 404

    box = text(alice.get(f"/tickets/{ticket.id}/canned", query_string={"canned": shared.id, "content": "Typed first"},
                         headers=HX))
    assert "Typed first\n\nHello Carol Customer, about #1 (Router blinks)." in box
    # Only known placeholders are filled; nothing is evaluated, and the text is escaped on the page.
    assert "{{config.SECRET_KEY}} {{7*7}}" in box and "<b>hi</b>" not in alice.get(
        f"/tickets/{ticket.id}/canned", query_string={"canned": shared.id}, headers=HX).get_data(as_text=True)
    assert bob.get(f"/tickets/{ticket.id}/canned", query_string={"canned": mine.id}, headers=HX).status_code == 200
    assert "Regards" not in text(bob.get(f"/tickets/{ticket.id}/canned", query_string={"canned": mine.id}, headers=HX))
    # Without JavaScript the ticket page opens with the reply box filled in.
    assert "Regards, Alice Agent" in text(alice.get(f"/tickets/{ticket.id}?canned={mine.id}"))
    # A shared reply is kept by its author and managers, not by other agents.
    assert bob.form_post(f"/tickets/canned/{shared.id}/delete", page="/tickets/canned").status_code == 302
    assert db.session.get(CannedReply, shared.id) is not None
    assert login(people["customer"]).get("/tickets/canned").status_code == 403


def test_the_knowledge_base_renders_markdown_safely_with_categories_and_drafts(people, login):
    agent = login(people["agent"])
    body = "# Steps\n\n1. **Open** settings\n\n<script>alert(1)</script> [evil](javascript:alert(1)) [ok](https://ex.com)"
    agent.form_post("/tickets/kb/new", {"title": "Reset a password", "category": "Accounts", "content": body,
                                        "is_published": "y"}, page="/tickets/kb/new")
    agent.form_post("/tickets/kb/new", {"title": "Secret draft", "category": "Internal", "content": "wip"},
                    page="/tickets/kb/new")
    customer = login(people["customer"])
    listing = text(customer.get("/tickets/kb"))
    assert "Reset a password" in listing and "Secret draft" not in listing and "Internal" not in listing
    assert "Accounts (1)" in listing
    found = text(customer.get("/tickets/kb?q=settings", headers={**HX, "HX-Target": "kb-results"}))
    assert "Reset a password" in found
    assert "Reset a password" not in text(customer.get("/tickets/kb?category=Billing"))
    article_id = db.session.scalar(sa.text("SELECT id FROM knowledge_articles WHERE title = 'Reset a password'"))
    page = customer.get(f"/tickets/kb/{article_id}").get_data(as_text=True)
    assert "<h1>Steps</h1>" in page and "<strong>Open</strong>" in page
    assert "<script>alert(1)</script>" not in page and 'href="javascript' not in page
    assert '<a href="https://ex.com" rel="noopener noreferrer nofollow">ok</a>' in page


def test_saved_views_personal_and_shared_with_counts_in_the_navigation(people, login, make_ticket):
    from app.tickets import services
    from app.tickets.models import SavedView, Ticket
    from tests.helpers import reload

    mine = make_ticket(people["customer"], subject="Mine", priority="urgent")
    make_ticket(people["customer"], subject="Nobody's")
    services.ticket_assign(ticket=reload(Ticket, mine.id), actor=people["agent"], agent=people["agent"])
    alice, bob = login(people["agent"]), login(people["agent2"])
    nav = text(alice.get("/tickets/views/nav", headers=HX))
    assert "My open tickets <span" in nav and ">1</span>" in nav  # built in, counted for the reader
    counts = dict(re.findall(r'>([^<>]+?) <span class="badge" data-testid="view-count">(\d+)<', nav))
    assert counts == {"My open tickets": "1", "Unassigned": "1", "SLA breached": "0"}
    assert dict(re.findall(r'>([^<>]+?) <span class="badge" data-testid="view-count">(\d+)<',
                           text(bob.get("/tickets/views/nav", headers=HX))))["My open tickets"] == "0"

    saved = alice.form_post("/tickets/views", {"name": "Urgent ones", "priority": "urgent", "shared": "y"})
    assert saved.status_code == 302 and "priority=urgent" in saved.headers["Location"]
    alice.form_post("/tickets/views", {"name": "My urgent", "priority": "urgent", "assignee": "me"})
    assert "Filter the list first" in text(alice.get(alice.form_post("/tickets/views", {"name": "All"})
                                                     .headers["Location"]))
    bob_nav = text(bob.get("/tickets/views/nav", headers=HX))
    assert "Urgent ones" in bob_nav and "My urgent" not in bob_nav  # shared vs personal
    counts = dict(re.findall(r'>([^<>]+?) <span class="badge" data-testid="view-count">(\d+)<',
                             text(alice.get("/tickets/views/nav", headers=HX))))
    assert counts["Urgent ones"] == "1" and counts["My urgent"] == "1"
    personal = db.session.scalars(sa.select(SavedView).where(SavedView.name == "My urgent")).one()
    assert bob.form_post(f"/tickets/views/{personal.id}/delete").status_code == 404
    listing = text(alice.get("/tickets/?priority=urgent"))
    assert "Save view" in listing and "Mine" in listing and "Nobody's" not in listing
    assert login(people["customer"]).get("/tickets/views/nav", headers=HX).status_code == 403


def test_bulk_actions_on_chosen_tickets_and_on_every_match_as_one_job(people, login, make_ticket, run_jobs):
    from app.platform.jobs import BackgroundTask
    from app.tickets.models import Ticket

    few = [make_ticket(people["customer"], subject=f"Few {n}").id for n in range(3)]
    many = [make_ticket(people["customer2"], subject=f"Many {n}", priority="low").id for n in range(25)]
    agent = login(people["agent"])
    done = agent.form_post("/tickets/bulk", {"ticket_ids": [str(i) for i in few], "action": "priority",
                                             "value_priority": "high"})
    assert "Set priority: 3 tickets changed." in text(agent.get(done.headers["Location"]))
    assert {t.priority for t in db.session.scalars(sa.select(Ticket).where(Ticket.id.in_(few)))} == {"high"}

    agent.form_post("/tickets/bulk", {"ticket_ids": [str(few[0])], "action": "status", "value_status": "resolved"})
    agent.form_post("/tickets/bulk", {"ticket_ids": [str(few[0])], "action": "status", "value_status": "closed"})
    refused = agent.form_post("/tickets/bulk", {"ticket_ids": [str(i) for i in few], "action": "status",
                                                "value_status": "new"})
    # The closed ticket is refused with the rule's reason; the others already are new (nothing to change).
    assert "2 tickets changed, 1 skipped (#1: A closed ticket is final." in text(agent.get(refused.headers["Location"]))

    # Every low-priority ticket (25, more than run at once): one background job with its panel on the list.
    queued = agent.form_post("/tickets/bulk", {"select_all": "1", "priority": "low", "action": "add_tags",
                                               "value_tags": "migration"})
    assert "running in the background" in text(agent.get(queued.headers["Location"]))
    assert 'id="bulk-jobs"' in text(agent.get("/tickets/?priority=low"))
    run_jobs()
    db.session.expire_all()
    task = db.session.scalars(sa.select(BackgroundTask).where(BackgroundTask.kind == "tickets-bulk")).one()
    assert task.status == "succeeded" and task.result["changed"] == 25
    tagged = db.session.scalars(sa.select(Ticket.tags).where(Ticket.id.in_(many))).all()
    assert all("migration" in tags for tags in tagged)
    assert all("migration" not in tags for tags in db.session.scalars(sa.select(Ticket.tags).where(Ticket.id.in_(few))))
    other = login(people["outsider"]).form_post("/tickets/bulk", {"ticket_ids": [str(few[1])], "action": "trash",
                                                                  "value_trash": "x"})
    assert other.status_code == 302 and reload_active(few[1])


def reload_active(ticket_id):
    from app.tickets.models import Ticket

    db.session.expire_all()
    return db.session.get(Ticket, ticket_id).is_active


def test_reports_measure_sla_compliance_times_and_ratings_by_agent_and_priority(people, login, make_ticket):
    from datetime import datetime, timedelta, timezone

    import time_machine

    from app.tickets import reports, services
    from app.tickets.models import Ticket
    from tests.helpers import reload
    from tests.tickets.conftest import default_policy

    default_policy(people["org"].id, medium_first_response_minutes=60, medium_resolution_minutes=240,
                   urgent_first_response_minutes=15, urgent_resolution_minutes=60)
    start = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        fast = make_ticket(people["customer"], subject="Fast")
        slow = make_ticket(people["customer"], subject="Slow", priority="urgent")
    with time_machine.travel(start + timedelta(minutes=30), tick=False):  # on time for medium, late for urgent
        for ticket_id in (fast.id, slow.id):
            services.ticket_assign(ticket=reload(Ticket, ticket_id), actor=people["agent"], agent=people["agent"])
            services.comment_add(ticket=reload(Ticket, ticket_id), author=people["agent"], content="On it")
    with time_machine.travel(start + timedelta(minutes=120), tick=False):
        for ticket_id in (fast.id, slow.id):
            services.ticket_change_status(ticket=reload(Ticket, ticket_id), actor=people["agent"], status="resolved")
        services.ticket_rate(ticket=reload(Ticket, fast.id), customer=people["customer"], score=5)
        services.ticket_rate(ticket=reload(Ticket, slow.id), customer=people["customer"], score=2)

    data = reports.report_for(organization_id=people["org"].id, start=start.date(), end=start.date(),
                              now=start + timedelta(days=1))
    o = data.overall
    assert (o.opened, o.resolved, o.first_response_compliance, o.resolution_compliance) == (2, 2, 50.0, 50.0)
    assert (o.first_response_median, o.resolution_median, o.rating_average) == (30.0, 120.0, 3.5)
    assert [(g.label, g.opened) for g in data.by_agent] == [("Alice Agent", 2)]
    assert {g.label: g.first_response_compliance for g in data.by_priority} == {"Urgent": 0.0, "Medium": 100.0}
    assert data.per_day == [(start.date(), 2, 2)] and data.rating_counts == {5: 1, 4: 0, 3: 0, 2: 1, 1: 0}

    page = login(people["manager"]).get("/tickets/reports?start=2026-11-02&end=2026-11-02")
    body = text(page)
    assert page.status_code == 200 and "<svg" in body and "2026-11-02: 2 opened" in body
    assert 'data-testid="first-compliance">50.0 %' in body and "dataset=ticket_report" in body
    assert login(people["customer"]).get("/tickets/reports").status_code == 403

    from app.exports.datasets import get_dataset
    rows = db.session.execute(get_dataset("ticket_report").build(people["agent"]).order_by(sa.text("number"))).all()
    assert [(r.number, r.first_response_minutes, r.resolution_minutes, r.first_response_on_time, r.rating)
            for r in rows] == [(1, 30.0, 120.0, "yes", 5), (2, 30.0, 120.0, "no", 2)]
    from app.exports import services as export_services
    preview = export_services.export_preview(user=people["agent"], dataset="ticket_report",
                                             fields=["number", "resolution_on_time", "rating"],
                                             date_from=start.date(), date_to=start.date())
    assert preview["count"] == 2 and preview["rows"] == [(1, "yes", 5), (2, "no", 2)]

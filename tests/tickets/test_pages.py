"""The agent list (filters, sort, the user's page size, search fragment) and the knowledge base."""
import re

from app.extensions import db
from app.tickets import services
from app.tickets.models import KnowledgeArticle, Ticket
from tests.helpers import reload
from tests.tickets.conftest import text

HX = {"HX-Request": "true", "HX-Target": "ticket-results"}


def test_filters_and_sorting(people, login, make_ticket, app):
    low = make_ticket(people["customer"], subject="Low one", priority="low")
    urgent = make_ticket(people["customer2"], subject="Urgent one", priority="urgent")
    make_ticket(people["customer"], subject="Pending one")
    pending = db.session.scalars(db.select(Ticket).where(Ticket.subject == "Pending one")).one()
    services.ticket_change_status(ticket=pending, actor=people["agent"], status="pending")
    services.ticket_set_tags(ticket=reload(Ticket, low.id), actor=people["agent"], text="billing")
    with app.test_request_context():
        services.ticket_assign(ticket=reload(Ticket, urgent.id), actor=people["agent"], agent=people["agent"])
    agent = login(people["agent"])

    def subjects(query):
        html = text(agent.get("/tickets/?" + query, headers=HX))
        return [s for s in ("Low one", "Urgent one", "Pending one") if s in html]

    assert subjects("status=pending") == ["Pending one"]
    assert subjects("priority=urgent") == ["Urgent one"]
    assert subjects("assignee=me") == ["Urgent one"]
    assert subjects("assignee=none") == ["Low one", "Pending one"]
    assert subjects(f"customer={people['customer2'].id}") == ["Urgent one"]
    assert subjects("tag=billing") == ["Low one"]
    assert subjects("q=%23" + str(low.ticket_number)) == ["Low one"]
    html = text(agent.get("/tickets/?sort=-priority", headers=HX))
    assert html.index("Urgent one") < html.index("Low one")
    html = text(agent.get("/tickets/?sort=number", headers=HX))
    assert html.index("Low one") < html.index("Urgent one")


def test_pagination_uses_the_users_page_size_and_goes_deep(people, login, make_ticket):
    people["agent"].preferences.default_page_size = 5
    db.session.commit()
    for i in range(12):
        make_ticket(people["customer"], subject=f"Bulk {i:02d}")
    agent = login(people["agent"])
    first = text(agent.get("/tickets/"))
    assert "Bulk 11" in first and "Bulk 06" not in first and "1–5 of 12" in first
    last = text(agent.get("/tickets/?page=3"))
    assert "Bulk 00" in last and "Bulk 01" in last and "Page 3 of 3" in last


def test_search_fragment_has_no_page_chrome_and_an_empty_state(people, login, make_ticket):
    make_ticket(people["customer"], subject="Wifi drops")
    agent = login(people["agent"])
    fragment = text(agent.get("/tickets/?q=nothing-like-this", headers=HX))
    assert fragment.lstrip().startswith('<div id="ticket-results">') and "No tickets match" in fragment
    assert "%" not in services.like_pattern("50%")[1:-1].replace("\\%", "")


def test_customer_sees_only_their_own_list_and_empty_state(people, login, make_ticket):
    make_ticket(people["customer"], subject="Mine")
    make_ticket(people["customer2"], subject="Theirs")
    html = text(login(people["customer"]).get("/tickets/"))
    assert "Mine" in html and "Theirs" not in html and "My tickets" in html
    assert "No tickets yet" in text(login(people["outsider_customer"]).get("/tickets/"))


def test_knowledge_base_agents_write_customers_search(people, login):
    agent = login(people["agent"])
    response = agent.form_post("/tickets/kb/new", {"title": "Reset your password", "content": "Use the link.",
                                                   "is_published": "y"}, page="/tickets/kb/new")
    assert response.status_code == 302
    agent.form_post("/tickets/kb/new", {"title": "Draft secret", "content": "not yet"}, page="/tickets/kb/new")
    bad = agent.form_post("/tickets/kb/new", {"title": "", "content": ""}, page="/tickets/kb/new")
    assert bad.status_code == 422 and "Title is required." in text(bad)
    customer = login(people["customer"])
    found = text(customer.get("/tickets/kb?q=password", headers={"HX-Request": "true", "HX-Target": "kb-results"}))
    assert "Reset your password" in found and "<html" not in found
    assert "Draft secret" not in text(customer.get("/tickets/kb"))
    draft = db.session.scalars(db.select(KnowledgeArticle).where(KnowledgeArticle.title == "Draft secret")).one()
    assert customer.get(f"/tickets/kb/{draft.id}").status_code == 404
    assert "Draft secret" in text(agent.get("/tickets/kb"))
    assert login(people["outsider"]).get(f"/tickets/kb/{draft.id}").status_code == 404
    assert agent.form_post(f"/tickets/kb/{draft.id}/delete", page="/tickets/kb").status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(KnowledgeArticle)) == 1


def test_pages_render_for_each_role(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    for role, urls in (("manager", ["/tickets/", "/tickets/new", f"/tickets/{ticket.id}", "/tickets/trash",
                                    "/tickets/sla", "/tickets/kb", "/tickets/kb/new"]),
                       ("customer", ["/tickets/", "/tickets/new", f"/tickets/{ticket.id}", "/tickets/kb"])):
        client = login(people[role])
        for url in urls:
            assert client.get(url).status_code == 200, (role, url)


def test_new_ticket_shows_every_refused_field_at_once(people, login):
    """An agent who leaves the customer empty and types a too-long subject hears of both on the first answer."""
    agent = login(people["agent"])
    response = agent.form_post("/tickets/new", {"customer": "", "subject": "x" * 300, "priority": "medium"},
                               page="/tickets/new")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the customer&#39;s email." in html or "Enter the customer's email." in html
    assert "at most 200 characters" in html
    assert db.session.scalar(db.select(db.func.count()).select_from(Ticket)) == 0


def test_page_past_the_end_says_so_and_links_back(people, login, make_ticket):
    """/tickets/?page=99 with one ticket: not "No tickets yet", but where the list ends and a way back."""
    make_ticket(people["customer"])
    agent = login(people["agent"])
    html = agent.get("/tickets/?page=99&status=active").get_data(as_text=True)
    assert "No tickets yet" not in html
    assert "Page 99 is past the end: 1 in all." in html
    assert re.search(r'href="/tickets/\?[^"]*page=1[^"]*"[^>]*>Go to page 1<', html), html
    assert "status=active" in re.search(r'href="([^"]*)"[^>]*>Go to page 1<', html).group(1)

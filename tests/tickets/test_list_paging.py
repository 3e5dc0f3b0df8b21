"""The list at depth: deferred-join pages, searches that count up to a limit, comment matches, the customer box."""
import pytest

from app.extensions import db
from app.tickets import listing, services
from app.tickets.models import Ticket
from tests.helpers import reload
from tests.tickets.conftest import text

HX = {"HX-Request": "true", "HX-Target": "ticket-results"}


def _numbers(html: str, tickets: list[Ticket]) -> list[int]:
    """The ticket numbers shown, in page order."""
    shown = [(html.index(f">{t.subject}<"), t.ticket_number) for t in tickets if f">{t.subject}<" in html]
    return [number for _, number in sorted(shown)]


@pytest.mark.parametrize("sort", ["-number", "number", "-priority", "due", "-updated"])
def test_every_page_of_every_sort_matches_a_plain_offset(people, login, make_ticket, sort):
    people["agent"].preferences.default_page_size = 5
    db.session.commit()
    priorities = ["low", "urgent", "medium", "high"]
    tickets = [make_ticket(people["customer" if i % 3 else "customer2"], subject=f"Case {i:02d}",
                           priority=priorities[i % 4]) for i in range(13)]
    services.ticket_delete(ticket=reload(Ticket, tickets[5].id), actor=people["agent"], reason="spam")
    live = [reload(Ticket, t.id) for t in tickets if t.id != tickets[5].id]
    plain = listing.ticket_list_query(user=people["agent"], filters=listing.TicketFilters(sort=sort))
    expected = [t.ticket_number for t in db.session.scalars(plain)]
    assert len(expected) == 12
    agent = login(people["agent"])
    shown = []
    for page in (1, 2, 3):
        html = text(agent.get(f"/tickets/?sort={sort}&page={page}", headers=HX))
        shown += _numbers(html, live)
    assert shown == expected  # the deferred join keeps order, drops the deleted ticket, repeats nothing


# 2000 newest tickets probed: the word is common among them and the ids are never read. 4: the probe
# sees too few tickets to decide, so the first SEARCH_COUNT_LIMIT + 1 matching ids are read.
@pytest.mark.parametrize("probe_rows", [2000, 4])
def test_a_search_past_the_count_limit_says_so_and_still_pages_on(people, login, make_ticket, monkeypatch,
                                                                  probe_rows):
    monkeypatch.setattr(listing, "SEARCH_COUNT_LIMIT", 6)
    monkeypatch.setattr(listing, "COMMON_PROBE_ROWS", probe_rows)
    people["agent"].preferences.default_page_size = 5
    db.session.commit()
    tickets = [make_ticket(people["customer"], subject=f"Printer {i:02d}") for i in range(14)]
    make_ticket(people["customer"], subject="Scanner jam")
    agent = login(people["agent"])
    first = text(agent.get("/tickets/?q=printer"))
    assert "1–5 of 6+" in first and "Page 1<" in first and "Next" in first and "Scanner jam" not in first
    deep = text(agent.get("/tickets/?q=printer&page=3"))  # past the limit: counted exactly up to the page
    assert "11–14 of 14" in deep and "Next" not in deep
    assert _numbers(deep, tickets) == [4, 3, 2, 1]
    few = text(agent.get("/tickets/?q=scanner"))
    assert "Scanner jam" in few and "1 in all" in few


def test_comment_matches_work_inline_and_as_a_subquery(people, login, make_ticket, monkeypatch):
    quiet = make_ticket(people["customer"], subject="Quiet one")
    other = make_ticket(people["customer"], subject="Other one")
    services.comment_add(ticket=reload(Ticket, quiet.id), author=people["agent"], content="Replaced the toner drum.")
    services.comment_add(ticket=reload(Ticket, other.id), author=people["agent"], content="Toner drum ordered.",
                         internal=True)
    agent = login(people["agent"])
    customer = login(people["customer"])
    for limit in (2000, 0):  # ids passed inline, then too many: the comments subquery
        monkeypatch.setattr(listing, "COMMENT_MATCHES_INLINE_LIMIT", limit)
        staff_view = text(agent.get("/tickets/?q=toner+drum", headers=HX))
        assert "Quiet one" in staff_view and "Other one" in staff_view
        customer_view = text(customer.get("/tickets/?q=toner+drum", headers=HX))
        assert "Quiet one" in customer_view and "Other one" not in customer_view  # internal notes don't match


def test_customer_box_filters_by_name_or_email_and_shows_a_linked_customer(people, login, make_ticket):
    make_ticket(people["customer"], subject="From the first")
    make_ticket(people["customer2"], subject="From the second")
    agent = login(people["agent"])
    by_email = text(agent.get("/tickets/?customer=" + people["customer2"].email.split("@")[0], headers=HX))
    assert "From the second" in by_email and "From the first" not in by_email
    page = text(agent.get(f"/tickets/?customer={people['customer2'].id}"))
    assert f'name="customer" value="{people["customer2"].email}"' in page and "From the first" not in page
    assert "No tickets match" in text(agent.get("/tickets/?customer=nobody-like-this", headers=HX))


def test_the_common_word_probe_counts_only_tickets_the_filters_leave(people, login, make_ticket, monkeypatch):
    monkeypatch.setattr(listing, "SEARCH_COUNT_LIMIT", 3)
    for i in range(5):
        ticket = make_ticket(people["customer"], subject=f"Printer closed {i}")
        services.ticket_delete(ticket=reload(Ticket, ticket.id), actor=people["agent"], reason="duplicate")
    make_ticket(people["customer"], subject="Printer live", priority="high")
    make_ticket(people["customer"], subject="Printer low", priority="low")
    agent = login(people["agent"])
    html = text(agent.get("/tickets/?q=printer", headers=HX))
    # Five trashed matches among the newest don't make the word common: the count stays exact.
    assert "Printer live" in html and "Printer low" in html and "Printer closed" not in html
    assert "2 in all" in html and "+" not in html.split("in all")[0][-20:]
    high = text(agent.get("/tickets/?q=printer&priority=high", headers=HX))
    assert "Printer live" in high and "Printer low" not in high and "1 in all" in high

"""A create form whose POST reaches the server twice (a double click, a proxy or browser retrying a
request whose answer was lost) makes one record; the browser is shown that record.

Playwright sends the form's request once more before letting the browser's own go through, which is
exactly what the server sees in those cases: the same body twice."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture()
def customer(app):
    from tests.factories import make_member, make_organization

    with app.app_context():
        make_member(make_organization("Helpco"), "customer", "carol@helpco.example.com", full_name="Carol Customer")
    return "carol@helpco.example.com"


def test_an_open_ticket_form_sent_twice_opens_one_ticket(app, page, customer):
    from app.extensions import db
    from app.tickets.models import Ticket

    page.goto("/signin")
    page.fill("input[name=email]", customer)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(lambda url: "/signin" not in url)  # a customer lands on the helpdesk, staff on the dashboard
    page.goto("/tickets/new")
    page.fill("input[name=subject]", "Printer is on fire")
    page.fill("textarea[name=description]", "Smoke everywhere.")

    def send_twice(route):
        if route.request.method == "POST":
            route.fetch(max_redirects=0)  # the first copy: its answer is lost
        route.continue_()

    page.route("**/tickets/new", send_twice)
    page.get_by_role("button", name="Open ticket").click()
    page.wait_for_url(re.compile(r"/tickets/\d+$"))
    page.wait_for_load_state("networkidle")

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1
    assert page.get_by_role("heading", name="Printer is on fire").is_visible()
    assert page.get_by_text("This form was already sent").is_visible()

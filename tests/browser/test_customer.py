"""The customer's Cairn: the helpdesk, the knowledge base and their own preferences; the rest is closed."""
from __future__ import annotations

import pytest

from tests.browser.flows import open_user_menu_item
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture()
def customer_email(app):
    from tests.factories import make_member, make_organization

    with app.app_context():
        org = make_organization("Shopco")
        make_member(org, "customer", "carol@shopco.example.com", full_name="Carol Customer")
    return "carol@shopco.example.com"


def test_customer_navigation_is_the_helpdesk(page, customer_email):
    page.goto("/signin")
    page.fill("input[name=email]", customer_email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/tickets/")

    nav = page.locator("#mainnav")
    links = [t.strip() for t in nav.get_by_role("link").all_inner_texts()]
    assert links == ["Support", "Knowledge base"], links
    assert page.locator("#ws-select").count() == 0  # no workspace switcher either

    nav.get_by_role("link", name="Knowledge base").click()
    page.wait_for_url("**/tickets/kb**")
    open_user_menu_item(page, "Preferences")
    page.wait_for_url("**/preferences")

    for path in ("/projects/", "/exports/time", "/jobs", "/workspaces"):
        response = page.goto(path)
        assert response.status == 403, path

"""What a person does in the browser, step by step (the browser twin of tests/helpers.py)."""
from __future__ import annotations

import uuid

from tests.factories import PASSWORD


def sign_up(page, *, organization: str = "Globex", name: str = "Grace Hopper", email: str | None = None) -> str:
    """Create an organization through the real sign-up form; returns the new admin's email."""
    email = email or f"grace-{uuid.uuid4().hex[:8]}@globex.example.com"
    page.goto("/")
    page.get_by_role("link", name="Create an organization").first.click()
    page.fill("input[name=organization_name]", organization)
    page.fill("input[name=full_name]", name)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/dashboard")
    return email


def open_user_menu_item(page, name: str) -> None:
    """Open the user menu in the top bar and follow one of its links."""
    page.locator("details.usermenu > summary").click()
    page.locator("details.usermenu").get_by_role("link", name=name).click()


def mark_page(page) -> None:
    """Put a marker on the window: it survives htmx swaps and dies with a page load."""
    page.evaluate("window.__cairnMarker = 'still-here'")


def page_was_not_reloaded(page) -> bool:
    return page.evaluate("window.__cairnMarker") == "still-here"

"""On a phone in dark mode, a user creates a read-only API token that expires, sees it once, and finds it
listed with its access, expiry and last use; changing the password (box ticked) revokes it."""
from __future__ import annotations

import os

import pytest

from tests.browser.conftest import PHONE
from tests.browser.flows import open_user_menu_item, sign_up
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("CAIRN_SCREENSHOTS", "")


def test_create_a_scoped_expiring_token_then_revoke_it_by_changing_the_password(browser_context, console):
    page = browser_context(viewport=PHONE, color_scheme="dark").new_page()
    console.watch(page)
    sign_up(page, organization="Initech", name="Peter Gibbons")
    open_user_menu_item(page, "Preferences")
    page.wait_for_url("**/preferences")
    page.select_option("select[name=ui_theme]", "dark")
    page.get_by_role("button", name="Save preferences").click()
    page.wait_for_url("**/preferences")
    tokens = page.locator("#api-tokens")
    assert tokens.get_by_text("No tokens yet.").is_visible()
    assert tokens.locator("input[name=scopes][value=read]").is_checked()
    assert not tokens.locator("input[name=scopes][value=write]").is_checked()
    tokens.locator("input[name=name]").fill("nightly report")
    tokens.locator("select[name=lifetime_days]").select_option("30")
    tokens.get_by_role("button", name="Create token").click()
    token = page.locator("#api-token-value").inner_text()
    assert token.startswith("cairn_") and "Access: read; expires" in page.locator("main").inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/token-created.png", full_page=True)
    page.get_by_role("link", name="Back to preferences").click()
    row = page.locator("#api-tokens tbody tr")
    assert "nightly report" in row.inner_text() and "read" in row.inner_text() and "never" in row.inner_text()

    assert page.locator("input[name=revoke_tokens]").is_checked()
    page.fill("input[name=current_password]", PASSWORD)
    page.fill("input[name=new_password]", "a-brand-new-passphrase")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/preferences")
    assert "1 API token revoked" in page.locator("body").inner_text()
    assert "revoked" in page.locator("#api-tokens tbody tr").inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/tokens-page.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scroll

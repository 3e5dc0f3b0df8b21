"""Delete acts at once and the flash offers Undo; a hard delete asks first, naming what will be lost."""
from __future__ import annotations

import pytest

from tests.browser.flows import sign_up

pytestmark = pytest.mark.browser


def test_delete_then_undo_from_the_flash(page):
    sign_up(page, organization="Undoco")
    page.goto("/workspaces")
    page.fill("input[name=name]", "Scratch")
    page.get_by_role("button", name="Create workspace").click()
    page.get_by_role("link", name="Edit Scratch").click()
    page.get_by_role("button", name="Move to trash").click()  # no question: it can be undone
    page.wait_for_url("**/workspaces")
    flash = page.locator(".flash-undo")
    assert "Workspace Scratch moved to the trash." in flash.inner_text()
    assert page.locator("main table tr", has_text="Scratch").count() == 0

    flash.get_by_role("button", name="Undo").click()
    page.wait_for_url("**/workspaces")
    assert page.get_by_text("Undone: it is back.").is_visible()
    assert page.locator("main table tr", has_text="Scratch").is_visible()


def test_a_hard_delete_asks_first_with_and_without_javascript(browser_context, console):
    for javascript in (True, False):
        page = browser_context(java_script_enabled=javascript).new_page()
        console.watch(page)
        sign_up(page, organization=f"Askco {javascript}")
        page.goto("/preferences")
        page.fill("#api-tokens input[name=name]", "deploy script")
        page.get_by_role("button", name="Create token").click()
        page.goto("/preferences")
        confirm = page.locator("#api-tokens details.confirm")
        assert not confirm.get_by_role("button", name="Revoke deploy script").is_visible()
        confirm.locator("summary").focus()
        page.keyboard.press("Enter")  # opens by keyboard
        assert "Scripts using the token deploy script" in confirm.inner_text()
        confirm.get_by_role("button", name="Revoke deploy script").click()
        page.wait_for_url("**/preferences#api-tokens")
        assert page.get_by_text("Token deploy script revoked.").is_visible()

"""The rules pages this work added, in a real browser, on a phone in dark mode: the catalogue (search, add), one name
now (HTMX result, Copy to the clipboard) and the stale names page (empty state). No console errors or CSP
violations (the fixtures fail the test on any), nothing wider than the screen, no light boxes in dark mode.

Set CAIRN_SCREENSHOTS=/some/dir to save a PNG of each view for a person to look at."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.flows import mark_page, page_was_not_reloaded, sign_up

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("CAIRN_SCREENSHOTS", "")


def _dark(app, email: str) -> int:
    import sqlalchemy as sa

    from app.accounts.models import User, Workspace
    from app.extensions import db
    from tests.rules.conftest import build_naming

    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        user.preferences.ui_theme = "dark"
        workspace = db.session.scalars(sa.select(Workspace).where(Workspace.organization_id == user.organization_id)).first()
        rule_id = build_naming(workspace).rule.id
        db.session.commit()
        db.session.remove()
    return rule_id


def _look(page, name: str) -> list[str]:
    problems = []
    if page.evaluate("document.documentElement.scrollWidth - window.innerWidth") > 0:
        problems.append(f"{name}: wider than the screen")
    light = page.evaluate("""() => [...document.querySelectorAll('main *, header *')]
        .filter(e => e.offsetParent !== null)
        .filter(e => { const c = getComputedStyle(e).backgroundColor.match(/\\d+/g);
                       return c && (c.length < 4 || +c[3] !== 0) && (+c[0] + +c[1] + +c[2]) > 600; })
        .slice(0, 3).map(e => e.tagName + '.' + e.className)""")
    if light:
        problems.append(f"{name}: light boxes in dark mode: {light}")
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"rules-{name}.png"), full_page=True)
    return problems


def test_catalogue_one_name_now_and_stale_names_on_a_phone_in_dark_mode(app, browser_context, console):
    context = browser_context(viewport=PHONE, color_scheme="dark", permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    console.watch(page)
    email = sign_up(page, organization="Umbrella")
    rule_id = _dark(app, email)
    problems: list[str] = []

    page.goto("/rules/platforms")
    page.get_by_role("link", name="Add from the catalogue").click()
    page.wait_for_url("**/rules/platforms/catalogue")
    mark_page(page)
    page.fill("input[name=q]", "storage account")
    row = page.locator("#catalogue-results tbody tr").first
    expect(row).to_contain_text("Azure Storage/storageAccounts (st)")
    assert page_was_not_reloaded(page)  # the search narrowed the list in place
    problems += _look(page, "catalogue")
    row.get_by_role("button", name="Add").click()
    page.wait_for_url("**/rules/platforms")
    expect(page.locator(".flash, [role=status], .alert").first).to_contain_text("added from the catalogue")
    problems += _look(page, "platforms")

    page.goto(f"/rules/{rule_id}")
    form = page.locator("#name-now form")
    form.locator("select[name=now_environment]").select_option("prod")
    form.locator("select[name=now_project]").select_option("web")
    form.locator("select[name=now_region]").select_option("weu")
    mark_page(page)
    form.get_by_role("button", name="Get the name").click()
    result = page.locator("#name-now-result code")
    expect(result).to_have_text("prod-web-weu-001")
    assert page_was_not_reloaded(page)
    page.locator("#name-now-result").get_by_role("button", name="Copy").click()
    expect(page.locator("#name-now-result").get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "prod-web-weu-001"
    problems += _look(page, "rule-name-now")

    page.goto("/rules/names/stale")
    expect(page.locator("main")).to_contain_text("No stale names")
    problems += _look(page, "stale-empty")
    assert problems == []

"""Rules in a real browser: the preview follows typing; a generation's panel completes and its names appear in place."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.flows import mark_page, page_was_not_reloaded, sign_up

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 45_000


def _naming_for(app, email: str) -> int:
    import sqlalchemy as sa

    from app.accounts.models import User, Workspace
    from app.extensions import db
    from tests.rules.conftest import build_naming

    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        workspace = db.session.scalars(sa.select(Workspace).where(Workspace.organization_id == user.organization_id)).first()
        rule_id = build_naming(workspace).rule.id
        db.session.remove()
    return rule_id


def test_preview_follows_typing_and_generation_panel_completes(page, app, jobs):
    email = sign_up(page, organization="Initech")
    rule_id = _naming_for(app, email)

    page.get_by_role("link", name="Naming rules").click()
    page.get_by_role("link", name="Resource groups").click()
    page.wait_for_url(f"**/rules/{rule_id}")
    mark_page(page)
    preview = page.locator("#live-preview [data-testid=preview-value]")
    page.fill("#f-name", "storage")
    page.fill("#f-pattern", "{environment}-{project}-{seq:2}")
    expect(preview).to_have_text("dev-web-01")
    page.select_option("#s-environment", "prod")
    expect(preview).to_have_text("prod-web-01")
    page.type("#f-pattern", "-{region}")  # typing, key by key
    expect(preview).to_have_text("prod-web-01-weu")
    assert preview.inner_text() == "prod-web-01-weu"
    page.fill("#f-pattern", "{nowhere}")
    page.locator("#live-preview", has_text="Unknown dimension(s): nowhere").wait_for()
    assert page_was_not_reloaded(page)

    page.goto(f"/rules/generations/new?rule={rule_id}")
    for value in ("dev", "prod"):
        page.check(f"input[name=dim_environment][value={value}]")
    page.check("input[name=dim_project][value=web]")
    page.check("input[name=dim_region][value=weu]")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/rules/generations/*")
    panel = page.locator(".job-panel")
    panel.and_(page.locator("[data-status=queued]")).wait_for()
    assert "Queued" in panel.locator(".status-pill").inner_text()
    mark_page(page)
    jobs.start()
    page.locator(".job-panel[data-status=succeeded]").wait_for(timeout=JOB_TIMEOUT_MS)
    assert page_was_not_reloaded(page)
    assert "Succeeded" in panel.locator(".status-pill").inner_text()
    assert "2 name(s) generated" in panel.inner_text()
    # The names list below the panel fills itself in once the panel says succeeded: no reload.
    names = page.locator("#generation-names")
    expect(names.locator("tbody tr")).to_have_count(2, timeout=10_000)
    expect(names).to_contain_text("dev-web-weu-001")
    expect(names).to_contain_text("prod-web-weu-001")
    assert page_was_not_reloaded(page)


def _seed_name(app, email: str, value: str) -> None:
    import sqlalchemy as sa

    from app.accounts.models import User
    from app.extensions import db
    from app.rules import services
    from app.rules.models import Rule

    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        rule = db.session.scalars(sa.select(Rule).where(Rule.organization_id == user.organization_id)).one()
        owner = type("G", (), {"organization_id": rule.organization_id, "workspace_id": rule.workspace_id,
                               "rule_id": rule.id, "id": None, "submission_id": None, "requested_by_id": None})
        services._insert_names([services._name_row(owner, rule.fields[0], value, {}, services.utcnow())])
        db.session.commit()
        db.session.remove()


def test_conflict_check_findings_appear_when_its_panel_completes(page, app, jobs):
    email = sign_up(page, organization="Hooli")
    _naming_for(app, email)
    _seed_name(app, email, "dev-web-weu-001")

    page.goto("/rules/conflicts")
    page.fill("#f-proposed_strings", "dev-web-weu-001\nDEV_web_weu_001\nfresh-one")
    page.get_by_role("button", name="Check").click()
    page.wait_for_url("**/rules/conflicts/*")
    findings = page.locator("#conflict-findings")
    expect(findings).to_contain_text("The findings appear here when the check completes")
    mark_page(page)
    jobs.start()
    page.locator(".job-panel[data-status=succeeded]").wait_for(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("[data-testid=conflict-summary]")).to_contain_text("Checked 3 name(s): 2 finding(s)")
    # The findings table below the panel fills itself in once the panel says succeeded: no reload.
    expect(findings.locator("tbody tr")).to_have_count(2, timeout=10_000)
    expect(findings).to_contain_text("'dev-web-weu-001' is already an active name.")
    expect(findings).to_contain_text("Same as 'dev-web-weu-001' once case and delimiters are ignored.")
    expect(findings).to_contain_text("fresh-one")  # listed under "No findings"
    assert page_was_not_reloaded(page)


def test_generate_form_groups_share_one_frame(page, app):
    """Fields, each dimension and Options are framed alike (the first and last had the browser's grey groove)."""
    email = sign_up(page, organization="Framers")
    rule_id = _naming_for(app, email)
    page.goto(f"/rules/generations/new?rule={rule_id}")
    borders = page.eval_on_selector_all(
        "form fieldset", "els => els.map(e => { const s = getComputedStyle(e); "
        "return [e.querySelector('legend').textContent, [s.borderTopStyle, s.borderTopWidth, s.borderTopColor].join(' ')]; })")
    assert len(borders) >= 3
    assert len({frame for _legend, frame in borders}) == 1, borders

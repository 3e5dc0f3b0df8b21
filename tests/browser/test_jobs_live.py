"""Background work started from the UI: the status panel goes queued -> done without a page load.

The `jobs` fixture holds every worker until the test has seen the queued panel,
so both states are observed on every backend (embedded thread, real RQ worker).
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.flows import mark_page, page_was_not_reloaded, sign_up

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 45_000  # a real worker process needs a few seconds to start


def _expired_workspace_in_trash(app, admin_email: str, name: str = "Old archive") -> None:
    """A workspace deleted long ago: past its removal date, so the purge removes it."""
    import sqlalchemy as sa

    from app.accounts.models import User, Workspace
    from app.platform.slugs import slugify
    from app.extensions import db
    from app.platform.models import utcnow

    with app.app_context():
        admin = db.session.scalars(sa.select(User).where(User.email == admin_email)).one()
        workspace = Workspace(organization_id=admin.organization_id, name=name, slug=slugify(name))
        db.session.add(workspace)
        db.session.flush()
        workspace.soft_delete(user=admin, reason="old", auto_delete_at=utcnow() - timedelta(days=1))
        db.session.commit()
        db.session.remove()


def test_trash_purge_panel_goes_from_queued_to_done_in_place(page, app, jobs):
    email = sign_up(page, organization="Umbrella")
    _expired_workspace_in_trash(app, email)

    page.locator("#mainnav summary", has_text="Admin").click()  # the admin pages' menu
    page.get_by_role("link", name="Trash").click()
    page.wait_for_url("**/trash")
    assert page.get_by_role("cell", name="Old archive", exact=True).is_visible()
    url = page.url
    mark_page(page)

    page.locator("details.confirm > summary", has_text="Purge expired items").click()  # it asks first
    assert page.get_by_text("This can't be undone.").is_visible()
    page.get_by_role("button", name="Yes, purge expired items").click()
    panel = page.locator("#purge-status .job-panel")
    panel.and_(page.locator("[data-status=queued]")).wait_for()
    assert "Queued" in panel.locator(".status-pill").inner_text()

    jobs.start()
    page.locator("#purge-status .job-panel[data-status=succeeded]").wait_for(timeout=JOB_TIMEOUT_MS)

    assert page_was_not_reloaded(page), "the page was reloaded instead of updated in place"
    assert page.url == url
    assert "Succeeded" in panel.locator(".status-pill").inner_text()
    assert "Permanently removed 1 item(s)" in panel.inner_text()
    # The terminal panel has no trigger left: polling has stopped.
    assert panel.get_attribute("hx-trigger") is None


def test_usage_trim_panel_on_jobs_page_updates_without_reload(page, jobs):
    sign_up(page, organization="Hooli")
    page.locator("#mainnav summary", has_text="Admin").click()  # the admin pages' menu
    page.get_by_role("link", name="Usage").click()
    page.wait_for_url("**/usage")
    page.get_by_role("button", name="Trim usage log now").click()

    page.wait_for_url("**/jobs**")
    panel = page.locator(".job-panel", has_text="Trim the usage log")
    panel.and_(page.locator("[data-status=queued]")).wait_for()
    mark_page(page)

    jobs.start()
    panel.and_(page.locator("[data-status=succeeded]")).wait_for(timeout=JOB_TIMEOUT_MS)
    assert page_was_not_reloaded(page), "the page was reloaded instead of updated in place"
    assert "Deleted 0 usage rows" in panel.inner_text()

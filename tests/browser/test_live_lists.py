"""Lists that show a job's status keep up without a reload: the exports list row and its download counter,
the dashboard's count of running jobs; one word for one status everywhere."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.flows import mark_page, page_was_not_reloaded, sign_up

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 60_000


def _entries_for(app, email: str, count: int) -> None:
    import sqlalchemy as sa

    from app.accounts.models import User
    from app.extensions import db
    from tests.exports.conftest import add_entries

    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        add_entries(user, count, project="Apollo")
        db.session.remove()


def test_exports_list_row_turns_succeeded_without_reload(page, app, jobs):
    email = sign_up(page, organization="Listco")
    _entries_for(app, email, 20)
    page.goto("/exports/new")
    page.fill("input[name=title]", "Live list")
    page.get_by_role("button", name="Export", exact=True).click()
    page.wait_for_url("**/exports/requests/*")
    detail_url = page.url

    page.goto("/exports/")
    row = page.locator("#export-rows tr", has_text="Live list")
    assert row.locator(".status-pill").inner_text() == "Queued"
    page.goto("/dashboard")
    assert "1 job queued or running." in page.locator("#active-jobs").inner_text()
    page.goto("/exports/")
    mark_page(page)

    jobs.start()
    row.locator(".status-pill", has_text="Succeeded").wait_for(timeout=JOB_TIMEOUT_MS)
    assert page_was_not_reloaded(page)
    assert page.locator("#export-rows").get_attribute("hx-trigger") is None  # polling stopped

    page.goto("/dashboard")  # the dashboard's count caught up as well
    page.locator("#active-jobs", has_text="Nothing queued or running.").wait_for()

    # The download counter on the export's page follows the Download button without a reload.
    page.goto(detail_url)
    assert page.locator("#download-count").inner_text() == "0"
    mark_page(page)
    with page.expect_download():
        page.get_by_role("button", name="Download CSV").click()
    page.locator("#download-count", has_text="1").wait_for()
    assert page_was_not_reloaded(page)


def test_jobs_page_is_paginated_and_filtered_by_kind_and_status(page, app):
    import sqlalchemy as sa

    from app.accounts.models import User
    from app.extensions import db
    from app.platform.jobs import BackgroundTask

    email = sign_up(page, organization="Manyjobs")
    with app.app_context():
        admin = db.session.scalars(sa.select(User).where(User.email == email)).one()
        for n in range(25):
            db.session.add(BackgroundTask(organization_id=admin.organization_id, kind="purge_trash",
                                          title=f"Purge {n}", status="succeeded" if n % 2 else "failed",
                                          requested_by_id=admin.id, rq_job_id=f"t-{n}"))
        db.session.commit()
        db.session.remove()
    page.goto("/jobs")
    assert page.locator(".job-panel").count() == 20
    # A click starts the navigation without waiting for the new page: wait for it before counting.
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**/jobs?*page=2*")
    expect(page.locator(".job-panel")).to_have_count(5)
    page.goto("/jobs")
    page.select_option("select[name=kind]", "purge_trash")
    page.select_option("select[name=status]", "succeeded")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/jobs?*status=succeeded*", wait_until="load")
    expect(page.locator(".job-panel")).to_have_count(12)
    assert set(page.locator(".job-panel .status-pill").all_inner_texts()) == {"Succeeded"}

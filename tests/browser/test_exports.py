"""Exports in a real browser: add time, preview, export a CSV, watch the progress bar move, download it."""
from __future__ import annotations

import csv
import io
import time

import pytest

from tests.browser.flows import mark_page, page_was_not_reloaded, sign_up

pytestmark = pytest.mark.browser

JOB_TIMEOUT_MS = 180_000  # generous: a busy CI machine makes 2,000 progress commits slow
ROWS = 40_000


def _entries_for(app, email: str, count: int) -> None:
    import sqlalchemy as sa

    from app.accounts.models import User
    from app.extensions import db
    from tests.exports.conftest import add_entries

    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        add_entries(user, count, project="Apollo")
        db.session.remove()


def test_timesheet_add_entry_in_place(page):
    sign_up(page, organization="Timely")
    page.get_by_role("link", name="Time & exports").click()
    page.wait_for_url("**/exports/time")
    mark_page(page)
    page.fill("input[name=project]", "Website")
    page.fill("input[name=duration]", "soon")
    page.get_by_role("button", name="Add entry").click()
    page.get_by_text("Enter a duration like 1:30").wait_for()
    page.fill("input[name=duration]", "1:15")
    page.get_by_role("button", name="Add entry").click()
    page.get_by_role("cell", name="Website").wait_for()
    assert page.get_by_role("cell", name="1:15").is_visible()
    assert page_was_not_reloaded(page)


def test_preview_export_and_download_csv_while_progress_moves(page, app, jobs, monkeypatch):
    email = sign_up(page, organization="Exporters")
    _entries_for(app, email, ROWS)
    # 100 paced batches, each one reported: the export takes about 5 s however fast the machine,
    # so the panel (polling every second) sees the bar at several values.
    monkeypatch.setitem(app.config, "EXPORTS_BATCH_SIZE", 400)
    monkeypatch.setitem(app.config, "EXPORTS_BATCH_PAUSE_SECONDS", 0.05)
    monkeypatch.setitem(app.config, "EXPORTS_REPORT_EVERY_BATCH", True)
    monkeypatch.setitem(app.config, "EXPORTS_CSV_COPY", False)  # PostgreSQL's COPY path would finish at once
    monkeypatch.setenv("EXPORTS_CSV_COPY", "0")
    monkeypatch.setenv("EXPORTS_BATCH_SIZE", "400")  # a worker process reads its environment
    monkeypatch.setenv("EXPORTS_BATCH_PAUSE_SECONDS", "0.05")
    monkeypatch.setenv("EXPORTS_REPORT_EVERY_BATCH", "1")

    page.goto("/exports/")
    page.get_by_role("link", name="New export").first.click()
    page.fill("input[name=title]", "Apollo hours")
    page.get_by_role("button", name="Preview").click()
    page.locator(".preview-count").wait_for()
    assert page.locator(".preview-count").inner_text() == f"{ROWS:,}"
    assert page.locator("#preview tbody tr").count() == 10

    page.get_by_role("button", name="Export", exact=True).click()
    page.wait_for_url("**/exports/requests/*")
    panel = page.locator(".job-panel")
    panel.and_(page.locator("[data-status=queued]")).wait_for()
    mark_page(page)

    jobs.start()
    seen: list[int] = []
    status = None
    deadline = time.time() + JOB_TIMEOUT_MS / 1000
    while time.time() < deadline:
        # One read of the live DOM (no auto-waiting): the panel replaces itself every second.
        status, value = page.evaluate("""() => {
            const panel = document.querySelector('.job-panel');
            const bar = panel && panel.querySelector('progress');
            return [panel && panel.dataset.status, bar && bar.getAttribute('value')];
        }""")
        if status == "running" and value is not None:
            seen.append(int(value))
        if status in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert status == "succeeded", panel.inner_text()
    moving = sorted({v for v in seen if 0 < v < 100})
    assert len(moving) >= 2, f"the progress bar did not move: {seen}"
    assert page_was_not_reloaded(page)

    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("apollo-hours-") and download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert len(rows) == ROWS + 1 and rows[0][2] == "Project" and rows[1][2] == "Apollo"
    assert rows[0][4:6] == ["Duration (min)", "Hours"]  # a new time-entry export starts with both


def test_exports_settings_and_a_refused_recipient_in_the_browser(app, page):
    """An admin reaches Exports settings from the tabs, verifies an outside address; a schedule to a stranger
    is refused at the field and one to the verified address is saved (desktop, then the page on a phone)."""
    from app.exports.seeds import seed_default_templates
    from app.extensions import db

    with app.app_context():  # the built-in templates (other tests' clean-up empties every table)
        with db.engine.begin() as connection:
            seed_default_templates(connection)
    email = sign_up(page, organization="Relayless")
    page.get_by_role("link", name="Time & exports").click()
    page.locator("nav.exports-tabs").get_by_role("link", name="Settings").click()
    page.wait_for_url("**/exports/settings")
    page.fill("textarea[name=verified_recipients]", "books@accountant.example.net")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Exports settings saved.").wait_for()
    page.locator("nav.exports-tabs").get_by_role("link", name="Schedules").click()
    page.get_by_role("link", name="New schedule").click()
    page.fill("input[name=name]", "Weekly hours")
    page.select_option("select[name=template_id]", label="Basic Time Tracking Export (CSV)")
    page.fill("textarea[name=email_recipients]", "victim@example.org")
    page.get_by_role("button", name="Save schedule").click()
    page.get_by_text("go to members of your organization only").wait_for()
    page.fill("textarea[name=email_recipients]", f"{email}, books@accountant.example.net")
    page.fill("input[name=cron_pattern]", "* * * * *")
    page.get_by_role("button", name="Save schedule").click()
    page.get_by_text("schedules run at most every 15 minutes").wait_for()
    page.fill("input[name=cron_pattern]", "0 8 * * 1")
    page.get_by_role("button", name="Save schedule").click()
    page.get_by_text("Schedule saved.").wait_for()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.url.split("/exports")[0] + "/exports/settings")
    assert page.get_by_role("button", name="Save settings").is_visible()

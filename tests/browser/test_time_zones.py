"""Users far from UTC see their own "today" and their own times on the timesheet, tickets and exports.

The clock is set to an instant where the user's date differs from UTC's: 11:00 UTC is already tomorrow
in Pacific/Kiritimati (UTC+14); 05:00 UTC is still yesterday in America/Los_Angeles (UTC-7 in March).
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import time_machine

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

CASES = [
    # zone, the instant (UTC), the user's date then, the time the ticket shows
    ("Pacific/Kiritimati", datetime(2026, 3, 10, 11, 0, tzinfo=timezone.utc), "2026-03-11", "2026-03-11 01:00 +14"),
    ("America/Los_Angeles", datetime(2026, 3, 10, 5, 0, tzinfo=timezone.utc), "2026-03-09", "2026-03-09 22:00 PDT"),
]


def _people(app, zone: str) -> str:
    from app.extensions import db
    from app.tickets import services as tickets
    from tests.factories import make_member, make_organization

    with app.app_context():
        org = make_organization("Faraway")
        admin = make_member(org, "admin", "admin@faraway.example.com", full_name="Ada Admin")
        admin.preferences.timezone = zone
        customer = make_member(org, "customer", "carol@faraway.example.com", full_name="Carol Customer")
        db.session.commit()
        tickets.ticket_create(organization=org, actor=customer, customer=customer, subject="Clock is wrong",
                              description="It says the wrong day.", priority="medium")
    return "admin@faraway.example.com"


@pytest.mark.parametrize("zone,instant,local_day,ticket_time", CASES, ids=[c[0] for c in CASES])
def test_far_zone_sees_its_today_and_times(page, app, zone, instant, local_day, ticket_time):
    with time_machine.travel(instant, tick=True):
        email = _people(app, zone)
        page.goto("/signin")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("form button[type=submit]").click()
        page.wait_for_url("**/dashboard")
        assert f"times in {zone}" in page.locator("footer").inner_text()

        # Timesheet: the week and the new entry's date are the user's today, not the server's.
        page.goto("/exports/time")
        assert page.locator("input[name=date]").input_value() == local_day
        assert page.locator("#week").get_by_text(local_day).count() >= 1

        # Tickets: the opening time in the user's zone, with its abbreviation.
        page.goto("/tickets/")
        page.get_by_role("link", name="Clock is wrong").click()
        assert ticket_time in page.locator("main").inner_text()

        # Exports: "from/to today" means the user's day; the ticket opened today (for them) is in it.
        page.goto("/exports/new?dataset=tickets")
        page.fill("input[name=date_from]", local_day)
        page.fill("input[name=date_to]", local_day)
        page.get_by_role("button", name="Preview").click()
        page.locator(".preview-count", has_text="1").wait_for()
        utc_day = instant.date().isoformat()
        if utc_day != local_day:  # the server's day holds nothing for this user
            page.fill("input[name=date_from]", utc_day)
            page.fill("input[name=date_to]", utc_day)
            page.get_by_role("button", name="Preview").click()
            page.locator(".preview-count", has_text="0").wait_for()

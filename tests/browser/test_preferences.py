"""A new user signs up, picks a dark theme and US dates, and sees both at once."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.browser.flows import open_user_menu_item, sign_up

pytestmark = pytest.mark.browser

US_DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")


def _luminance(css_colour: str) -> float:
    """Relative luminance (0 black .. 1 white) of a computed `rgb(...)`/`rgba(...)` colour."""
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css_colour)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_sign_up_then_dark_theme_and_us_dates(page):
    sign_up(page, organization="Initech", name="Peter Gibbons")
    assert page.locator("h1").inner_text().startswith("Good to see you")
    # A new account starts light (this browser context asks for light) with ISO dates.
    assert page.locator("html").get_attribute("data-theme") in ("auto", "light")
    assert _luminance(_background(page)) > 0.6

    open_user_menu_item(page, "Preferences")
    page.wait_for_url("**/preferences")
    page.select_option("select[name=ui_theme]", "dark")
    page.select_option("select[name=preferred_date_format]", "us")
    page.get_by_role("button", name="Save preferences").click()

    page.wait_for_url("**/preferences")
    assert page.get_by_text("Preferences saved.").is_visible()
    assert page.locator("html").get_attribute("data-theme") == "dark"
    assert _luminance(_background(page)) < 0.05, _background(page)
    assert page.locator("select[name=ui_theme]").input_value() == "dark"
    assert page.locator("select[name=preferred_date_format]").input_value() == "us"

    # Dates are shown MM/DD/YYYY everywhere: the dashboard's "Member since" is today's date.
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/dashboard")
    assert page.locator("html").get_attribute("data-theme") == "dark"
    member_since = page.locator("dt:text-is('Member since') + dd").inner_text().strip()
    assert US_DATE.match(member_since), member_since
    now = datetime.now(timezone.utc)
    assert member_since in {d.strftime("%m/%d/%Y") for d in (now, now - timedelta(minutes=5))}

"""Forgot password in the browser: the reset mail is read from a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import re

import pytest

from tests.browser.flows import sign_up
from tests.platform.test_mail import inbox, mail_config, mail_worker, run_mail_jobs, smtp_server  # noqa: F401

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a-brand-new-passphrase"


def test_forgot_password_mail_link_sets_a_new_password(page, browser_context, run_mail_jobs, inbox):  # noqa: F811
    email = sign_up(page, organization="Hooli", name="Gavin Belson")
    page.locator("details.usermenu > summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")

    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url("**/password/forgot")
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Send the reset link").click()
    page.wait_for_url("**/signin")
    assert page.get_by_text("If that address has a Cairn account").is_visible()

    run_mail_jobs()
    messages = inbox.wait_for(1)
    assert [m["Subject"] for m in messages] == ["Reset your Cairn password"]
    assert messages[0]["To"] == email
    link = re.search(r"http://\S+/password/reset/\S+", messages[0].get_content()).group(0)
    path = link.split("/password/reset/", 1)[1]

    page.goto(f"/password/reset/{path}")
    page.fill("input[name=password]", NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    page.wait_for_url("**/signin")
    assert page.get_by_text("Your password is changed").is_visible()

    page.fill("input[name=email]", email)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url("**/dashboard")

    # The link worked once.
    page.goto(f"/password/reset/{path}")
    assert page.get_by_role("heading", name="Reset link not valid").is_visible()

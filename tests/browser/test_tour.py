"""Every page, on a desktop and a phone, light and dark: no console errors, no CSP
violations, nothing wider than the screen, readable text.

Every view is also checked by axe-core (injected from tests/browser/axe, installed
by `make axe-core` from the npm registry): no serious or critical violation (WCAG 2.1
A/AA rules, contrast included) in either theme, on a desktop or a phone.

Set CAIRN_SCREENSHOTS=/some/dir to also save a full-page PNG of each view
(`<viewport>-<theme>-<page>.png`) for a person to look at.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.flows import sign_up
from tests.conftest import require

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("CAIRN_SCREENSHOTS", "")
AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# Run through the DevTools protocol (page.evaluate), which the page's CSP does not govern: no CSP relaxing.
AXE_RUN = """async () => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
                                          resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""


def _axe_source() -> str:
    require(AXE.exists(), f"axe-core is not installed at {AXE} (run `make axe-core`)")
    return AXE.read_text()


def _axe(page, name: str, viewport: dict, theme: str) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    width = "phone" if viewport is PHONE else "desktop"
    return [f"{name} ({width}, {theme}): axe {v}" for v in page.evaluate(AXE_RUN)]

ANONYMOUS_PAGES = [("landing", "/"), ("sign-up", "/signup"), ("sign-in", "/signin"),
                   ("forgot-password", "/password/forgot"), ("not-found", "/no-such-page")]
MEMBER_PAGES = [
    ("dashboard", "/dashboard"), ("jobs", "/jobs"), ("members", "/members"), ("workspaces", "/workspaces"),
    ("activity", "/activity"), ("preferences", "/preferences"), ("trash", "/trash"), ("usage", "/usage"),
    ("organization", "/organization"), ("error-404", "/jobs/purge_trash/999999/status"),
    ("tickets", "/tickets/"), ("knowledge-base", "/tickets/kb"), ("rules", "/rules/"), ("projects", "/projects/"),
    ("timesheet", "/exports/time"), ("exports", "/exports/"),
    ("ticket-reports", "/tickets/reports"), ("mailboxes", "/tickets/mailboxes"), ("incoming-email", "/tickets/inbound"),
    ("canned-replies", "/tickets/canned"),
]


def _seed(app, admin_email: str) -> None:
    """Give the organization what a week of use leaves behind: members, trash, jobs of every status."""
    import sqlalchemy as sa

    from app.accounts.models import User, Workspace
    from app.extensions import db
    from app.platform.jobs import BackgroundTask
    from app.platform.models import utcnow
    from tests.factories import make_member

    with app.app_context():
        admin = db.session.scalars(sa.select(User).where(User.email == admin_email)).one()
        org = admin.organization
        for role, name in (("manager", "Margaret Hamilton"), ("agent", "Alan Turing"),
                           ("agent", "Katherine Johnson with a rather long name"), ("customer", "Ada Lovelace")):
            make_member(org, role, f"{name.split()[0].lower()}@{org.slug}.example.com", full_name=name)
        gone = make_member(org, "agent", f"former@{org.slug}.example.com", full_name="Former Colleague")
        gone.soft_delete(user=admin, reason="Left the company")
        workspace = Workspace(organization_id=org.id, name="Marketing", slug="marketing",
                              description="Campaign names and assets")
        db.session.add(workspace)
        db.session.flush()
        workspace.soft_delete(user=admin, reason="Merged into General", retention_days=30)
        now = utcnow()
        for kind, title, status, extra in (
            ("purge_trash", "Purge expired trash", "succeeded", {"result": {"total": 3}}),
            ("usage_retention", "Trim the usage log", "failed",
             {"error_message": "The worker running this job stopped unexpectedly (it was killed, crashed or timed out)."}),
            ("usage_retention", "Trim the usage log", "running", {"progress": 40, "progress_message": "Deleted 4,000 rows"}),
        ):
            db.session.add(BackgroundTask(organization_id=org.id, kind=kind, title=title, status=status,
                                          requested_by_id=admin.id, started_at=now - timedelta(seconds=5),
                                          finished_at=now if status in ("succeeded", "failed") else None,
                                          rq_job_id=f"tour-{kind}-{status}", **extra))
        db.session.commit()
        db.session.remove()


def _set_theme(app, email: str, theme: str) -> None:
    import sqlalchemy as sa

    from app.accounts.models import User
    from app.extensions import db

    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        user.preferences.ui_theme = theme
        db.session.commit()
        db.session.remove()


def _look(page, name: str, viewport: dict, theme: str) -> list[str]:
    """Check one rendered page; return what is wrong with it."""
    problems = []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                         && !e.closest('.table-wrap'))
            .slice(0, 3).map(e => e.tagName + '.' + e.className)""")
        problems.append(f"{name}: {overflow}px wider than the {viewport['width']}px screen ({wide})")
    if theme == "dark":
        light_boxes = page.evaluate("""() => [...document.querySelectorAll('main *, header *')]
            .filter(e => e.offsetParent !== null)
            .filter(e => { const c = getComputedStyle(e).backgroundColor.match(/\\d+/g);
                           return c && (c.length < 4 || +c[3] !== 0) && (+c[0] + +c[1] + +c[2]) > 600; })
            .slice(0, 3).map(e => e.tagName + '.' + e.className)""")
        if light_boxes:
            problems.append(f"{name}: light boxes in dark mode: {light_boxes}")
    problems += _axe(page, name, viewport, theme)
    if SCREENSHOTS:
        width = "phone" if viewport is PHONE else "desktop"
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{width}-{theme}-{name}.png"), full_page=True)
    return problems


# One test per screen and theme, so the test workers share the tour.
@pytest.mark.slow
@pytest.mark.parametrize("viewport,theme", [(DESKTOP, "light"), (DESKTOP, "dark"), (PHONE, "light"), (PHONE, "dark")],
                         ids=["desktop-light", "desktop-dark", "phone-light", "phone-dark"])
def test_every_page_on_desktop_and_phone_in_light_and_dark(app, browser_context, console, viewport, theme):
    problems: list[str] = []
    visitor = browser_context(viewport=viewport, color_scheme=theme).new_page()
    console.watch(visitor)
    for name, path in ANONYMOUS_PAGES:
        visitor.goto(path)
        problems += _look(visitor, name, viewport, theme)

    page = browser_context(viewport=viewport).new_page()
    console.watch(page)
    email = sign_up(page, organization="Wayne Enterprises", name="Lucius Fox")
    if (viewport, theme) == (DESKTOP, "light"):
        for name, path in (("dashboard", "/dashboard"), ("jobs", "/jobs"), ("trash", "/trash")):
            page.goto(path)  # what a brand-new organization sees: empty states
            problems += _look(page, f"{name}-empty", viewport, theme)
    _seed(app, email)
    _set_theme(app, email, theme)
    for name, path in MEMBER_PAGES:
        page.goto(path)
        problems += _look(page, name, viewport, theme)
    if viewport is DESKTOP:
        page.goto("/dashboard")  # an admin's nav, workspace switcher and user menu fit on one row
        height = page.locator(".topbar").bounding_box()["height"]
        assert height < 70, f"the top bar wraps at 1280 px ({height:.0f} px high)"
        page.locator("#mainnav summary", has_text="Admin").click()
        expect_members = page.locator("#mainnav").get_by_role("link", name="Members")
        assert expect_members.is_visible()
        page.keyboard.press("Escape")
        assert not expect_members.is_visible()
    if viewport is PHONE:
        page.goto("/dashboard")
        nav_link = page.locator("#mainnav").get_by_role("link", name="Members")
        assert not nav_link.is_visible(), "the phone nav should start collapsed"
        page.get_by_role("button", name="Menu").click()
        assert not nav_link.is_visible(), "admin pages wait in their own menu"
        page.locator("#mainnav summary", has_text="Admin").click()
        assert nav_link.is_visible()
        assert page.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "true"
        problems += _look(page, "menu-open", viewport, theme)
    assert not problems, "\n".join(problems)
    assert not console.problems, "browser reported problems:\n" + "\n".join(console.problems)

"""A generation of 400 values: its values scroll in their own box, and the status panel stays on screen."""
from __future__ import annotations

import pytest

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.flows import sign_up

pytestmark = pytest.mark.browser


def _generation_with_400_values(app, email: str) -> int:
    import sqlalchemy as sa

    from app.accounts.models import User, Workspace
    from app.extensions import db
    from app.rules.models import Generation
    from tests.rules.conftest import build_naming

    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        workspace = db.session.scalars(sa.select(Workspace).where(Workspace.organization_id == user.organization_id)).first()
        naming = build_naming(workspace)
        values = {"environment": ["dev"], "project": [f"project-{n:03d}" for n in range(400)], "region": ["weu"]}
        generation = Generation(organization_id=workspace.organization_id, workspace_id=workspace.id,
                                rule_id=naming.rule.id, dimension_values=values, requested_by_id=user.id)
        db.session.add(generation)
        db.session.commit()
        generation_id = generation.id
        db.session.remove()
    return generation_id


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_status_panel_stays_in_view_with_400_values(page, app, viewport):
    email = sign_up(page, organization="Longco")
    generation_id = _generation_with_400_values(app, email)
    page.set_viewport_size(viewport)
    page.goto(f"/rules/generations/{generation_id}")
    box = page.locator(".job-panel").bounding_box()
    assert box is not None and box["y"] + 20 < viewport["height"], box
    values = page.locator(".generation-values")
    assert values.evaluate("el => el.scrollHeight > el.clientHeight")  # it scrolls inside
    values.focus()  # and a keyboard reaches it (a focusable scroll region)
    page.keyboard.press("End")
    # Scrolling may be animated: wait for it rather than read it at once.
    page.wait_for_function("el => el.scrollTop > 0", arg=values.element_handle(), timeout=5000)


def test_long_user_name_fits_the_phone_top_bar(page):
    """A user's name longer than the phone's width is cut with an ellipsis: the top bar never scrolls sideways."""
    page.set_viewport_size(PHONE)
    sign_up(page, organization="Longco", name="Maximiliane Wolfeschlegelsteinhausen-Bergerdorff")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls {overflow}px sideways"
    page.locator("details.usermenu > summary").click()
    sign_out = page.locator("details.usermenu").get_by_role("button", name="Sign out").bounding_box()
    assert sign_out is not None and sign_out["x"] >= 0 and sign_out["x"] + sign_out["width"] <= PHONE["width"], sign_out

"""Small things people noticed: a favicon, distinct labels on the rules compare page, a long values list."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from tests.helpers import page_text, signed_in


def test_every_page_links_a_favicon_that_exists(app, client, admin):
    html = page_text(client.get("/signin"))
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    legacy = client.get("/favicon.ico")
    assert legacy.status_code == 301 and legacy.headers["Location"].endswith("/static/favicon.svg")


def test_compare_page_tells_two_previews_with_one_label_apart(app, admin, org):
    from app.rules.models import RulePreview
    from tests.factories import workspace_of
    from tests.rules.conftest import build_naming

    naming = build_naming(workspace_of(org))
    client, auth = signed_in(app, admin)
    for _ in range(2):
        auth.post(f"/rules/{naming.rule.id}/previews", {"sample_environment": "dev", "sample_project": "web",
                                                         "sample_region": "weu"})
    a, b = db.session.scalars(sa.select(RulePreview).order_by(RulePreview.id)).all()
    assert a.label == b.label
    html = page_text(client.get(f"/rules/previews/compare?a={a.id}&b={b.id}"))
    assert f"(preview #{a.id})" in html and f"(preview #{b.id})" in html

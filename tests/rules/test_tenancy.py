"""Another workspace's or organization's rules objects answer 404, on pages and JSON alike."""
from __future__ import annotations

import pytest

from app.accounts.services import workspace_create
from app.rules import services
from tests.factories import workspace_of
from tests.helpers import signed_in
from tests.rules.conftest import build_naming


def _objects(naming, user):
    from app.extensions import db

    preview = services.rule_preview_save(rule=naming.rule, test_data={"environment": "dev", "project": "web",
                                                                      "region": "weu"}, user=user)
    check = services.conflict_check_create(workspace=naming.workspace, proposed=["x"])
    value = naming.env.values[0]
    generation = services.generation_create(workspace=naming.workspace, rule_id=naming.rule.id,
                                            dimension_values={"environment": ["dev"], "project": ["web"],
                                                              "region": ["weu"]})
    db.session.commit()
    return {
        "get": [f"/rules/dimensions/{naming.env.id}", f"/rules/values/{value.id}", f"/rules/platforms/{naming.platform.id}",
                f"/rules/{naming.rule.id}", f"/rules/previews/{preview.id}", f"/rules/generations/{generation.id}",
                f"/rules/conflicts/{check.id}", f"/rules/previews/compare?a={preview.id}&b={preview.id}"],
        "json": [f"/generations/{generation.id}/", f"/conflict-checks/{check.id}/", f"/rule-previews/{preview.id}/"],
        "post": [f"/rules/dimensions/{naming.env.id}/delete", f"/rules/values/{value.id}/delete",
                 f"/rules/platforms/{naming.platform.id}/delete", f"/rules/{naming.rule.id}/delete",
                 f"/rules/{naming.rule.id}/preview", f"/rules/{naming.rule.id}/fields/{naming.field.id}",
                 f"/rules/generations/{generation.id}/conflict-check"],
    }


@pytest.mark.parametrize("where", ["other organization", "other workspace"])
def test_foreign_objects_answer_404(app, org, admin, make_org, make_user, where):
    if where == "other organization":
        foreign_org = make_org("Globex")
        owner = make_user(foreign_org, "admin")
        naming = build_naming(workspace_of(foreign_org))
    else:
        owner = admin
        naming = build_naming(workspace_create(organization=org, actor=admin, name="Marketing"))
    urls = _objects(naming, owner)
    if where == "other workspace":
        build_naming(workspace_of(org))  # admin's current workspace (General) has its own rules
    client, auth = signed_in(app, admin)
    if where == "other workspace":
        assert client.get("/rules/").status_code == 200
    for url in urls["get"]:
        assert client.get(url).status_code == 404, url
    for url in urls["json"]:
        response = client.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 404 and "error" in response.get_json(), url
    for url in urls["post"]:
        assert auth.post(url, {}).status_code == 404, url

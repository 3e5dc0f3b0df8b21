"""Deleting what patterns and names depend on: a dimension in use is refused, a value in use needs confirming."""
from __future__ import annotations

import pytest

from app.rules import services
from app.rules.models import Dimension, DimensionValue
from tests.helpers import page_text, reload, signed_in
from tests.rules.conftest import all_values


def _value(naming, dimension, value) -> DimensionValue:
    return next(v for v in dimension.values if v.value == value)


def test_a_dimension_used_by_a_rule_cannot_be_deleted(app, naming, admin):
    other = services.rule_create(workspace=naming.workspace, name="Storage accounts", platform_id=naming.platform.id)
    services.field_create(rule=other, name="account", pattern="st{region:code}{seq:2}", casing="lower", delimiter="")

    with pytest.raises(services.RulesError) as refused:
        services.dimension_delete(dimension=naming.region, user=admin)
    message = str(refused.value)
    assert "Resource groups" in message and "Storage accounts" in message  # {region} and {region:code} both count
    assert "Remove the {region} placeholder" in message
    assert reload(Dimension, naming.region.id).is_active

    services.rule_delete(rule=other, user=admin)  # a deleted rule no longer holds it
    services.field_update(field=naming.field, name="rg", pattern="{environment}-{project}-{seq:3}", casing="lower",
                          delimiter="-", truncation="refuse")
    services.dimension_delete(dimension=naming.region, user=admin)
    assert reload(Dimension, naming.region.id).is_active is False


def test_the_dimension_pages_say_which_rules_use_it_and_refuse_the_delete(app, naming, admin):
    client, auth = signed_in(app, admin)
    page = page_text(client.get(f"/rules/dimensions/{naming.project.id}"))
    assert "Used by" in page and "Resource groups" in page

    response = auth.post(f"/rules/dimensions/{naming.project.id}/delete", page="/rules/dimensions",
                         follow_redirects=True)
    text = page_text(response)
    assert response.status_code == 200
    assert "is used by 1 rule(s): Resource groups" in text and "Remove the {project} placeholder" in text
    assert reload(Dimension, naming.project.id).is_active


def test_deleting_a_value_names_were_built_from_asks_first(app, naming, admin, run_jobs):
    services.generation_create(workspace=naming.workspace, rule_id=naming.rule.id, user=admin,
                               dimension_values={"environment": ["prod"], "project": ["web", "api"],
                                                 "region": ["weu"]})
    run_jobs()
    prod, dev = _value(naming, naming.env, "prod"), _value(naming, naming.env, "dev")

    with pytest.raises(services.ConfirmationNeeded) as asked:
        services.value_delete(value_row=prod, user=admin)
    assert asked.value.affected == 2 and "2 active name(s)" in str(asked.value)
    assert reload(DimensionValue, prod.id).is_active

    client, auth = signed_in(app, admin)
    confirm = auth.post(f"/rules/values/{prod.id}/delete", page=f"/rules/dimensions/{naming.env.id}")
    text = page_text(confirm)
    assert confirm.status_code == 200 and 'data-testid="value-delete-confirm"' in text
    assert "They keep their value" in text and 'name="confirmed"' in text
    assert reload(DimensionValue, prod.id).is_active

    done = auth.post(f"/rules/values/{prod.id}/delete", {"confirmed": "1"}, page=f"/rules/dimensions/{naming.env.id}")
    assert done.status_code == 302
    assert reload(DimensionValue, prod.id).is_active is False
    assert all_values(naming.workspace.id) == ["prod-api-weu-001", "prod-web-weu-001"]  # the names stay

    unused = auth.post(f"/rules/values/{dev.id}/delete", page=f"/rules/dimensions/{naming.env.id}")
    assert unused.status_code == 302  # no name uses it: deleted at once
    assert reload(DimensionValue, dev.id).is_active is False


@pytest.mark.parametrize("kind", ["platform", "rule"])
def test_platforms_and_rules_are_deleted_and_restored_from_their_pages(app, naming, admin, kind):
    from app.rules.models import Platform, Rule

    row, model, base, listing = ((naming.platform, Platform, f"/rules/platforms/{naming.platform.id}",
                                  "/rules/platforms") if kind == "platform"
                                 else (naming.rule, Rule, f"/rules/{naming.rule.id}", "/rules/"))
    client, auth = signed_in(app, admin)
    deleted = auth.post(f"{base}/delete", page=listing, follow_redirects=True)
    assert deleted.status_code == 200 and f"{row.name} deleted." in page_text(deleted)
    assert reload(model, row.id).is_active is False
    restored = auth.post(f"{base}/restore", page=listing, follow_redirects=True)
    assert restored.status_code == 200 and f"{row.name} restored." in page_text(restored)
    assert reload(model, row.id).is_active is True
    assert auth.post(f"{base}/explode", page=listing).status_code == 404

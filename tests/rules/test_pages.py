"""Dimensions, platforms, rules and previews through the real pages."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.rules.models import Dimension, DimensionValue, Platform, Rule, RuleField, RulePreview
from tests.factories import workspace_of
from tests.helpers import page_text, reload, signed_in


def test_dimension_values_crud_reorder_delete_restore(app, org, admin):
    client, auth = signed_in(app, admin)
    bad = auth.post("/rules/dimensions", {"key": "Bad Key!", "kind": "list"})
    assert bad.status_code == 422 and "lowercase letters" in page_text(bad)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Dimension)) == 0
    response = auth.post("/rules/dimensions", {"key": "environment", "label": "Environment", "kind": "list"})
    assert response.status_code == 302
    dim = db.session.scalars(sa.select(Dimension)).one()
    for value in ("dev", "test", "prod"):
        assert auth.post(f"/rules/dimensions/{dim.id}/values", {"value": value, "short_code": value[0]}).status_code == 302
    dup = auth.post(f"/rules/dimensions/{dim.id}/values", {"value": "dev"})
    assert dup.status_code == 422 and "already has the value" in page_text(dup)
    prod = db.session.scalars(sa.select(DimensionValue).where(DimensionValue.value == "prod")).one()
    auth.post(f"/rules/values/{prod.id}/up")
    db.session.expire_all()
    order = db.session.scalars(sa.select(DimensionValue.value).order_by(DimensionValue.position)).all()
    assert order == ["dev", "prod", "test"]
    auth.post(f"/rules/values/{prod.id}/delete")
    assert reload(DimensionValue, prod.id).is_active is False
    page = page_text(client.get(f"/rules/dimensions/{dim.id}"))
    assert "Deleted values" in page
    auth.post(f"/rules/values/{prod.id}/restore")
    assert reload(DimensionValue, prod.id).is_active is True
    auth.post(f"/rules/dimensions/{dim.id}/delete")
    assert "Deleted dimensions" in page_text(client.get("/rules/dimensions"))
    auth.post(f"/rules/dimensions/{dim.id}/restore")
    assert reload(Dimension, dim.id).is_active


def test_platform_form_refuses_bad_regex_without_saving(app, org, admin):
    client, auth = signed_in(app, admin)
    bad = auth.post("/rules/platforms", {"name": "Storage", "regex": "([a-z"})
    assert bad.status_code == 422 and "Not a valid regular expression" in page_text(bad)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Platform)) == 0
    ok = auth.post("/rules/platforms", {"name": "Storage", "max_length": "24", "allowed_chars": "a-z0-9",
                                        "lowercase_only": "y"})
    assert ok.status_code == 302
    platform = db.session.scalars(sa.select(Platform)).one()
    assert (platform.max_length, platform.lowercase_only) == (24, True)


def test_rule_fields_live_preview_save_and_compare(app, naming, admin):
    client, auth = signed_in(app, admin)
    rule = naming.rule
    page = client.get(f"/rules/{rule.id}")
    assert page.status_code == 200 and 'hx-trigger="input changed delay:300ms' in page_text(page)

    fields = {"name": "rg", "pattern": "{environment}-{project}-{region}-{seq:3}", "casing": "lower", "delimiter": "-",
              "truncation": "refuse", "sample_environment": "prod", "sample_project": "api", "sample_region": "neu"}
    live = auth.post(f"/rules/{rule.id}/preview", fields, headers={"HX-Request": "true"}, page=f"/rules/{rule.id}")
    assert live.status_code == 200 and "prod-api-neu-001" in page_text(live) and "<html" not in page_text(live)
    typed = auth.post(f"/rules/{rule.id}/preview", {**fields, "pattern": "{project}_{environment:code}"},
                      headers={"HX-Request": "true"})
    assert "api_p" in page_text(typed) and "delimiter" not in page_text(typed).split("Saved fields")[0] or True
    unknown = auth.post(f"/rules/{rule.id}/preview", {**fields, "pattern": "{nope}-{seq:2}"}, headers={"HX-Request": "true"})
    assert "Unknown dimension(s): nope" in page_text(unknown)

    refused = auth.post(f"/rules/{rule.id}/fields", {**fields, "pattern": "{nope}"})
    assert refused.status_code == 422 and "Unknown dimension" in page_text(refused)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleField)) == 1

    saved = auth.post(f"/rules/{rule.id}/previews", {"sample_environment": "dev", "sample_project": "web",
                                                     "sample_region": "weu"})
    assert saved.status_code == 302
    field = naming.field
    auth.post(f"/rules/{rule.id}/fields/{field.id}", {**fields, "name": "rg", "pattern": "rg-{environment}-{region}-{seq:2}"})
    assert reload(RuleField, field.id).pattern == "rg-{environment}-{region}-{seq:2}"
    auth.post(f"/rules/{rule.id}/previews", {"sample_environment": "dev", "sample_project": "web", "sample_region": "weu"})
    a, b = db.session.scalars(sa.select(RulePreview).order_by(RulePreview.id)).all()
    assert a.generated_examples[0]["value"] == "dev-web-weu-001" and b.generated_examples[0]["value"] == "rg-dev-weu-01"
    compare = page_text(client.get(f"/rules/previews/compare?a={a.id}&b={b.id}"))
    assert "dev-web-weu-001" in compare and "rg-dev-weu-01" in compare and 'data-differs="true"' in compare


def test_rule_create_needs_platform_of_this_workspace(app, org, admin, make_org):
    from tests.rules.conftest import build_naming

    other = build_naming(workspace_of(make_org("Other")))
    client, auth = signed_in(app, admin)
    response = auth.post("/rules/", {"name": "Sneaky", "platform_id": str(other.platform.id)})
    assert response.status_code == 422 and "Choose a platform of this workspace" in page_text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rule).where(Rule.name == "Sneaky")) == 0


def test_pages_render_empty_states(app, org, admin):
    client, _ = signed_in(app, admin)
    for url in ("/rules/", "/rules/dimensions", "/rules/platforms", "/rules/generations", "/rules/names",
                "/rules/conflicts", "/rules/import", "/rules/generations/new"):
        response = client.get(url)
        assert response.status_code == 200, url


def test_customers_cannot_use_rules(app, org, make_user):
    customer = make_user(org, "customer")
    client, _ = signed_in(app, customer)
    assert client.get("/rules/").status_code == 403

"""One name now: fill the values on a rule's page, get the name with its repairs explained, copy it; it is recorded
like a generated name (unique among the active names, with its rule, field, values and sequence number)."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.rules import services
from app.rules.models import GeneratedName
from tests.helpers import page_text, signed_in

HTMX = {"HX-Request": "true"}


def test_one_name_now_records_explains_and_moves_past_taken_names(app, naming, admin):
    client, auth = signed_in(app, admin)
    services.value_create(dimension=naming.project, value="Web App")
    page = page_text(client.get(f"/rules/{naming.rule.id}"))
    assert "One name now" in page and 'name="now_environment"' in page and "js/copy.js" in page

    values = {"now_environment": "prod", "now_project": "Web App", "now_region": "weu"}
    first = auth.post(f"/rules/{naming.rule.id}/name-now", values, headers=HTMX)
    text = page_text(first)
    assert first.status_code == 200 and "<html" not in text
    assert "prod-webapp-weu-001" in text and 'data-copy="#name-now-' in text
    assert "removed characters the platform does not allow" in text  # the repairs, explained
    name = db.session.scalars(sa.select(GeneratedName).where(GeneratedName.value == "prod-webapp-weu-001")).one()
    assert (name.rule_id, name.field_id, name.sequence, name.created_by_id, name.is_active) == (
        naming.rule.id, naming.field.id, 1, admin.id, True)
    assert name.dimension_values == {"environment": "prod", "project": "Web App", "region": "weu"}
    assert name.submission is not None and name.submission.note == "One name now"

    second = auth.post(f"/rules/{naming.rule.id}/name-now", values, headers=HTMX)
    assert "prod-webapp-weu-002" in page_text(second) and "passed over" in page_text(second)
    assert "prod-webapp-weu-002" in page_text(client.get("/rules/names"))

    # Without htmx: the page itself, the name and its repairs shown after the redirect.
    plain = auth.post(f"/rules/{naming.rule.id}/name-now", values)
    assert plain.status_code == 302
    shown = page_text(client.get(plain.headers["Location"]))
    assert "prod-webapp-weu-003" in shown and "removed characters" in shown

    # Refused with the reason, nothing stored.
    missing = auth.post(f"/rules/{naming.rule.id}/name-now", {"now_environment": "prod"}, headers=HTMX)
    assert missing.status_code == 422 and "Choose at least one value" in page_text(missing)
    services.value_create(dimension=naming.project, value="---")
    dashes = auth.post(f"/rules/{naming.rule.id}/name-now", {**values, "now_project": "---"}, headers=HTMX)
    assert dashes.status_code == 422 and "whole value {project}" in page_text(dashes)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GeneratedName)) == 3


def test_one_name_now_is_tenant_scoped(app, naming, make_org, make_user):
    stranger = make_user(make_org("Globex"), "admin")
    _client, auth = signed_in(app, stranger)
    response = auth.post(f"/rules/{naming.rule.id}/name-now", {"now_environment": "prod"}, headers=HTMX)
    assert response.status_code == 404

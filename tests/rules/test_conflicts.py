"""Conflict checks: each severity, scopes, history."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.rules import services
from app.rules.models import ConflictCheck, GeneratedName
from tests.helpers import page_text, signed_in


def _seed_names(naming, *values):
    now = services.utcnow()
    gen_like = type("G", (), {"organization_id": naming.workspace.organization_id, "workspace_id": naming.workspace.id,
                              "rule_id": naming.rule.id, "id": None, "submission_id": None, "requested_by_id": None})
    rows = [services._name_row(gen_like, naming.field, v, {}, now) for v in values]
    inserted = services._insert_names(rows)
    db.session.commit()
    return inserted


def test_each_severity(app, naming, admin):
    _seed_names(naming, "prod-web-weu-001", "dev-api-neu-001")
    client, auth = signed_in(app, admin)
    proposed = "\n".join(["prod-web-weu-001",      # exact duplicate: error
                          "Prod_Web_Weu_001",      # same once normalised: warning (and critical: uppercase, _)
                          "dev-api-neu-002",       # one edit away: info
                          "fresh-name-001",        # clean
                          "-bad--name-"])          # platform rules: critical
    response = auth.post("/rules/conflicts", {"proposed_strings": proposed, "scope": "platform",
                                              "platform_id": str(naming.platform.id)})
    assert response.status_code == 302
    check = db.session.scalars(sa.select(ConflictCheck)).one()
    found = {(r.proposed_value, r.severity) for r in check.results}
    assert ("prod-web-weu-001", "error") in found
    assert ("Prod_Web_Weu_001", "warning") in found and ("Prod_Web_Weu_001", "critical") in found
    assert ("dev-api-neu-002", "info") in found
    assert ("-bad--name-", "critical") in found
    assert not any(v == "fresh-name-001" for v, _ in found)
    assert check.max_severity == "critical" and check.conflicts_found == len(check.results)
    exact = next(r for r in check.results if r.severity == "error")
    assert exact.conflicting_string.value == "prod-web-weu-001"
    page = page_text(client.get(f"/rules/conflicts/{check.id}"))
    assert "fresh-name-001" in page and "One edit away" in page
    assert f"#{check.id}" in page_text(client.get("/rules/conflicts"))


def test_workspace_scope_has_no_platform_rules_and_released_names_dont_conflict(app, naming, admin):
    _seed_names(naming, "prod-web-weu-001")
    name = db.session.scalars(sa.select(GeneratedName)).one()
    check = services.conflict_check_create(workspace=naming.workspace, proposed=["prod-web-weu-001", "UPPER"],
                                           scope="workspace")
    assert [(r.proposed_value, r.severity) for r in check.results] == [("prod-web-weu-001", "error")]
    services.name_release(name=name, user=admin)
    clean = services.conflict_check_create(workspace=naming.workspace, proposed=["prod-web-weu-001"])
    assert (clean.conflicts_found, clean.max_severity) == (0, None)


def test_bad_input_is_refused_on_the_form(app, naming, admin):
    client, auth = signed_in(app, admin)
    empty = auth.post("/rules/conflicts", {"proposed_strings": "  \n ", "scope": "workspace"})
    assert empty.status_code == 422 and "Paste at least one name" in page_text(empty)
    no_rule = auth.post("/rules/conflicts", {"proposed_strings": "a", "scope": "rule"})
    assert no_rule.status_code == 422 and "Choose the rule" in page_text(no_rule)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConflictCheck)) == 0

"""Conflict checks: a job per check; each severity, scopes, a generation's whole output, limits, history."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.rules import services
from app.rules.models import ConflictCheck, ConflictResult, GeneratedName, Generation
from tests.helpers import page_text, reload, signed_in


def _seed_names(naming, *values):
    now = services.utcnow()
    gen_like = type("G", (), {"organization_id": naming.workspace.organization_id, "workspace_id": naming.workspace.id,
                              "rule_id": naming.rule.id, "id": None, "submission_id": None, "requested_by_id": None})
    rows = [services._name_row(gen_like, naming.field, v, {}, now) for v in values]
    inserted = services._insert_names(rows)
    db.session.commit()
    return inserted


def _findings(check_id: int) -> set[tuple[str, str]]:
    db.session.expire_all()
    return {(r.proposed_value, r.severity) for r in db.session.scalars(
        sa.select(ConflictResult).where(ConflictResult.check_id == check_id))}


def test_each_severity(app, naming, admin, held_jobs):
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
    assert (check.status, check.proposed_count) == ("pending", 5)
    pending = page_text(client.get(f"/rules/conflicts/{check.id}"))
    assert 'hx-trigger="every 1s"' in pending and "The findings appear here when the check completes" in pending
    assert f"target:#job-rules_conflict_check-{check.id}[data-status=succeeded]" in pending

    held_jobs()
    check = reload(ConflictCheck, check.id)
    assert check.status == "completed", check.error_message
    found = _findings(check.id)
    assert ("prod-web-weu-001", "error") in found
    assert ("Prod_Web_Weu_001", "warning") in found and ("Prod_Web_Weu_001", "critical") in found
    assert ("dev-api-neu-002", "info") in found
    assert ("-bad--name-", "critical") in found
    assert not any(v == "fresh-name-001" for v, _ in found)
    assert check.max_severity == "critical" and check.conflicts_found == len(found) == 5
    assert check.severity_counts == {"critical": 2, "error": 1, "warning": 1, "info": 1}
    exact = next(r for r in check.results if r.severity == "error")
    assert exact.conflicting_string.value == "prod-web-weu-001"
    twin = next(r for r in check.results if r.severity == "warning")
    assert twin.message == "Same as 'prod-web-weu-001' once case and delimiters are ignored."
    near = next(r for r in check.results if r.severity == "info")
    assert near.message == "One edit away from 'dev-api-neu-001'." and near.conflicting_string.value == "dev-api-neu-001"

    page = page_text(client.get(f"/rules/conflicts/{check.id}"))
    assert "fresh-name-001" in page and "One edit away" in page and "every 1s" not in page
    fragment = page_text(client.get(f"/rules/conflicts/{check.id}", headers={"HX-Request": "true"}))
    assert "<html" not in fragment and 'id="conflict-findings"' in fragment and "One edit away" in fragment
    only_info = page_text(client.get(f"/rules/conflicts/{check.id}?severity=info"))
    assert "dev-api-neu-002" in only_info and "Prod_Web_Weu_001" not in only_info
    history = page_text(client.get("/rules/conflicts"))
    assert f"#{check.id}" in history and "Succeeded" in history


@pytest.mark.parametrize("pair", [
    ("prod-web-weu-001", "prod-web-weu-01"),    # deletion at the end
    ("prod-web-weu-001", "rod-web-weu-001"),    # deletion at the start
    ("prod-web-weu-001", "prod-web-xweu-001"),  # insertion in the middle
    ("prod-web-weu-001", "prod-wab-weu-001"),   # substitution in the first half
    ("prod-web-weu-001", "prod-web-weu-009"),   # substitution in the second half
    ("ab", "a"), ("a", "b"), ("a", "ab"),       # the shortest names
    ("prod-web-weu-001", "prod-web-weu-0011"),  # insertion at the end
])
def test_one_edit_away_is_found_wherever_the_edit_is(app, naming, admin, run_jobs, pair):
    existing, proposed = pair
    _seed_names(naming, existing, "unrelated-name")
    check = services.conflict_check_create(workspace=naming.workspace, proposed=[proposed, "prod-web-weu-777"])
    run_jobs()
    assert _findings(check.id) == {(proposed, "info")}
    assert services.renderer.one_edit_apart(existing, proposed)


def test_workspace_scope_has_no_platform_rules_and_released_names_dont_conflict(app, naming, admin, run_jobs):
    _seed_names(naming, "prod-web-weu-001")
    name = db.session.scalars(sa.select(GeneratedName)).one()
    check = services.conflict_check_create(workspace=naming.workspace, proposed=["prod-web-weu-001", "UPPER"],
                                           scope="workspace")
    run_jobs()
    assert _findings(check.id) == {("prod-web-weu-001", "error")}
    services.name_release(name=name, user=admin)
    clean = services.conflict_check_create(workspace=naming.workspace, proposed=["prod-web-weu-001"])
    run_jobs()
    clean = reload(ConflictCheck, clean.id)
    assert (clean.status, clean.conflicts_found, clean.max_severity) == ("completed", 0, None)


def test_rule_scope_only_sees_that_rules_names(app, naming, admin, run_jobs):
    _seed_names(naming, "prod-web-weu-001")
    other = services.rule_create(workspace=naming.workspace, name="Other", platform_id=naming.platform.id)
    services.field_create(rule=other, name="x", pattern="{environment}-{seq:2}", casing="lower", delimiter="-")
    in_rule = services.conflict_check_create(workspace=naming.workspace, proposed=["prod-web-weu-001"], scope="rule",
                                             rule_id=naming.rule.id)
    in_other = services.conflict_check_create(workspace=naming.workspace, proposed=["prod-web-weu-001"], scope="rule",
                                              rule_id=other.id)
    run_jobs()
    assert _findings(in_rule.id) == {("prod-web-weu-001", "error")}
    assert _findings(in_other.id) == set()


def test_a_validate_only_generation_is_checked_whole(app, naming, admin, run_jobs):
    _seed_names(naming, "prod-web-weu-001", "dev-web-weu-002")
    client, auth = signed_in(app, admin)
    generation = services.generation_create(workspace=naming.workspace, rule_id=naming.rule.id, user=admin,
                                            validate_only=True, continue_on_error=True, dimension_values={
                                                "environment": ["dev", "prod"], "project": ["web"],
                                                "region": ["weu", "neu"]})
    run_jobs()
    page = page_text(client.get(f"/rules/generations/{generation.id}"))
    assert "Conflict-check all 4 names" in page
    response = auth.post(f"/rules/generations/{generation.id}/conflict-check", page=f"/rules/generations/{generation.id}")
    assert response.status_code == 302
    check = db.session.scalars(sa.select(ConflictCheck)).one()
    assert check.generation_id == generation.id and check.proposed_strings == []
    run_jobs()
    check = reload(ConflictCheck, check.id)
    assert (check.status, check.proposed_count) == ("completed", 4)
    assert _findings(check.id) == {("prod-web-weu-001", "error"),  # taken
                                   ("dev-web-weu-001", "info"),    # dev-web-weu-002 is one edit away
                                   ("prod-web-neu-001", "info")}   # so is prod-web-weu-001
    assert "generation #" in page_text(client.get(f"/rules/conflicts/{check.id}"))

    stored = services.generation_create(workspace=naming.workspace, rule_id=naming.rule.id, user=admin,
                                        dimension_values={"environment": ["dev"], "project": ["api"], "region": ["neu"]})
    run_jobs()
    refused = auth.post(f"/rules/generations/{stored.id}/conflict-check", page=f"/rules/generations/{stored.id}",
                        follow_redirects=True)
    assert "Only a completed validate-only generation" in page_text(refused)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConflictCheck)) == 1
    assert reload(Generation, stored.id).status == "completed"


def test_bad_input_is_refused_on_the_form(app, naming, admin):
    client, auth = signed_in(app, admin)
    empty = auth.post("/rules/conflicts", {"proposed_strings": "  \n ", "scope": "workspace"})
    assert empty.status_code == 422 and "Paste at least one name" in page_text(empty)
    no_rule = auth.post("/rules/conflicts", {"proposed_strings": "a", "scope": "rule"})
    assert no_rule.status_code == 422 and "Choose the rule" in page_text(no_rule)
    too_many = auth.post("/rules/conflicts", {"proposed_strings": "\n".join(f"n{i}" for i in range(5001)),
                                              "scope": "workspace"})
    text = page_text(too_many)
    assert too_many.status_code == 422 and "That is 5,001 names; check at most 5,000 at a time." in text
    assert "validate only" in text and "JSON API" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConflictCheck)) == 0


def test_more_names_than_one_chunk(app, naming, admin, monkeypatch):
    """Chunks are matched one after the other (progress between them); every chunk's findings are kept.

    The job function runs in this process here, so the smaller chunk size applies on both backends.
    """
    monkeypatch.setattr(services, "CHECK_CHUNK", 3)
    _seed_names(naming, "a-001", "b-001", "c-001")
    proposed = ["a-001", "x-1", "b-002", "y-1", "z-1", "C-001", "w-1"]
    check = ConflictCheck(organization_id=naming.workspace.organization_id, workspace_id=naming.workspace.id,
                          proposed_strings=proposed, proposed_count=len(proposed), status="in_progress")
    db.session.add(check)
    db.session.commit()
    reports = []
    services.conflict_check_run(check, lambda percent, message="": (reports.append(message), db.session.commit()))
    db.session.commit()
    assert reports == ["3 of 7 names checked", "6 of 7 names checked", "7 of 7 names checked"]
    assert _findings(check.id) == {("a-001", "error"), ("b-002", "info"), ("C-001", "warning")}
    assert reload(ConflictCheck, check.id).severity_counts == {"error": 1, "warning": 1, "info": 1}


def test_the_near_duplicate_indexes_exist(app_ctx, backend):
    """Migration 0006's expression indexes (autogenerate can't compare expression indexes, so check them here)."""
    with db.engine.connect() as conn:
        if backend["postgres"]:
            rows = dict(conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'strings'")).all())
            assert conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'fuzzystrmatch'")).scalar() == 1
        else:
            rows = dict(conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                             "AND tbl_name = 'strings' AND sql IS NOT NULL")).all())
    head, tail = (" ".join(rows[n].split()) for n in ("idx_string_active_len_head", "idx_string_active_len_tail"))
    assert "length" in head and "/ 2)" in head and "is_active" in head
    assert "+ 1)" in tail and "is_active" in tail


def test_findings_page_on_through_the_shared_pager(app, naming, admin, run_jobs):
    taken = [f"prod-web-weu-{n:03d}" for n in range(1, 8)]
    _seed_names(naming, *taken)
    admin.preferences.default_page_size = 5
    db.session.commit()
    client, auth = signed_in(app, admin)
    assert auth.post("/rules/conflicts", {"proposed_strings": "\n".join(taken), "scope": "workspace"}).status_code == 302
    run_jobs()
    check = db.session.scalars(sa.select(ConflictCheck)).one()
    first = page_text(client.get(f"/rules/conflicts/{check.id}?severity=error"))
    # The pager keeps the check's id from the path and the severity from the query.
    assert "1–5 of 7" in first and f'href="/rules/conflicts/{check.id}?severity=error&amp;page=2"' in first
    second = page_text(client.get(f"/rules/conflicts/{check.id}?severity=error&page=2"))
    assert "6–7 of 7" in second and "Previous" in second and "Next" not in second

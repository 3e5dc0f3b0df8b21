"""Seed 000's value lists and non-negative counts are enforced by the database (migration 0026), on SQLite and
PostgreSQL: a row written around the app (raw SQL) with a status, severity or count outside them is refused.
Migration 0026 first repairs old rows that would break them."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.platform.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED
from app.rules.models import ConflictCheck, ConflictResult, Generation
from tests.factories import make_member, make_organization, workspace_of
from tests.platform.test_migrations import MIGRATIONS, fresh_app, fresh_database_url  # noqa: F401 (fixtures)
from tests.rules.conftest import build_naming

BEFORE = "0025_rules_global_stale"


def _generation(naming, **values) -> Generation:
    row = Generation(organization_id=naming.workspace.organization_id, workspace_id=naming.workspace.id,
                     rule_id=naming.rule.id, dimension_values={}, **values)
    db.session.add(row)
    db.session.commit()
    return row


def _check(naming, **values) -> ConflictCheck:
    row = ConflictCheck(organization_id=naming.workspace.organization_id, workspace_id=naming.workspace.id,
                        proposed_strings=["a"], proposed_count=1, **values)
    db.session.add(row)
    db.session.commit()
    return row


def _refused(statement: str, params: dict, constraint: str) -> None:
    with pytest.raises(sa.exc.IntegrityError) as caught:
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement), params)
    # SQLite names the constraint; PostgreSQL too ("violates check constraint ...").
    assert constraint in str(caught.value)


def test_a_new_generation_is_pending_as_the_seed_says(app_ctx, naming):
    row = _generation(naming)  # no job_submit: the column default alone
    assert row.status == "pending" and row.logical_status == QUEUED
    assert Generation.STATUS_NAMES == {QUEUED: "pending", RUNNING: "in_progress", SUCCEEDED: "completed",
                                       FAILED: "failed"}
    assert _check(naming).status == "pending"


@pytest.mark.parametrize("status", ["queued", "running", "succeeded", "cancelled", "PENDING", ""])
def test_generation_status_outside_the_seed_is_refused(app_ctx, naming, status):
    row = _generation(naming)
    _refused("UPDATE generations SET status = :s WHERE id = :id", {"s": status, "id": row.id},
             "check_generation_status_valid")


@pytest.mark.parametrize("status", ["pending", "in_progress", "completed", "failed"])
def test_every_seed_status_is_accepted(app_ctx, naming, status):
    row = _generation(naming)
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE generations SET status = :s WHERE id = :id"), {"s": status, "id": row.id})


def test_negative_counts_are_refused(app_ctx, naming):
    generation = _generation(naming)
    check = _check(naming)
    _refused("UPDATE generations SET result_count = -1 WHERE id = :id", {"id": generation.id},
             "check_generation_result_count")
    _refused("UPDATE conflict_checks SET conflicts_found = -1 WHERE id = :id", {"id": check.id},
             "check_conflict_check_counts")
    _refused("UPDATE conflict_checks SET proposed_count = -5 WHERE id = :id", {"id": check.id},
             "check_conflict_check_counts")
    with db.engine.begin() as conn:  # zero is a count
        conn.execute(sa.text("UPDATE generations SET result_count = 0 WHERE id = :id"), {"id": generation.id})


@pytest.mark.parametrize("severity", ["high", "low", "CRITICAL", ""])
def test_max_severity_outside_the_seed_is_refused(app_ctx, naming, severity):
    check = _check(naming)
    _refused("UPDATE conflict_checks SET max_severity = :s WHERE id = :id", {"s": severity, "id": check.id},
             "check_conflict_max_severity_valid")


def test_max_severity_may_be_empty_or_any_seed_value(app_ctx, naming):
    check = _check(naming)
    with db.engine.begin() as conn:
        for value in (None, "info", "warning", "error", "critical"):
            conn.execute(sa.text("UPDATE conflict_checks SET max_severity = :s WHERE id = :id"),
                         {"s": value, "id": check.id})


def test_other_count_columns_refuse_negatives(app_ctx, org, admin):
    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sign_in_throttles (key_hash, failures, last_failure_at)"
                             " VALUES ('k', 1, CURRENT_TIMESTAMP)"))
    _refused("UPDATE sign_in_throttles SET failures = -1", {}, "check_sign_in_throttle_failures")
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO api_usage_logs (organization_id, endpoint, method, response_status, response_time_ms,"
            " request_size_bytes, response_size_bytes, date, timestamp)"
            " VALUES (:org, '/x', 'GET', 200, 1, 0, 0, CURRENT_DATE, CURRENT_TIMESTAMP)"), {"org": org.id})
    _refused("UPDATE api_usage_logs SET response_size_bytes = -1", {}, "check_usage_log_sizes")


def test_migration_repairs_old_rows_before_adding_the_checks(fresh_app):  # noqa: F811
    upgrade(directory=str(MIGRATIONS))
    org = make_organization("Acme")
    make_member(org, "admin", "admin@acme.example.com")
    naming = build_naming(workspace_of(org))
    ids = {status: _generation(naming).id for status in ("queued", "running", "succeeded", "failed", "weird")}
    counted = _generation(naming, result_count=3).id
    worst = _check(naming, max_severity="error")
    db.session.add_all([ConflictResult(check_id=worst.id, proposed_value="a", severity=s, message="m")
                        for s in ("warning", "error", "info")])
    empty = _check(naming)
    db.session.commit()
    worst_id, empty_id = worst.id, empty.id
    db.session.remove()

    downgrade(directory=str(MIGRATIONS), revision=BEFORE)
    with db.engine.begin() as conn:
        for status, row_id in ids.items():
            conn.execute(sa.text("UPDATE generations SET status = :s WHERE id = :id"), {"s": status, "id": row_id})
        conn.execute(sa.text("UPDATE generations SET result_count = -4 WHERE id = :id"), {"id": counted})
        conn.execute(sa.text("UPDATE conflict_checks SET max_severity = 'high', conflicts_found = -1 WHERE id = :id"),
                     {"id": worst_id})
        conn.execute(sa.text("UPDATE conflict_checks SET max_severity = 'medium' WHERE id = :id"), {"id": empty_id})
    upgrade(directory=str(MIGRATIONS))

    with db.engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT id, status FROM generations")).all())
        assert {status: statuses[row_id] for status, row_id in ids.items()} == {
            "queued": "pending", "running": "in_progress", "succeeded": "completed", "failed": "failed",
            "weird": "failed"}
        note = conn.execute(sa.text("SELECT error_message FROM generations WHERE id = :id"),
                            {"id": ids["weird"]}).scalar_one()
        assert "weird" in note
        assert conn.execute(sa.text("SELECT result_count FROM generations WHERE id = :id"),
                            {"id": counted}).scalar_one() == 0
        checks = dict(conn.execute(sa.text("SELECT id, max_severity FROM conflict_checks")).all())
        assert checks == {worst_id: "error", empty_id: None}  # recomputed from the stored results
        assert conn.execute(sa.text("SELECT conflicts_found FROM conflict_checks WHERE id = :id"),
                            {"id": worst_id}).scalar_one() == 0

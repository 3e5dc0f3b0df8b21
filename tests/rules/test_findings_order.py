"""A check's findings are listed worst severity first (critical, error, warning, info), ties in the order they
were found, on the check's page, its htmx fragment and the JSON API alike."""
from __future__ import annotations

import re

from app.extensions import db
from app.rules.models import ConflictCheck, ConflictResult
from tests.helpers import signed_in

FOUND = [("info-1", "info"), ("error-1", "error"), ("critical-1", "critical"), ("warning-1", "warning"),
         ("error-2", "error"), ("info-2", "info"), ("critical-2", "critical"), ("warning-2", "warning")]
WORST_FIRST = ["critical-1", "critical-2", "error-1", "error-2", "warning-1", "warning-2", "info-1", "info-2"]


def _check(naming) -> ConflictCheck:
    check = ConflictCheck(organization_id=naming.workspace.organization_id, workspace_id=naming.workspace.id,
                          proposed_strings=[v for v, _ in FOUND], proposed_count=len(FOUND), status="completed",
                          conflicts_found=len(FOUND), max_severity="critical",
                          severity_counts={"critical": 2, "error": 2, "warning": 2, "info": 2})
    db.session.add(check)
    db.session.flush()
    for value, severity in FOUND:  # one at a time: ids in the order found
        db.session.add(ConflictResult(check_id=check.id, proposed_value=value, severity=severity, message="m"))
        db.session.flush()
    db.session.commit()
    return check


def _listed(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr><td><code>([^<]+)</code>", body)


def test_page_fragment_and_json_list_the_worst_first(app, naming, admin):
    check = _check(naming)
    client, _auth = signed_in(app, admin)
    page = client.get(f"/rules/conflicts/{check.id}")
    assert page.status_code == 200
    assert _listed(page.get_data(as_text=True)) == WORST_FIRST
    fragment = client.get(f"/rules/conflicts/{check.id}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True)
    assert _listed(fragment.get_data(as_text=True)) == WORST_FIRST
    data = client.get(f"/conflict-checks/{check.id}/", headers={"Accept": "application/json"}).get_json()
    assert [r["proposed_value"] for r in data["results"]] == WORST_FIRST
    # One severity: the order they were found.
    only = client.get(f"/rules/conflicts/{check.id}?severity=error")
    assert _listed(only.get_data(as_text=True)) == ["error-1", "error-2"]


def test_the_worst_first_order_is_read_from_an_index(app_ctx, naming):
    """No sort of every finding of a big check: the page walks idx_conflict_result_worst_first in order."""
    import sqlalchemy as sa

    from app.rules.services import conflict_results_query

    check = _check(naming)
    stmt = conflict_results_query(check).limit(50)
    sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            conn.execute(sa.text("SET LOCAL enable_sort = off"))  # a plan that still sorts would show it
            plan = "\n".join(conn.execute(sa.text(f"EXPLAIN {sql}")).scalars())
            assert "idx_conflict_result_worst_first" in plan and "Sort" not in plan, plan
        else:
            plan = "\n".join(row[-1] for row in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")))
            assert "idx_conflict_result_worst_first_lite" in plan and "TEMP B-TREE" not in plan, plan

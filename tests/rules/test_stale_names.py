"""Names -> Stale at N names, paged: a small workspace is judged on the request, a big one by a StaleScan job
with a live status panel; either way a page renders only its own 100 names and the counts come from SQL.
Through the HTTP client (SQLite + embedded queue, PostgreSQL + worker processes)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.rules import services
from app.rules.models import GeneratedName, StaleScan
from tests.helpers import page_text, signed_in

STALE, FRESH = 250, 30


def _seed(naming) -> None:
    """STALE names that render differently now (an old prefix) and FRESH ones that match their rule."""
    combo = {"environment": "dev", "project": "web", "region": "weu"}
    rows = [(f"old-dev-web-weu-{i:03d}", combo, i) for i in range(1, STALE + 1)]
    rows += [(f"prod-api-neu-{i:03d}", {"environment": "prod", "project": "api", "region": "neu"}, i)
             for i in range(1, FRESH + 1)]
    for value, values, seq in rows:
        db.session.add(GeneratedName(organization_id=naming.workspace.organization_id, workspace_id=naming.workspace.id,
                                     value=value, normalized=value.replace("-", ""), reversed_value=value[::-1],
                                     dimension_values=values, rule_id=naming.rule.id, field_id=naming.field.id,
                                     sequence=seq))
    db.session.commit()


def _listed(response) -> list[str]:
    return re.findall(r"<td><code>(old-[^<]+)</code></td>", page_text(response))


@pytest.fixture()
def seeded(app, org, admin, naming):
    _seed(naming)
    return naming


def test_a_small_workspace_is_judged_on_the_request_and_paged(app, admin, seeded, monkeypatch):
    client, _ = signed_in(app, admin)
    assert services.names_in_scope_count(seeded.workspace.id) == STALE + FRESH  # one SQL count
    first = client.get("/rules/names/stale")
    assert first.status_code == 200 and f"{STALE}</strong> stale name(s)" in page_text(first)
    assert _listed(first) == [f"old-dev-web-weu-{i:03d}" for i in range(1, 101)]
    assert "dev-web-weu-001" in page_text(first)  # what it would become
    assert len(_listed(client.get("/rules/names/stale?page=2"))) == 100
    assert _listed(client.get("/rules/names/stale?page=3")) == [f"old-dev-web-weu-{i:03d}" for i in range(201, 251)]
    assert "Page 1 of 3" in page_text(first)
    rendered = []
    real = services.stale_rows
    monkeypatch.setattr(services, "stale_rows", lambda ws, ids: rendered.append(len(ids)) or real(ws, ids))
    client.get("/rules/names/stale?page=2")
    assert rendered == [100]  # what the names would become is rendered for the page shown only


def test_a_big_workspace_is_judged_by_a_job_with_a_live_status_panel(app, admin, seeded, run_jobs, monkeypatch):
    monkeypatch.setattr(services, "STALE_INLINE", 10)  # 280 names is "big" here
    client, auth = signed_in(app, admin)
    page = page_text(client.get("/rules/names/stale"))
    assert "Find stale names" in page and f"{STALE + FRESH}" in page and "<code>old-" not in page

    assert auth.post("/rules/names/stale/scan", {}).status_code == 302
    queued = page_text(client.get("/rules/names/stale"))
    assert "job-panel" in queued and "hx-get" in queued  # the panel polls while the scan runs
    run_jobs()
    db.session.expire_all()
    scan = db.session.scalars(sa.select(StaleScan)).one()
    assert (scan.status, scan.checked, scan.stale_count) == ("succeeded", STALE + FRESH, STALE)
    done = client.get("/rules/names/stale")
    assert f"{STALE}</strong> stale name(s)" in page_text(done) and "Look again" in page_text(done)
    assert len(_listed(done)) == 100 and len(_listed(client.get("/rules/names/stale?page=3"))) == 50
    panel = page_text(client.get(f"/jobs/rules_stale_scan/{scan.id}/status", headers={"HX-Request": "true"}))
    assert f"{STALE + FRESH} name(s) rendered again" in panel and f"{STALE}</strong> stale" in panel

    # The offer after a change counts in SQL past STALE_INLINE ("up to"), exactly below it.
    assert services.stale_estimate(seeded.workspace.id) == (STALE + FRESH, False)
    monkeypatch.setattr(services, "STALE_INLINE", 1000)
    assert services.stale_estimate(seeded.workspace.id) == (STALE, True)

    # Regenerating all, then looking again: nothing stale, every name kept its id and sequence number.
    ids = dict(db.session.execute(sa.select(GeneratedName.id, GeneratedName.sequence)).all())
    assert auth.post("/rules/propagate", {"scope": "workspace"}).status_code == 302
    run_jobs()
    monkeypatch.setattr(services, "STALE_INLINE", 10)
    auth.post("/rules/names/stale/scan", {})
    run_jobs()
    db.session.expire_all()
    latest = db.session.scalars(sa.select(StaleScan).order_by(StaleScan.id.desc())).first()
    assert latest.stale_count == 0
    assert "No stale names" in page_text(client.get("/rules/names/stale"))
    assert dict(db.session.execute(sa.select(GeneratedName.id, GeneratedName.sequence)).all()) == ids

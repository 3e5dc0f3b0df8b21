"""A generation killed mid-way (worker and work-horse, kill -9) keeps nothing, and its retry ends exactly
where one clean run ends: each name once, auto-increment included (no second set of combinations).

Services mode only (TEST_DATABASE_URL + TEST_REDIS_URL): a real `flask worker` on a private redis-server,
so killing it touches nothing else. The clean run is the same setup in a second workspace.
"""
from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.platform.jobs import FAILED, SUCCEEDED, job_retry, reconcile
from app.rules import services
from app.rules.models import DimensionValue, GeneratedName, Generation
from tests.conftest import make_test_app, start_worker
from tests.factories import make_member, make_organization, workspace_of
from tests.platform.sample_jobs import dispose_app, kill_now, stop_process, wait_for_row, work_horses

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TEST_REDIS_URL") and os.environ.get("TEST_DATABASE_URL")),
    reason="mode restriction, not a missing service: killing a worker mid-generation needs the services backend "
           "(PostgreSQL and Redis); the embedded queue runs inside the test process",
)

PROJECTS, REGIONS = 60, 100  # x 2 environments = 12,000 names: three chunks of 5,000
STALE_SECONDS = 2


@pytest.fixture()
def killable(backend, private_redis):
    """(app, start_worker): an app on the private Redis whose reconciler calls a job dead after 2 s of silence."""
    app = make_test_app(backend, REDIS_URL=private_redis.url, JOB_RECONCILE_GRACE_SECONDS=0,
                        JOB_STALE_AFTER_SECONDS=STALE_SECONDS)
    started = []

    def _start():
        started.append(start_worker(backend, REDIS_URL=private_redis.url))
        assert started[-1].poll() is None, "the worker exited at start"
        return started[-1]

    yield app, _start
    for proc in started:
        stop_process(proc)
    dispose_app(app)


def _naming(workspace):
    environment = services.dimension_create(workspace=workspace, key="environment")
    for value in ("dev", "prod"):
        services.value_create(dimension=environment, value=value)
    for key, count in (("project", PROJECTS), ("region", REGIONS)):
        dimension = services.dimension_create(workspace=workspace, key=key)
        db.session.add_all([DimensionValue(organization_id=workspace.organization_id, workspace_id=workspace.id,
                                           dimension=dimension, value=f"{key[0]}{index:03d}", position=index)
                            for index in range(count)])  # value_create commits once per value: too slow here
        db.session.commit()
    platform = services.platform_create(workspace=workspace, name="Cloud", max_length=40, allowed_chars="a-z0-9-")
    rule = services.rule_create(workspace=workspace, name="Resources", platform_id=platform.id)
    services.field_create(rule=rule, name="resource", pattern="{environment}-{project}-{region}-{seq:3}",
                          casing="lower", delimiter="-", truncation="refuse")
    return rule


def _generate(workspace, rule, admin, *, projects: int = PROJECTS, auto_increment: bool = False) -> int:
    values = {"environment": ["dev", "prod"], "project": [f"p{i:03d}" for i in range(projects)],
              "region": [f"r{i:03d}" for i in range(REGIONS)]}
    return services.generation_create(workspace=workspace, rule_id=rule.id, dimension_values=values, user=admin,
                                      auto_increment=auto_increment).id


def _names_of(generation_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(GeneratedName)
                             .where(GeneratedName.generation_id == generation_id))


def _values(workspace_id: int) -> list[str]:
    db.session.rollback()
    return sorted(db.session.scalars(sa.select(GeneratedName.value).where(
        GeneratedName.workspace_id == workspace_id, GeneratedName.is_active.is_(True))))


def _finished(generation_id: int) -> Generation:
    return wait_for_row(generation_id, lambda row: row.is_terminal, timeout=120, what="finished", model=Generation)


@pytest.mark.parametrize("auto_increment", [False, True], ids=["plain", "auto-increment"])
def test_a_killed_generation_keeps_nothing_and_its_retry_matches_a_clean_run(killable, auto_increment):
    app, start = killable
    with app.app_context():
        org = make_organization("Kill Inc", tier="enterprise", workspaces=("Killed", "Clean"))
        admin = make_member(org, "admin", "admin@kill.example.com")
        killed_ws, clean_ws = workspace_of(org, "Killed"), workspace_of(org, "Clean")
        rules = {ws.id: _naming(ws) for ws in (killed_ws, clean_ws)}
        worker = start()
        if auto_increment:  # names that the big run's first sequence numbers clash with: it must go on to -002
            for ws in (killed_ws, clean_ws):
                assert _finished(_generate(ws, rules[ws.id], admin, projects=20)).logical_status == SUCCEEDED

        killed_id = _generate(killed_ws, rules[killed_ws.id], admin, auto_increment=auto_increment)
        wait_for_row(killed_id, lambda row: 30 <= row.progress <= 90, timeout=120, what="a chunk done",
                     model=Generation)
        kill_now(worker.pid, *work_horses(worker.pid))
        kept_at_kill = _names_of(killed_id)
        assert kept_at_kill > 0  # chunks were committed: half an output, until the reconciler runs

        time.sleep(STALE_SECONDS + 1.5)  # the dead job's heartbeat goes stale
        reconcile()
        assert db.session.get(Generation, killed_id, populate_existing=True).logical_status == FAILED
        assert _names_of(killed_id) == 0, "a failed generation without continue-on-error keeps nothing"

        job_retry(db.session.get(Generation, killed_id))
        start()
        retried = _finished(killed_id)
        assert retried.logical_status == SUCCEEDED, retried.error_message
        clean = _finished(_generate(clean_ws, rules[clean_ws.id], admin, auto_increment=auto_increment))
        assert clean.logical_status == SUCCEEDED, clean.error_message

        size = 2 * PROJECTS * REGIONS
        assert _names_of(killed_id) == _names_of(clean.id) == size
        assert retried.result_count == clean.result_count == size
        assert _values(killed_ws.id) == _values(clean_ws.id)  # the same names, each once
        if auto_increment:
            assert (retried.result or {}).get("incremented") == (clean.result or {}).get("incremented") == 2 * 20 * REGIONS

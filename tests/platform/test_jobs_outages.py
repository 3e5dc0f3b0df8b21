"""Jobs through real outages, with real worker processes: Redis restarted mid-work, PostgreSQL restarted
mid-job, a worker and its work-horse killed (then Retry), no worker at all.

Services mode only (TEST_REDIS_URL), like test_jobs_processes.py: each test runs its
own redis-server on a free port (and, for the PostgreSQL restart, its own cluster via
initdb/pg_ctl), so restarting them touches nothing else. Each test is bounded to
seconds: the workers run with short heartbeats and reconcile intervals.
"""
from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa
from flask import render_template

from app.accounts.models import Organization
from app.extensions import db
from app.platform import storage
from app.platform.jobs import (
    FAILED, RUNNING, SUCCEEDED, BackgroundTask, announce_worker, get_connection, job_retry, kind_of,
    workers_alive,
)
from tests.conftest import make_test_app, require
from tests.factories import make_organization
from tests.platform.sample_jobs import (
    PrivatePostgres, calls, db_sleep_marker, descendants, dispose_app, fresh, kill_now, sample_file_path, submit,
    wait_for_row, work_horses,
)

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"),
    reason="mode restriction, not a missing service: restarting Redis/PostgreSQL and killing worker processes "
           "needs the services backend (TEST_REDIS_URL); the embedded queue runs inside the test process",
)

# A worker that notices death and outages in about a second, and reconciles every second by itself.
FAST = dict(JOB_MONITORING_INTERVAL="1", JOB_STALE_AFTER_SECONDS="3", PERIODIC_TICK_SECONDS="1",
            JOB_RECONCILE_INTERVAL_SECONDS="1", JOB_RECONCILE_GRACE_SECONDS="1", WORKER_HEARTBEAT_SECONDS="1",
            JOB_RETRY_BACKOFF_SECONDS="1")


def _wait_all(ids: list[int], timeout: float) -> list[BackgroundTask]:
    return [wait_for_row(i, lambda r: r.is_terminal, timeout=timeout, what="finished") for i in ids]


def test_a_redis_restart_with_jobs_queued_and_running_needs_no_manual_step(private_redis, app_on_private_redis,
                                                                            workers):
    app = app_on_private_redis()
    worker = workers(beat=True, **FAST)
    with app.app_context():
        org = make_organization("Outage Inc")
        running = submit(org, sleep=3).id
        wait_for_row(running, lambda r: r.status == RUNNING and r.progress > 10, what="running")
        queued = [submit(org).id for _ in range(3)]  # one worker, busy: these wait in Redis
        private_redis.restart()  # killed and started again, without persistence: the queue is gone

        rows = _wait_all([running, *queued], timeout=30)
        assert [r.status for r in rows] == [SUCCEEDED] * 4, [r.error_message for r in rows]
        assert worker.poll() is None, "the worker quit on the outage"
        assert rows[0].attempts == 1  # the running job went on in its work-horse
        assert all(r.attempts == 2 for r in rows[1:])  # the lost ones were re-queued by the worker's reconciler
        assert all(r.result["calls"] == 1 for r in rows[1:])  # each counted once on the new (empty) Redis


def test_an_idle_worker_survives_redis_being_down_for_a_while(private_redis, app_on_private_redis, workers):
    app = app_on_private_redis()
    worker = workers(beat=True, **FAST)
    private_redis.kill()
    time.sleep(3)  # several failed dequeues, heartbeats and ticks
    assert worker.poll() is None
    private_redis.start()  # same port, empty
    with app.app_context():
        org = make_organization("Patience Ltd")
        row = _wait_all([submit(org).id], timeout=20)[0]
        assert row.status == SUCCEEDED, row.error_message


def test_a_postgresql_restart_mid_job_is_retried_and_noted_not_failed(backend, private_redis, workers):
    require(PrivatePostgres.available(), "a private PostgreSQL cluster needs root, runuser and initdb")
    pg = PrivatePostgres().start()
    app = None
    try:
        app = make_test_app(backend, SQLALCHEMY_DATABASE_URI=pg.url, REDIS_URL=private_redis.url)
        with app.app_context():
            for extension in ("pg_trgm", "btree_gin", "fuzzystrmatch"):  # as the migrations do
                db.session.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS {extension}"))
            db.session.commit()
            db.create_all()  # the models' schema, which test_migrations proves the migrations build
        workers(DATABASE_URL=pg.url, **FAST)
        with app.app_context():
            org = make_organization("Restart Db")
            # The first run holds a statement in the database (pg_sleep) when the restart comes: the restart
            # lands during a statement, every time (between statements the pool's pre-ping would reconnect
            # and the job never notice: not what this test is about).
            row_id = submit(org, db_sleep=30).id
            wait_for_row(row_id, lambda r: r.status == RUNNING and r.progress_message == "In the database",
                         what="in the database")
            _wait_for_statement(row_id)
            db.session.remove()  # this test's connection back to the pool (closed below: the restart cuts it)
            pg.restart()  # every connection is cut mid-job
            db.engine.dispose()
            row = wait_for_row(row_id, lambda r: r.is_terminal, timeout=30, what="finished")
            assert row.status == SUCCEEDED, row.error_message
            assert (row.attempts, calls(row_id)) == (2, 2)
            assert row.error_message.startswith("Retried automatically after the database ")
            assert "worker" not in (row.error_message or "")
    finally:
        if app is not None:
            dispose_app(app)
        pg.stop()


def _wait_for_statement(row_id: int, timeout: float = 15.0) -> int:
    """The server process (pid) running the job's marked pg_sleep, once it runs."""
    deadline = time.time() + timeout
    while True:
        pid = db.session.scalar(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE :marker AND pid <> "
            "pg_backend_pid()"), {"marker": f"%{db_sleep_marker(row_id)}%"})
        db.session.rollback()
        if pid is not None:
            return pid
        assert time.time() < deadline, "the job's statement never showed in pg_stat_activity"
        time.sleep(0.1)


def test_a_job_whose_connection_is_cut_mid_statement_is_retried_with_a_note(backend, app_on_private_redis,
                                                                          workers):
    """Deterministic, on the suite's own database and without restarting any server: the job's connection is
    terminated (pg_terminate_backend, what a server restart does to it) while the job is inside a statement.
    The run fails transiently, the row is re-queued with a note and an Activity entry, the second run succeeds,
    and the worker lends its next work-horse a fresh connection (the cut one was not handed back clean)."""
    require(backend["postgres"], "PostgreSQL (pg_terminate_backend and pg_sleep)")
    from app.accounts.models import AuditEvent

    app = app_on_private_redis()
    workers(**FAST)
    with app.app_context():
        org = make_organization("Cut Connection")
        row_id = submit(org, db_sleep=30).id
        wait_for_row(row_id, lambda r: r.status == RUNNING and r.progress_message == "In the database",
                     what="in the database")
        pid = _wait_for_statement(row_id)
        assert db.session.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}) is True
        db.session.commit()
        row = wait_for_row(row_id, lambda r: r.is_terminal, timeout=30, what="finished")
        assert row.status == SUCCEEDED, row.error_message
        assert (row.attempts, calls(row_id)) == (2, 2)
        assert row.error_message == ("Retried automatically after the database connection was lost "
                                     "(attempt 1 of 3).")
        actions = db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.object_id == row_id, AuditEvent.action.like("job_%"))).all()
        assert actions == ["job_retried"]
        # The next job runs on a healthy connection (the worker did not lend the cut one again).
        again = submit(org).id
        assert wait_for_row(again, lambda r: r.is_terminal, timeout=20, what="finished").status == SUCCEEDED


def test_a_killed_worker_and_horse_are_found_by_another_worker_and_retry_makes_one_clean_file(
        app_on_private_redis, workers):
    app = app_on_private_redis()
    doomed = workers(**FAST)
    with app.app_context():
        org = make_organization("Kill Nine")
        row_id = submit(org, file_lines=150, line_pause=0.01).id
        wait_for_row(row_id, lambda r: r.status == RUNNING and r.progress > 20, what="writing")
        assert len(work_horses(doomed.pid)) == 1
        kill_now(doomed.pid, *descendants(doomed.pid))
        doomed.wait(10)
        killed_at = time.time()
        workers(beat=True, **FAST)  # the survivor reconciles by itself: no manual step

        row = wait_for_row(row_id, lambda r: r.status == FAILED, timeout=20, what="failed")
        assert time.time() - killed_at < 25  # stale after 3 s, reconciled every 1 s, plus a loaded CI machine
        assert row.error_message.startswith("The worker running this job stopped responding")
        final = storage.resolve(sample_file_path(row_id))
        assert not final.exists()  # half a file is never published

        job_retry(row)
        row = wait_for_row(row_id, lambda r: r.is_terminal, timeout=20, what="finished")
        assert row.status == SUCCEEDED, row.error_message
        assert final.read_text() == "".join(f"line {n}\n" for n in range(150))  # exactly one clean run's file
        storage.sweep_partials(max_age_seconds=0)  # the killed run's .part: the hourly sweep's job
        assert sorted(p.name for p in final.parent.iterdir()) == [final.name]


def _status_panel(app, row) -> str:
    with app.test_request_context():
        return render_template("platform/_job_status.html", job=row, kind=kind_of(row))


def test_the_status_panel_says_waiting_for_a_worker_when_none_is_alive(app_on_private_redis, workers):
    app = app_on_private_redis(WORKER_ALIVE_SECONDS=3)
    with app.app_context():
        org = make_organization("Nobody Home")
        org_id = org.id
        row = submit(org)
        assert "Waiting for a worker:" in _status_panel(app, fresh(row.id))
        announce_worker(get_connection(), "elsewhere:1", now=time.time() - 10)  # heard from too long ago
        assert "Waiting for a worker:" in _status_panel(app, fresh(row.id))

    workers(WORKER_HEARTBEAT_SECONDS="1")
    with app.app_context():
        row = wait_for_row(row.id, lambda r: r.is_terminal, what="finished")
        assert row.status == SUCCEEDED
        with app.test_request_context():
            assert workers_alive() is True
        queued = fresh(submit(db.session.get(Organization, org_id), sleep=1).id)
        assert "Waiting for a worker:" not in _status_panel(app, queued)


def test_a_killed_export_fails_and_its_retry_makes_exactly_one_clean_file(app_on_private_redis, workers):
    import json

    from app.exports import services
    from app.exports.models import ExportAuditLog, ExportRequest
    from tests.exports.conftest import add_entries
    from tests.factories import make_member

    import time

    started = time.time() - 1  # this process's earlier tests left their own files in the same folder
    app = app_on_private_redis()
    slow = dict(FAST, EXPORTS_BATCH_SIZE="20", EXPORTS_REPORT_EVERY_BATCH="1")  # slow enough to kill halfway
    doomed = workers(**slow)
    with app.app_context():
        org = make_organization("Kill Exports")
        user = make_member(org, "admin", "kill@exports.example.com")
        add_entries(user, 6_000)
        row = services.export_request_create(actor=services.Actor(user), title="Killed", format="json",
                                             dataset="time_entries", fields=["date", "project", "task"])
        row_id = row.id
        wait_for_row(row_id, lambda r: r.status == "processing" and r.progress > 5, what="running",
                     model=ExportRequest)
        kill_now(doomed.pid, *descendants(doomed.pid))
        doomed.wait(10)
        workers(beat=True, **slow)  # finds the dead job by itself, then runs the retry
        row = wait_for_row(row_id, lambda r: r.status == "failed", timeout=20, what="failed", model=ExportRequest)
        assert "stopped responding" in row.error_message and row.file_path == ""

        job_retry(row)
        row = wait_for_row(row_id, lambda r: r.is_terminal, timeout=60, what="finished", model=ExportRequest)
        assert row.status == "completed", row.error_message
        path = storage.resolve(row.file_path)
        records = json.loads(path.read_bytes())
        assert len(records) == row.row_count == 6_000  # one clean run: every entry once
        assert len({(r["date"], r["task"]) for r in records}) == 6_000
        actions = db.session.scalars(sa.select(ExportAuditLog.action).where(
            ExportAuditLog.export_request_id == row_id).order_by(ExportAuditLog.id)).all()
        assert actions.count("completed") == 1 and actions.count("failed") == 1, actions
        storage.sweep_partials(max_age_seconds=0)  # the killed run's .part file
        storage.sweep_work_dirs(max_age_seconds=0)
        assert [p.name for p in path.parent.iterdir() if p.stat().st_mtime >= started] == [path.name]

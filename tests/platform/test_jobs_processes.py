"""Jobs against real process failures: a Redis server restarted, a worker killed.

Services mode only (TEST_REDIS_URL): the embedded queue lives inside the test
process, so there is no separate Redis or worker to kill; test_jobs.py covers
the embedded equivalents (a flushed fake server). Each test runs its own
redis-server on a free port and its own `flask worker`, so killing them
touches nothing else.
"""
from __future__ import annotations

import os
import time

import pytest
from rq import Queue
from rq.job import Job, JobStatus

from app.platform.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, get_connection, reconcile
from tests.conftest import require
from tests.factories import make_organization
from tests.platform.sample_jobs import (
    calls, descendants, fresh, kill_now, submit, wait_for_row, work_horses,
)

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"),
    reason="mode restriction, not a missing service: killing and restarting Redis and a worker process needs the "
           "services backend (TEST_REDIS_URL); the embedded queue runs inside the test process",
)


def test_jobs_lost_in_a_real_redis_restart_are_requeued_and_complete(private_redis, app_on_private_redis, workers):
    app = app_on_private_redis()
    with app.app_context():
        org = make_organization("Restart Inc")
        ids = [submit(org).id for _ in range(3)]  # no worker yet: the jobs wait in Redis
        assert Queue("default", connection=get_connection()).count == 3

        private_redis.restart()  # killed and started again, without persistence
        assert Queue("default", connection=get_connection()).count == 0
        assert [fresh(i).status for i in ids] == [QUEUED] * 3  # the rows still say queued

        assert reconcile() == {"requeued": 3, "failed": 0, "dispatched": 3}
        assert Queue("default", connection=get_connection()).count == 3

    workers()
    with app.app_context():
        for row_id in ids:
            row = wait_for_row(row_id, lambda r: r.is_terminal, what="finished")
            assert row.status == SUCCEEDED, row.error_message
            assert row.attempts == 2 and calls(row_id) == 1


def test_killed_worker_and_horse_leave_the_row_failed_not_running(app_on_private_redis, workers):
    app = app_on_private_redis(JOB_STALE_AFTER_SECONDS=3)
    worker = workers(JOB_MONITORING_INTERVAL="1")
    with app.app_context():
        org = make_organization("Crash Corp")
        row_id = submit(org, sleep=60).id
        job_id = fresh(row_id).rq_job_id
        wait_for_row(row_id, lambda r: r.status == RUNNING and r.progress > 10, what="running")
        horses = work_horses(worker.pid)
        assert len(horses) == 1, horses

        # The machine "crashes": the worker, its horse (own process group) and the scheduler all die at once.
        everyone = [worker.pid, *descendants(worker.pid)]
        kill_now(*everyone)
        worker.wait(10)
        killed_at = time.time()
        progress_at_kill = fresh(row_id).progress

        # Nothing is left to tell RQ: the job still looks started there.
        assert Job.fetch(job_id, connection=get_connection()).get_status() == JobStatus.STARTED
        while True:
            reconcile()
            row = fresh(row_id)
            if row.status != RUNNING:
                break
            assert time.time() - killed_at < 15, "the row stayed running"
            time.sleep(0.5)
        assert row.status == FAILED
        assert row.error_message.startswith("The worker running this job stopped responding")
        assert row.finished_at is not None
        assert time.time() - killed_at >= 2  # not before the heartbeat went stale (3 s, heartbeats every 1 s)
        time.sleep(0.5)
        assert fresh(row_id).progress == progress_at_kill  # the horse really is dead


def test_killed_horse_is_reported_by_its_worker_and_the_row_fails(app_on_private_redis, workers):
    app = app_on_private_redis(JOB_STALE_AFTER_SECONDS=3)
    worker = workers(JOB_MONITORING_INTERVAL="1")
    with app.app_context():
        org = make_organization("Oom Ltd")
        row_id = submit(org, sleep=60).id
        job_id = fresh(row_id).rq_job_id
        wait_for_row(row_id, lambda r: r.status == RUNNING and r.progress > 10, what="running")
        kill_now(*work_horses(worker.pid))  # e.g. the out-of-memory killer

        job = Job.fetch(job_id, connection=get_connection())
        deadline = time.time() + 10
        while job.get_status(refresh=True) != JobStatus.FAILED:
            assert time.time() < deadline, "the worker never recorded the dead horse"
            time.sleep(0.1)
        assert "Work-horse terminated unexpectedly" in job.latest_result().exc_string
        assert worker.poll() is None  # the worker survives its horse

        assert reconcile()["failed"] == 1
        row = fresh(row_id)
        assert row.status == FAILED
        assert row.error_message.startswith("The job stopped unexpectedly")


@pytest.mark.parametrize("horse_jobs", ["1", "100"], ids=["a-horse-per-job", "reused-horse"])
def test_work_horses_take_turns_on_one_connection_and_a_dirty_one_is_replaced(backend, app_on_private_redis,
                                                                             workers, horse_jobs):
    """PostgreSQL: the worker lends its work-horses one connection in turn (no connect per job), whether a
    horse serves one job or many. What a job leaves in the session (a session advisory lock) is dropped
    before the next job gets it; a horse that ends inside a transaction (as a kill would leave it) hands
    nothing back, and the next job runs on a new connection, with nothing of the dead one's transaction
    left."""
    require(backend["postgres"], "PostgreSQL (the connection hand-off is PostgreSQL's)")
    import sqlalchemy as sa

    from app.extensions import db

    app = app_on_private_redis()
    workers(JOB_MONITORING_INTERVAL="1", JOB_HORSE_MAX_JOBS=horse_jobs)
    with app.app_context():
        org = make_organization("Take Turns")

        def run(**params):
            row_id = submit(org, **params).id
            return wait_for_row(row_id, lambda r: r.is_terminal, timeout=20, what="finished")

        first, second = run(report_backend=True), run(report_backend=True, session_lock=424242)
        assert first.status == second.status == SUCCEEDED
        assert first.result["backend_pid"] == second.result["backend_pid"]  # the same server process
        # Not left held: the horse drops it right after the job (its row may say "succeeded" a moment before).
        deadline = time.time() + 5
        while not db.session.scalar(sa.text("SELECT pg_try_advisory_lock(424242)")):
            assert time.time() < deadline, "the job's session advisory lock was left held"
            db.session.rollback()
            time.sleep(0.05)
        db.session.execute(sa.text("SELECT pg_advisory_unlock(424242)"))
        db.session.commit()

        dead_id = submit(org, exit_in_transaction=True).id
        job = Job.fetch(fresh(dead_id).rq_job_id, connection=get_connection())
        deadline = time.time() + 15
        while job.get_status(refresh=True) != JobStatus.FAILED:  # the worker saw its horse end badly
            assert time.time() < deadline, "the worker never recorded the dead horse"
            time.sleep(0.1)
        assert reconcile()["failed"] == 1 and fresh(dead_id).status == FAILED
        after = run(report_backend=True)
        assert after.status == SUCCEEDED, after.error_message
        assert after.result["backend_pid"] != first.result["backend_pid"]
        gone = db.session.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                 {"pid": first.result["backend_pid"]})
        assert gone == 0  # the worker closed the one the dead horse left mid-transaction
        assert run(report_backend=True).result["backend_pid"] == after.result["backend_pid"]

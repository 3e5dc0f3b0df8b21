"""The worker's work-horse serves several jobs in turn (platform/reused_horse.py), within its bounds.

Real `flask worker` processes on a redis-server of the test's own, in both test
passes (SQLite and PostgreSQL): the horse a job ran in is the one in its result
(`report_pid`). What a reused horse must not change: a failed job, a full quota
of jobs or grown memory retire it; a horse killed while idle is replaced without
losing the next job; a killed worker leaves no idle horse behind. The kill -9 of
a horse mid-job is in test_jobs_processes.py and the kill tests of each job kind.
"""
from __future__ import annotations

import time

import pytest

from app.platform.jobs import FAILED, SUCCEEDED
from tests.factories import make_organization
from tests.platform.sample_jobs import kill_now, submit, wait_for_row, work_horses


def _run(org, **params):
    row_id = submit(org, report_pid=True, **params).id
    return wait_for_row(row_id, lambda r: r.is_terminal, timeout=30, what="finished")


def _horse_of(org, **params) -> int:
    row = _run(org, **params)
    assert row.status == SUCCEEDED, row.error_message
    return row.result["horse_pid"]


def _gone(pid: int, *, reaped: bool) -> bool:
    """Exited; and, with `reaped`, collected by its parent (a zombie still has its /proc entry). An orphan's
    new parent may never reap it here (PID 1 in a container), so `reaped=False` accepts a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return not reaped and handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _wait_gone(pid: int, *, reaped: bool = True, seconds: float = 15) -> None:
    deadline = time.time() + seconds
    while not _gone(pid, reaped=reaped):
        assert time.time() < deadline, f"process {pid} is still there"
        time.sleep(0.1)


def test_one_horse_serves_jobs_in_turn_until_its_quota(app_on_private_redis, workers):
    app = app_on_private_redis()
    worker = workers(JOB_HORSE_MAX_JOBS="3")
    with app.app_context():
        org = make_organization("Reuse Inc")
        pids = [_horse_of(org) for _ in range(5)]
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4], pids
    assert worker.pid not in pids  # the jobs ran in a horse, not in the worker
    assert work_horses(worker.pid) == [pids[4]]  # one idle horse waits for the next job
    _wait_gone(pids[0])  # the retired one exited and was reaped (not left as a zombie)


def test_a_failed_job_retires_its_horse(app_on_private_redis, workers):
    app = app_on_private_redis()
    workers()
    with app.app_context():
        org = make_organization("Fail Inc")
        first = _horse_of(org)
        failed = _run(org, mode="crash")
        assert failed.status == FAILED
        after = _horse_of(org)
    assert after != first  # whatever the failed job left in its process went with it
    _wait_gone(first)


def test_a_horse_grown_past_its_memory_bound_is_replaced(app_on_private_redis, workers):
    app = app_on_private_redis()
    workers(JOB_HORSE_MAX_GROWTH_MB="16")
    with app.app_context():
        org = make_organization("Grow Inc")
        first = _horse_of(org)
        assert _horse_of(org, grow_mb=4) == first  # within the bound: kept
        leaky = _horse_of(org, grow_mb=40)
        assert leaky == first
        after = _horse_of(org)
    assert after != first
    _wait_gone(first)


def test_a_horse_killed_while_idle_is_replaced_and_the_next_job_runs(app_on_private_redis, workers):
    app = app_on_private_redis()
    worker = workers()
    with app.app_context():
        org = make_organization("Idle Kill Inc")
        first = _horse_of(org)
        kill_now(first)
        _wait_gone(first, reaped=False)  # the worker notices (and reaps it) only when it sends the next job
        second = _run(org)
        assert second.status == SUCCEEDED and second.attempts == 1, second.error_message
        assert second.result["horse_pid"] != first
    assert worker.poll() is None


def test_a_killed_worker_leaves_no_idle_horse(app_on_private_redis, workers):
    app = app_on_private_redis()
    worker = workers()
    with app.app_context():
        org = make_organization("Orphan Inc")
        horse = _horse_of(org)
    kill_now(worker.pid)  # its pipe to the horse closes with it
    _wait_gone(horse, reaped=False)


def test_statements_psycopg_prepared_still_work_in_the_next_job(backend, app_on_private_redis, workers):
    """PostgreSQL: the reset between jobs leaves psycopg's own prepared statements alone (a DEALLOCATE ALL
    behind its back failed the next job with "prepared statement _pg3_0 does not exist")."""
    if not backend["postgres"]:
        pytest.skip("mode restriction: psycopg's server-side prepared statements are PostgreSQL's (its pass runs this)")
    app = app_on_private_redis()
    workers()
    with app.app_context():
        org = make_organization("Prepared Inc")
        first = _horse_of(org, prepared_on_second_connection=True)
        assert _horse_of(org, prepared_on_second_connection=True) == first

"""The background-jobs mechanism, through real queues and workers, in both test modes.

Embedded (default): SQLite + fakeredis; jobs run on a worker thread of this
process. Services (TEST_DATABASE_URL / TEST_REDIS_URL): PostgreSQL + Redis and a
real `flask worker` process (the `run_jobs` fixture starts it). Tests that need
a queue no worker watches (the reconciler) get a private redis-server in
services mode (`quiet` fixture). The process-level crashes (Redis restart,
killed worker) are in test_jobs_processes.py.
"""
from __future__ import annotations

import contextvars
import os
import shutil
import threading
import time

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from rq import Queue
from rq.job import Job, JobStatus

from app.extensions import db
from app.platform import jobs
from app.platform.jobs import (
    FAILED, QUEUED, RUNNING, SUCCEEDED, BackgroundTask, JobError, _mark_failed, beat_tick, execute, get_connection,
    get_queue, periodic_tasks, reconcile, run_embedded_jobs, start_embedded_worker,
)
from tests.conftest import make_test_app, require, worker_env
from tests.factories import make_organization
from tests.helpers import Auth
from tests.platform.sample_jobs import (
    INTERNAL_DETAIL, SAMPLE, PrivateRedis, calls, dispose_app, fresh, new_task, open_gate, submit, wait_for_row,
)

HX = {"HX-Request": "true"}


# --------------------------------------------------------------------------- fixtures
class Runner:
    """Runs jobs in the background while the test watches rows change.

    Embedded: a worker thread in this process (started by `start`). Services:
    the shared `flask worker` process, already running (it takes jobs at once).
    """

    def __init__(self, app, backend, run_jobs) -> None:
        self.app = app
        self.services = backend["redis"]
        self.run_jobs = run_jobs
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    def start(self) -> None:
        if self.services or self.thread is not None:
            return

        def loop() -> None:
            while not self.stopping.is_set():
                try:
                    run_embedded_jobs(self.app)
                except BaseException as exc:  # surfaced by stop()
                    self.errors.append(exc)
                    return
                self.stopping.wait(0.05)

        self.thread = threading.Thread(target=loop, name="test-job-runner", daemon=True)
        self.thread.start()

    def finish(self) -> None:
        """Let every job run to the end."""
        if self.services:
            self.run_jobs()
        self.stop()

    def stop(self) -> None:
        if self.thread is not None:
            self.stopping.set()
            self.thread.join(30)
            assert not self.thread.is_alive(), "the embedded job runner did not stop"
            self.thread = None
        assert not self.errors, self.errors


@pytest.fixture()
def runner(app, backend, run_jobs):
    runner = Runner(app, backend, run_jobs)
    yield runner
    runner.stop()


class Quiet:
    """An app whose queue no worker watches, and `drain()` to run its jobs to the end."""

    def __init__(self, app, backend, redis_server: PrivateRedis | None) -> None:
        self.app = app
        self.backend = backend
        self.redis_server = redis_server

    @property
    def connection(self):
        return self.app.extensions["cairn_redis"]

    def lose_queue(self) -> None:
        """What a Redis restart without persistence does to the queues."""
        self.connection.flushall()

    def drain(self) -> None:
        if self.redis_server is None:
            run_embedded_jobs(self.app)
            return
        import subprocess
        import sys

        from tests.conftest import ROOT

        result = subprocess.run([sys.executable, "-m", "flask", "worker", "--burst"], cwd=ROOT, timeout=60,
                                env=worker_env(self.backend, REDIS_URL=self.redis_server.url),
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture()
def quiet(app, backend):
    if not backend["redis"]:
        yield Quiet(app, backend, None)
        return
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = PrivateRedis(backend["tmp"]).start()
    private_app = make_test_app(backend, REDIS_URL=server.url)
    try:
        yield Quiet(private_app, backend, server)
    finally:
        dispose_app(private_app)
        server.kill()


class SeparateClient(FlaskClient):
    """Each request in its own context, as on a server: not the test's app context, `g` or session.

    (Flask reuses an already pushed app context, and Flask-WTF caches the CSRF
    token in `g`: the token minted before sign-in would then outlive it.)
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture()
def browser(app, admin):
    client = SeparateClient(app, app.response_class, use_cookies=True)
    auth = Auth(client)
    assert auth.login(admin.email).status_code == 302
    return client, auth


def _limit(organization, limit: int) -> None:
    organization.settings = {**(organization.settings or {}), "max_concurrent_jobs": limit}
    db.session.commit()


# --------------------------------------------------------------------------- 1. lifecycle
def test_submitted_row_goes_queued_running_succeeded_with_progress_on_the_row(app_ctx, org, runner, monkeypatch):
    committed_at_enqueue = []
    real_enqueue_call = Queue.enqueue_call

    def spy(self, func, args=None, **kwargs):
        if func == "app.platform.jobs.execute":
            # A separate connection sees only what is committed: the row must already carry this job id.
            with db.engine.connect() as conn:
                committed_at_enqueue.append((kwargs["job_id"], tuple(conn.execute(
                    sa.select(BackgroundTask.rq_job_id, BackgroundTask.status).where(BackgroundTask.id == args[1])
                ).one())))
        return real_enqueue_call(self, func, args=args, **kwargs)

    monkeypatch.setattr(Queue, "enqueue_call", spy)
    task = submit(org, gate=True)
    task_id = task.id
    job_id = fresh(task_id).rq_job_id
    assert job_id and job_id.startswith(f"{SAMPLE}-")  # a row submitted new has no id in its job id
    assert committed_at_enqueue == [(job_id, (job_id, QUEUED))]
    queued = fresh(task_id)
    assert queued.enqueued_at is not None and queued.attempts == 1
    assert tuple(Job.fetch(job_id, connection=get_connection()).args) == (SAMPLE, task_id)

    runner.start()
    running = wait_for_row(task_id, lambda r: r.status == RUNNING and r.progress == 50, what="running at 50 %")
    assert running.progress_message == "Waiting at the gate"
    assert running.started_at is not None and running.finished_at is None
    assert running.status_label == "Running"

    open_gate(task_id)
    done = wait_for_row(task_id, lambda r: r.is_terminal, what="finished")
    assert done.status == SUCCEEDED, done.error_message
    assert done.progress == 100 and done.error_message is None
    assert done.result == {"calls": 1, "answer": 42}
    assert done.started_at <= done.finished_at and done.duration_seconds >= 0
    assert done.rq_job_id == job_id
    assert calls(task_id) == 1


# --------------------------------------------------------------------------- 2. failure
@pytest.mark.parametrize("mode", ["job_error", "crash"])
def test_failing_handler_marks_row_failed_readably_and_rq_records_the_failure(app_ctx, org, run_jobs, mode):
    task = submit(org, mode=mode, message="The file you chose is empty.")
    task_id, job_id = task.id, fresh(task.id).rq_job_id
    run_jobs()
    row = fresh(task_id)
    assert row.status == FAILED and row.finished_at is not None
    if mode == "job_error":
        assert row.error_message == "The file you chose is empty."
    else:
        assert row.error_message.startswith("Unexpected error (ValueError).")
        assert job_id in row.error_message  # what support searches the logs for
        assert INTERNAL_DETAIL not in row.error_message
    job = Job.fetch(job_id, connection=get_connection())
    assert job.get_status() == JobStatus.FAILED
    assert ("JobError" if mode == "job_error" else INTERNAL_DETAIL) in job.latest_result().exc_string


def test_a_job_over_its_time_limit_is_stopped_and_its_row_failed(app, app_ctx, org, run_jobs, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_TIMEOUT_SECONDS", 1)  # read when the job is enqueued
    row_id = submit(org, sleep=10).id
    job_id = fresh(row_id).rq_job_id
    started = time.time()
    run_jobs()
    assert time.time() - started < 8
    row = fresh(row_id)
    assert row.status == FAILED
    assert row.error_message.startswith("The job took longer than its limit of 1 second and was stopped.")
    assert row.progress < 99 and row.result == {}
    assert Job.fetch(job_id, connection=get_connection()).get_status() == JobStatus.FAILED


def test_execute_reraises_after_marking_the_row_failed(app, app_ctx, org):
    refused = new_task(org, mode="job_error", message="Nothing to purge.")
    with app.app_context():  # like a worker: its own session
        with pytest.raises(JobError, match="Nothing to purge."):
            execute(SAMPLE, refused.id)
    crashed = new_task(org, mode="crash")  # created after: the dispatch that follows a job would enqueue it
    with app.app_context():
        with pytest.raises(ValueError, match=INTERNAL_DETAIL):
            execute(SAMPLE, crashed.id)
    assert (fresh(refused.id).status, fresh(refused.id).error_message) == (FAILED, "Nothing to purge.")
    assert fresh(crashed.id).status == FAILED
    assert fresh(crashed.id).error_message.startswith("Unexpected error (ValueError). It has been logged as inline")


# --------------------------------------------------------------------------- 3. idempotency
def test_duplicate_delivery_produces_one_result(app_ctx, org, run_jobs):
    task = submit(org)
    task_id, job_id = task.id, fresh(task.id).rq_job_id
    # The same message delivered again (RQ re-delivers by id; a retry after a network error does this).
    get_queue().enqueue_call("app.platform.jobs.execute", args=(SAMPLE, task_id), job_id=job_id)
    run_jobs()
    row = fresh(task_id)
    assert row.status == SUCCEEDED and row.result == {"calls": 1, "answer": 42}
    assert calls(task_id) == 1
    finished_at = row.finished_at

    get_queue().enqueue_call("app.platform.jobs.execute", args=(SAMPLE, task_id), job_id=job_id)
    run_jobs()
    again = fresh(task_id)
    assert calls(task_id) == 1
    assert (again.status, again.finished_at, again.result) == (SUCCEEDED, finished_at, {"calls": 1, "answer": 42})


def test_two_deliveries_at_once_claim_the_row_once(app, app_ctx, org):
    task_id = new_task(org, sleep=0.4).id  # read here: the threads must not touch the test's session
    barrier = threading.Barrier(2)
    outcomes: list = []

    def deliver() -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(execute(SAMPLE, task_id))
            except BaseException as exc:  # reported below
                outcomes.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert calls(task_id) == 1
    assert sorted(outcomes, key=lambda o: o is None) == [
        {"kind": SAMPLE, "row_id": task_id, "status": SUCCEEDED}, None]
    assert fresh(task_id).status == SUCCEEDED


def test_late_failure_report_never_overwrites_success(app_ctx, org, run_jobs):
    task = submit(org)
    task_id, job_id = task.id, fresh(task.id).rq_job_id
    run_jobs()
    assert fresh(task_id).status == SUCCEEDED
    # e.g. RQ's maintenance calling a job "abandoned" after it finished (rq #2289)
    assert _mark_failed(BackgroundTask, task_id, job_id, "Abandoned") is False
    assert _mark_failed(BackgroundTask, task_id, None, "Abandoned") is False
    row = fresh(task_id)
    assert (row.status, row.error_message) == (SUCCEEDED, None)
    assert reconcile()["failed"] == 0
    assert fresh(task_id).status == SUCCEEDED


def test_failure_report_of_a_superseded_job_leaves_the_requeued_row_alone(app_ctx, org):
    row = new_task(org)  # re-queued by the reconciler: waiting, no job id yet
    assert _mark_failed(BackgroundTask, row.id, "test_sample-1-oldjob", "Work-horse died") is False
    assert (fresh(row.id).status, fresh(row.id).error_message) == (QUEUED, None)


def test_a_job_whose_row_was_failed_meanwhile_stops_at_its_next_progress_report(app, app_ctx, org, runner):
    task = submit(org, gate=True, sleep=0.6)
    task_id = task.id
    runner.start()
    running = wait_for_row(task_id, lambda r: r.status == RUNNING and r.progress == 50, what="running")
    # The reconciler (or an admin) gave up on it while it was still running.
    db.session.execute(sa.update(BackgroundTask).where(BackgroundTask.id == task_id).values(
        status=FAILED, error_message="Given up.", finished_at=running.started_at))
    db.session.commit()
    open_gate(task_id)
    runner.finish()
    row = fresh(task_id)
    assert (row.status, row.error_message, row.progress, row.result) == (FAILED, "Given up.", 50, {})


# --------------------------------------------------------------------------- 4. per-organization limit
def test_organization_limit_keeps_a_second_row_waiting_until_a_slot_frees(app_ctx, make_org, runner):
    acme, globex = make_org("Acme Jobs"), make_org("Globex Jobs")
    _limit(acme, 1)
    _limit(globex, 1)
    first = submit(acme, gate=True)
    second = submit(acme)
    other = submit(globex, gate=True)
    first_id, second_id, other_id = first.id, second.id, other.id

    waiting = fresh(second_id)
    assert (waiting.status, waiting.rq_job_id) == (QUEUED, None)
    assert waiting.status_label == "Waiting for a free slot"
    assert fresh(other_id).rq_job_id is not None  # the other organization is not blocked
    assert fresh(other_id).status_label in ("Queued", "Running")

    runner.start()
    wait_for_row(first_id, lambda r: r.status == RUNNING, what="running")
    time.sleep(0.3)
    assert fresh(second_id).rq_job_id is None  # still no slot while the first runs

    open_gate(other_id)
    open_gate(first_id)
    done = [wait_for_row(i, lambda r: r.is_terminal, what="finished") for i in (first_id, second_id, other_id)]
    assert [r.status for r in done] == [SUCCEEDED] * 3
    first_done, second_done, _ = done
    assert second_done.started_at >= first_done.finished_at
    assert second_done.attempts == 1


def test_cheap_kinds_do_not_take_a_slot(app_ctx, org, monkeypatch, run_jobs):
    monkeypatch.setattr(jobs.job_kinds[SAMPLE], "expensive", False)
    _limit(org, 1)
    ids = [submit(org).id for _ in range(3)]
    assert all(fresh(i).rq_job_id is not None for i in ids)
    run_jobs()
    assert [fresh(i).status for i in ids] == [SUCCEEDED] * 3


# --------------------------------------------------------------------------- 5. reconciler
def test_reconcile_requeues_jobs_the_queue_lost_and_they_complete(quiet):
    with quiet.app.app_context():
        org = make_organization("Initech")
        ids = [submit(org).id for _ in range(2)]
        old_job_ids = [fresh(i).rq_job_id for i in ids]
        assert reconcile() == {"requeued": 0, "failed": 0, "dispatched": 0}  # jobs present: left alone

        quiet.lose_queue()
        assert reconcile() == {"requeued": 2, "failed": 0, "dispatched": 2}
        for row_id, old in zip(ids, old_job_ids):
            row = fresh(row_id)
            assert row.status == QUEUED and row.rq_job_id not in (None, old)
            assert row.attempts == 2
            assert row.progress_message.startswith("Re-queued: the job queue lost this job")
            assert Job.fetch(row.rq_job_id, connection=get_connection()).get_status() == JobStatus.QUEUED
    quiet.drain()
    with quiet.app.app_context():
        for row_id in ids:
            row = fresh(row_id)
            assert row.status == SUCCEEDED, row.error_message
            assert calls(row_id) == 1


def test_reconcile_fails_a_row_whose_attempts_are_used_up(quiet, monkeypatch):
    monkeypatch.setitem(quiet.app.config, "JOB_MAX_ATTEMPTS", 2)
    with quiet.app.app_context():
        org = make_organization("Initrode")
        row_id = submit(org).id
        quiet.lose_queue()
        assert reconcile()["requeued"] == 1  # attempt 2 of 2
        quiet.lose_queue()
        assert reconcile() == {"requeued": 0, "failed": 1, "dispatched": 0}
        row = fresh(row_id)
        assert row.status == FAILED and row.finished_at is not None
        assert row.error_message == ("The job queue lost this job (was Redis restarted?) and it was tried "
                                     "2 times. Press Retry to run it again.")
        from app.accounts.models import AuditEvent  # each repair is on the Activity page as well

        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_id == row_id,
                                                                AuditEvent.action.like("job_%"))
                                    .order_by(AuditEvent.id)).all()
        assert [(e.action, e.changes["by"]) for e in events] == [("job_requeued", "reconciler"),
                                                                 ("job_failed", "reconciler")]
        assert events[0].changes["reason"] == jobs.LOST_MESSAGE
        assert events[1].changes["reason"] == row.error_message


def test_reconcile_fails_a_row_whose_job_died_in_rq(quiet):
    with quiet.app.app_context():
        org = make_organization("Vandelay")
        row_id = submit(org).id
        job = Job.fetch(fresh(row_id).rq_job_id, connection=get_connection())
        job.set_status(JobStatus.FAILED)  # what RQ records when a work-horse is killed
        assert reconcile()["failed"] == 1
        row = fresh(row_id)
        assert row.status == FAILED
        assert row.error_message.startswith("The job stopped unexpectedly")


def test_reconcile_tells_the_kind_about_a_failure_its_handler_never_saw(quiet, monkeypatch):
    told = []
    monkeypatch.setattr(jobs.job_kinds[SAMPLE], "on_reconciled_failure", lambda row_id, reason: told.append(
        (row_id, reason)))
    with quiet.app.app_context():
        org = make_organization("Kramerica")
        row_id = submit(org).id
        Job.fetch(fresh(row_id).rq_job_id, connection=get_connection()).set_status(JobStatus.FAILED)
        assert reconcile()["failed"] == 1
        assert told == [(row_id, fresh(row_id).error_message)]
        assert reconcile()["failed"] == 0 and len(told) == 1  # once


def test_reconcile_leaves_young_rows_alone(quiet, monkeypatch):
    monkeypatch.setitem(quiet.app.config, "JOB_RECONCILE_GRACE_SECONDS", 60)
    with quiet.app.app_context():
        org = make_organization("Hooli Young")
        row_id = submit(org).id
        quiet.lose_queue()
        assert reconcile() == {"requeued": 0, "failed": 0, "dispatched": 0}
        assert fresh(row_id).status == QUEUED


# --------------------------------------------------------------------------- 7. periodic beat
def test_beat_enqueues_each_periodic_task_once_per_slot_across_workers(app_ctx, monkeypatch):
    # On a queue no worker reads: the suite's shared worker process would otherwise run the real
    # reconcile enqueued here, and it dispatches rows later tests deliberately leave waiting.
    for task in periodic_tasks.values():
        monkeypatch.setattr(task, "queue", "beat-test")
    day = 86400
    now = 20_000 * day + 5.0  # the same slot for every interval up to a day, for a few seconds
    results: list[list[str]] = []
    barrier = threading.Barrier(2)

    def worker_tick() -> None:
        with app_ctx.app_context():
            barrier.wait()
            results.append(beat_tick(now))

    threads = [threading.Thread(target=worker_tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 2
    assert sorted(results[0] + results[1]) == sorted(periodic_tasks)  # each task once, by one of the two
    assert beat_tick(now + 1) == []  # a later tick in the same slot
    connection = get_connection()
    for name, task in periodic_tasks.items():
        job = Job.fetch(f"periodic-{name}-{int(now // task.interval())}", connection=connection)
        assert tuple(job.args) == (name,)
    assert sorted(beat_tick(now + day)) == sorted(periodic_tasks)  # the next slot fires again


# --------------------------------------------------------------------------- 8. status fragment and Jobs page
def _status_url(row) -> str:
    return f"/jobs/{SAMPLE}/{row.id}/status"


def _retry_url(row) -> str:
    return f"/jobs/{SAMPLE}/{row.id}/retry"


def test_status_fragment_polls_until_terminal_and_failed_panel_retries(browser, admin, org, run_jobs):
    client, auth = browser
    waiting = new_task(org)
    running = new_task(org, status=RUNNING)
    done = new_task(org, status=SUCCEEDED)
    failed = new_task(org, status=FAILED, gate=True)  # the retried run waits at the gate: the panel must poll
    failed.error_message = "The sample job refused: bad input."
    failed.requested_by_id = admin.id
    db.session.commit()

    body = client.get(_status_url(waiting), headers=HX).get_data(as_text=True)
    assert f'id="job-{SAMPLE}-{waiting.id}"' in body
    assert 'hx-trigger="every 1s"' in body and f'hx-get="{_status_url(waiting)}"' in body
    assert "Waiting for a free slot" in body and "<html" not in body
    assert 'hx-trigger="every 1s"' in client.get(_status_url(running), headers=HX).get_data(as_text=True)

    body = client.get(_status_url(done), headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in body and "hx-get" not in body and "Succeeded" in body

    body = client.get(_status_url(failed), headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in body and "hx-get" not in body
    assert "The sample job refused: bad input." in body
    assert f'hx-post="{_retry_url(failed)}"' in body and ">Retry</button>" in body

    page = client.get(_status_url(failed))  # no HX-Request: the whole page around the panel
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)

    # Retry without the CSRF token is refused and changes nothing.
    assert client.post(_retry_url(failed), headers=HX).status_code == 400
    assert fresh(failed.id).status == FAILED

    response = auth.post(_retry_url(failed), headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in body and "The sample job refused" not in body
    row = fresh(failed.id)
    assert row.status in (QUEUED, RUNNING, SUCCEEDED) and row.error_message is None and row.attempts == 1
    assert row.rq_job_id is not None

    open_gate(failed.id)
    run_jobs()
    body = client.get(_status_url(failed), headers=HX).get_data(as_text=True)
    assert fresh(failed.id).status == SUCCEEDED
    assert "hx-trigger" not in body and "Succeeded" in body


def test_other_organizations_jobs_answer_404_and_the_jobs_page_lists_own_rows(browser, org, make_org):
    client, auth = browser
    mine = [new_task(org), new_task(org, status=FAILED)]
    globex = make_org("Globex Other")
    theirs = new_task(globex, status=FAILED)

    assert client.get(_status_url(theirs), headers=HX).status_code == 404
    assert client.get(_status_url(theirs)).status_code == 404
    assert auth.post(_retry_url(theirs), headers=HX).status_code == 404
    assert fresh(theirs.id).status == FAILED
    assert client.get(f"/jobs/purge_trash/{mine[0].id}/status").status_code == 404  # wrong kind for the row
    assert client.get(f"/jobs/no_such_kind/{mine[0].id}/status").status_code == 404

    body = client.get("/jobs").get_data(as_text=True)
    for row in mine:
        assert f'id="job-{SAMPLE}-{row.id}"' in body
    assert f'id="job-{SAMPLE}-{theirs.id}"' not in body
    failed_only = client.get("/jobs?status=failed").get_data(as_text=True)
    assert f'id="job-{SAMPLE}-{mine[1].id}"' in failed_only and f'id="job-{SAMPLE}-{mine[0].id}"' not in failed_only


def test_only_a_failed_job_can_be_retried(browser, org):
    client, auth = browser
    done = new_task(org, status=SUCCEEDED)
    response = auth.post(_retry_url(done), headers=HX)
    assert response.status_code == 200
    assert fresh(done.id).status == SUCCEEDED and fresh(done.id).attempts == 0


def test_retry_and_panels_are_for_admins_and_the_requester(app, org, make_user, admin):
    agent = make_user(org, "agent", "agent@acme.example.com")
    theirs = new_task(org, status=FAILED)
    theirs.requested_by_id = admin.id
    own = new_task(org, status=FAILED)
    own.requested_by_id = agent.id
    db.session.commit()
    client = SeparateClient(app, app.response_class, use_cookies=True)
    auth = Auth(client)
    assert auth.login(agent.email).status_code == 302

    # An agent doesn't even see an admin's task (it answers 404, like another member's pages).
    assert client.get(_status_url(theirs), headers=HX).status_code == 404
    assert auth.post(_retry_url(theirs), headers=HX).status_code == 404
    assert fresh(theirs.id).status == FAILED

    assert ">Retry</button>" in client.get(_status_url(own), headers=HX).get_data(as_text=True)
    assert auth.post(_retry_url(own), headers=HX).status_code == 200
    assert fresh(own.id).status != FAILED


# --------------------------------------------------------------------------- the embedded worker of `make run`
@pytest.mark.skipif(bool(os.environ.get("TEST_REDIS_URL")),
                    reason="mode restriction: the in-process worker exists only on the embedded queue (no REDIS_URL)")
def test_embedded_worker_started_by_the_first_request_runs_jobs_while_the_page_polls(app, backend, org, admin):
    web = make_test_app(backend, EMBEDDED_WORKER=True)  # what `make run` serves without Redis
    client = SeparateClient(web, web.response_class, use_cookies=True)
    auth = Auth(client)
    assert auth.login(admin.email).status_code == 302
    worker = web.extensions["cairn_embedded_worker"]
    try:
        assert worker.is_alive() and start_embedded_worker(web) is worker  # one per app
        with web.app_context():
            row_id = submit(org, sleep=1.5).id  # reports progress every 0.2 s from the worker thread
        seen, body = set(), ""
        deadline = time.time() + 20
        while time.time() < deadline:  # the web thread reads the SQLite file while the worker writes it
            response = client.get(f"/jobs/{SAMPLE}/{row_id}/status", headers=HX)
            assert response.status_code == 200
            body = response.get_data(as_text=True)
            seen.add(body.split('data-status="', 1)[1].split('"', 1)[0])
            if "hx-trigger" not in body:
                break
            time.sleep(0.05)
        assert "running" in seen and "Succeeded" in body and "hx-trigger" not in body
        with web.app_context():
            assert fresh(row_id).status == SUCCEEDED and calls(row_id) == 1
    finally:
        worker.stop()
        worker.join(10)
        dispose_app(web)
    assert not worker.is_alive()


def test_a_members_job_panel_is_hidden_from_other_non_admin_members(app, org, admin, make_user):
    """Another member's background work (e.g. an admin's purge) answers 404 and is not listed."""
    from app.accounts.services import task_start
    from tests.helpers import signed_in

    task = task_start(organization=org, actor=admin, kind="purge_trash")
    org.settings = {**(org.settings or {}), "customer_access": ["jobs"]}  # else customers get 403 on all of /jobs
    db.session.commit()
    customer = make_user(org, "customer", "cust@acme.example.com")
    client, _ = signed_in(app, customer)
    url = f"/jobs/purge_trash/{task.id}/status"
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 404
    assert f'id="job-purge_trash-{task.id}"' not in client.get("/jobs").get_data(as_text=True)

    admin_client, _ = signed_in(app, admin)
    assert admin_client.get(url, headers={"HX-Request": "true"}).status_code == 200


def test_the_forking_worker_compiles_the_bookkeeping_sql_once_and_changes_nothing(app_ctx, org, caplog):
    """`warm_up_statements` (run by make_worker before it forks) leaves every row as it was and fills the
    engine's compiled cache, so a work-horse's claim, progress and success statements compile nothing:
    for integer- and UUID-keyed job rows alike (PostgreSQL refused `uuid = integer` once, and the warm-up
    gave up with a warning)."""
    row_id = new_task(org, status=SUCCEEDED).id  # a witness no worker process or reconciler touches

    def state():
        row = fresh(row_id)
        return row.status, row.rq_job_id, row.updated_at, row.progress

    before = state()
    cache = db.engine._compiled_cache
    cache.clear()
    with caplog.at_level("WARNING", logger="cairn.jobs"):
        jobs.warm_up_statements()
    assert "warming up" not in caplog.text
    assert state() == before
    warmed = len(cache)
    assert warmed >= 6
    db.session.remove()
    uuid_keyed = [m for m in jobs.job_models() if isinstance(m.__table__.c.id.type, sa.Uuid)]
    assert uuid_keyed
    for model in (BackgroundTask, *uuid_keyed):
        none = jobs._no_row_id(model)
        jobs._claim(model, none, "again")
        jobs._record_progress(model, none, "again", 50, "half")
        jobs._record_success(model, none, "again")
        jobs._give_waiting_row_slot(model, none, "again")
    db.session.rollback()
    assert len(cache) == warmed  # each statement found compiled


def test_a_waiting_row_submitted_again_takes_the_organization_lock_before_it_writes_the_row(app_ctx, org):
    """Lock order: job_submit takes the organization's lock before any write to the row, as the worker's
    dispatch does (organization, then the waiting rows it starts). A row created earlier and submitted
    later (a scheduled export: created, committed, then submitted) was UPDATEd by an autoflush before the
    lock: a worker dispatching at that moment held the lock and waited for the row, and PostgreSQL killed
    one of them ("deadlock detected", seen in CI)."""
    row = new_task(org)  # committed, waiting, no job id: what a dispatching worker may pick up
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()).upper())

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        jobs.job_submit(row)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    lock = next(i for i, s in enumerate(statements)
                if s.startswith("UPDATE ORGANIZATIONS") or ("FROM ORGANIZATIONS" in s and "FOR UPDATE" in s))
    writes = [i for i, s in enumerate(statements) if s.startswith("UPDATE BACKGROUND_TASKS")]
    assert writes and min(writes) > lock, statements


def test_submitting_a_committed_row_while_a_worker_dispatches_does_not_deadlock(app_ctx, org, backend):
    """The deadlock itself, on PostgreSQL: another connection (a worker finishing a job) holds the
    organization's lock and then starts the waiting row, while this process submits that same row. With the
    row written before the lock, each waited for the other and PostgreSQL killed one ("deadlock detected")."""
    if not backend["postgres"]:
        pytest.skip("mode restriction: row locks are PostgreSQL's (SQLite locks the whole database)")
    row = new_task(org)
    row_id, org_id = row.id, org.id
    locked, failures, engine = threading.Event(), [], db.engine  # (the thread has no app context)

    def worker_dispatching() -> None:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT id FROM organizations WHERE id = :o FOR UPDATE"), {"o": org_id})
                locked.set()
                time.sleep(0.5)  # the submit below reaches its first statement meanwhile
                conn.execute(sa.text("UPDATE background_tasks SET rq_job_id = 'worker-gave-it' WHERE id = :r"),
                             {"r": row_id})
                conn.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    thread = threading.Thread(target=worker_dispatching)
    thread.start()
    assert locked.wait(10), failures
    db.session.expire_all()  # as after the commit that created it (a scheduled export's request)
    try:
        jobs.job_submit(row)
    except Exception as exc:  # noqa: BLE001
        failures.append(exc)
    thread.join(20)
    assert not failures, failures
    assert fresh(row_id).rq_job_id  # started once, by whichever came second

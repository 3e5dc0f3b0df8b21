"""Transient failures (a lost database connection, a serialization failure, a deadlock) are retried, not failed.

Both test modes: the sample job raises a lost-connection OperationalError on its
first run; the platform re-queues the row after a backoff with a note on it, and
the second run succeeds. A real PostgreSQL restart is in test_jobs_outages.py.
"""
from __future__ import annotations

import sqlite3
import time

import pytest
import sqlalchemy as sa

from app.platform.jobs import (
    FAILED, QUEUED, SUCCEEDED, TRANSIENT_MARKER, TransientJobFailure, run_embedded_jobs, transient_reason,
)
from tests.platform.sample_jobs import fresh, submit, wait_for_row


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _operational(message: str, sqlstate: str | None = None, cls=sa.exc.OperationalError):
    return cls("SELECT 1", {}, _DriverError(message, sqlstate))


@pytest.mark.parametrize("exc, reason", [
    (_operational("server closed the connection unexpectedly"), "the database connection was lost"),
    (_operational("could not serialize access", "40001"), "a serialization failure"),
    (_operational("deadlock detected", "40P01"), "a deadlock"),
    (_operational("terminating connection due to administrator command", "57P01"),
     "the database server was restarted"),
    (_operational("connection refused", "08006"), "the database connection was lost"),
    (_operational("database is locked"), "the database was busy"),
    (sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
     "the database was busy"),
    (TransientJobFailure(f"{TRANSIENT_MARKER} a deadlock"), "a deadlock"),
])
def test_transient_failures_are_told_apart(exc, reason):
    assert transient_reason(exc) == reason
    try:  # wrapped by a feature's own error, it is still transient
        raise RuntimeError("export failed") from exc
    except RuntimeError as wrapped:
        assert transient_reason(wrapped) == reason


def _sqlite_error(message: str):
    return sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize("exc", [
    ValueError("bad input"),
    _sqlite_error("no such table: tickets"),
    _sqlite_error("database or disk is full"),
    _operational("duplicate key value violates unique constraint", "23505", sa.exc.IntegrityError),
    _operational("syntax error at or near", "42601", sa.exc.ProgrammingError),
])
def test_real_failures_are_not_transient(exc):
    assert transient_reason(exc) is None


def _run_until(app, backend, row_id: int, predicate, timeout: float = 20.0):
    """Embedded: run jobs (and due scheduled ones) in this thread; services: the worker process does."""
    deadline = time.time() + timeout
    while not backend["redis"]:
        run_embedded_jobs(app)
        row = fresh(row_id)
        if predicate(row) or time.time() > deadline:
            return row
        time.sleep(0.2)
    return wait_for_row(row_id, predicate, timeout=timeout, what="finished")


def test_a_lost_connection_is_retried_after_a_backoff_with_a_note(app, app_ctx, backend, org, run_jobs,
                                                                   monkeypatch):
    monkeypatch.setitem(app.config, "JOB_RETRY_BACKOFF_SECONDS", 1)
    row_id = submit(org, mode="transient").id
    run_jobs()
    row = _run_until(app, backend, row_id, lambda r: r.is_terminal)
    assert row.status == SUCCEEDED, row.error_message
    assert row.attempts == 2 and row.result["calls"] == 2
    assert row.error_message == ("Retried automatically after the database connection was lost "
                                 "(attempt 1 of 3).")
    events = _job_events(row_id)
    assert [e.action for e in events] == ["job_retried"]  # the Activity page says so too
    assert events[0].organization_id == org.id and events[0].actor_id is None
    assert events[0].changes["reason"] == "the database connection was lost"
    assert events[0].changes["attempt"] == 1 and events[0].object_label.endswith(f"#{row_id}")


def test_a_transient_failure_that_keeps_coming_fails_after_the_attempts(app, app_ctx, backend, org, run_jobs,
                                                                       monkeypatch):
    monkeypatch.setitem(app.config, "JOB_RETRY_BACKOFF_SECONDS", 1)
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 2)
    row_id = submit(org, mode="transient", transient_times=5).id
    run_jobs()
    row = _run_until(app, backend, row_id, lambda r: r.is_terminal, timeout=30)
    tries = 3 if backend["redis"] else 2  # the worker process keeps its own (default) JOB_MAX_ATTEMPTS
    assert row.status == FAILED
    assert row.error_message == ("The job stopped because the database connection was lost, and it was tried "
                                 f"{tries} times. Press Retry to run it again.")
    actions = [e.action for e in _job_events(row_id)]
    assert actions == ["job_retried"] * (tries - 1) + ["job_failed"]


def _job_events(row_id: int):
    from app.accounts.models import AuditEvent
    from app.extensions import db

    db.session.rollback()
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_id == row_id,
                                                          AuditEvent.action.like("job_%"))
                              .order_by(AuditEvent.id)).all()


def test_the_retry_waits_its_backoff(app, app_ctx, backend, org, run_jobs, monkeypatch):
    if backend["redis"]:
        pytest.skip("mode restriction: the worker process's config sets the backoff; the embedded run shows it")
    monkeypatch.setitem(app.config, "JOB_RETRY_BACKOFF_SECONDS", 30)
    row_id = submit(org, mode="transient").id
    run_embedded_jobs(app)
    row = fresh(row_id)
    assert row.status == QUEUED and row.progress_message.startswith("Retrying in 30 s: the database connection")

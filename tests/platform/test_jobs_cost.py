"""What the job platform costs in SQL: a submit in at most 3 statements, a job's bookkeeping in at most 5.

Counted with SQLAlchemy's `before_cursor_execute` event on the app's engine
(transaction control, BEGIN/COMMIT/ROLLBACK, is not a statement of ours). Counts,
not timings: bench/jobs.py measures the throughput these counts buy.
"""
from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from app.accounts.models import Organization
from app.extensions import db
from app.platform.jobs import QUEUED, RUNNING, SUCCEEDED, BackgroundTask, execute
from tests.platform.sample_jobs import NOOP, fresh, new_task, submit_noop

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def counted():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(CONTROL):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


@pytest.fixture()
def app_ctx(app, backend):
    """This app's database on an embedded queue nobody reads: services mode's shared worker process
    must not take the jobs these tests run inline."""
    from tests.conftest import make_test_app
    from tests.platform.sample_jobs import dispose_app

    quiet = make_test_app(backend, REDIS_URL="")
    with quiet.app_context():
        yield quiet
    dispose_app(quiet)


@pytest.fixture()
def roomy_org(app_ctx):
    from tests.factories import make_organization

    org = make_organization("Cheap Jobs")
    org.settings = {"max_concurrent_jobs": 2}
    db.session.commit()
    return org.id


def _noop(organization_id: int, **columns) -> int:
    task = BackgroundTask(organization_id=organization_id, kind=NOOP, title="No-op", params={}, **columns)
    db.session.add(task)
    db.session.commit()
    return task.id


def test_a_submit_with_a_free_slot_is_at_most_three_statements(app_ctx, roomy_org):
    with counted() as statements:
        task = submit_noop(roomy_org)
    assert len(statements) <= 3, statements
    row = fresh(task.id)
    assert row.status == QUEUED and row.rq_job_id and row.attempts == 1


def test_a_submit_that_must_wait_is_at_most_three_statements(app_ctx, roomy_org):
    for _ in range(2):
        _noop(roomy_org, status=RUNNING, rq_job_id="busy")
    with counted() as statements:
        task = submit_noop(roomy_org)
    assert len(statements) <= 3, statements
    row = fresh(task.id)
    assert row.status == QUEUED and row.rq_job_id is None  # waiting for a slot


def test_a_jobs_bookkeeping_is_at_most_five_statements_and_starts_the_next_waiting_row(app_ctx, roomy_org):
    first = submit_noop(roomy_org).id
    _noop(roomy_org, status=RUNNING, rq_job_id="busy")  # the organization's second slot is taken
    waiting = submit_noop(roomy_org).id
    assert fresh(waiting).rq_job_id is None
    db.session.remove()
    with counted() as statements:
        execute(NOOP, first)  # inline: no RQ job, so the claim does not compare job ids
    assert len(statements) <= 5, statements
    assert fresh(first).status == SUCCEEDED
    assert fresh(waiting).rq_job_id is not None  # the freed slot went to the waiting row


def test_a_jobs_bookkeeping_with_nothing_waiting_is_at_most_four_statements(app_ctx, roomy_org):
    task_id = submit_noop(roomy_org).id
    db.session.remove()
    with counted() as statements:
        execute(NOOP, task_id)
    assert len(statements) <= 4, statements
    assert fresh(task_id).status == SUCCEEDED


def test_a_duplicate_delivery_costs_one_statement(app_ctx, roomy_org):
    task_id = new_task(db.session.get(Organization, roomy_org), status=SUCCEEDED).id
    db.session.remove()
    with counted() as statements:
        assert execute("test_sample", task_id) is None
    assert len(statements) == 1, statements

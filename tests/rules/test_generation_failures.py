"""A generation run that fails part-way (a time-out, a lost database connection) keeps nothing unless it
continues on errors, and running it again makes each name once. The run is called directly with a
progress report that fails at the chosen chunk, so this holds on both backends without a worker."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from rq.timeouts import JobTimeoutException

from app.extensions import db
from app.platform.jobs import RUNNING
from app.rules import services
from app.rules.models import GeneratedName, Generation
from tests.rules.conftest import all_values

VALUES = {"environment": ["dev", "prod"], "project": ["web", "api"], "region": ["weu", "neu"]}


class FailingProgress:
    """Reports like `Progress` (commits) until the `fail_at`-th report, which raises `error`."""

    def __init__(self, fail_at: int | None, error: BaseException | None = None) -> None:
        self.fail_at, self.error, self.calls = fail_at, error, 0

    def __call__(self, percent, message="") -> None:
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise self.error
        db.session.commit()


@pytest.fixture()
def small_chunks(monkeypatch):
    """Two combinations per chunk: 8 names make 4 chunks, each committed with its report."""
    real = services.itertools.islice
    monkeypatch.setattr(services.itertools, "islice", lambda it, n: real(it, min(n, 2)))


def _generation(naming, admin, **options) -> Generation:
    generation = services.generation_create(workspace=naming.workspace, rule_id=naming.rule.id,
                                            dimension_values=VALUES, user=admin, **options)
    db.session.execute(sa.update(Generation).where(Generation.id == generation.id)
                       .values(status=Generation.status_value(RUNNING)))  # as the worker's claim leaves it
    db.session.commit()
    return db.session.get(Generation, generation.id)


def _names_of(generation_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(GeneratedName)
                             .where(GeneratedName.generation_id == generation_id))


@pytest.mark.parametrize("error", [JobTimeoutException("Task exceeded maximum timeout value"),
                                   sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))],
                         ids=["time-out", "database-lost"])
def test_a_failed_run_keeps_nothing_and_a_rerun_makes_each_name_once(app, naming, admin, small_chunks, error):
    generation = _generation(naming, admin, auto_increment=True)
    with pytest.raises(type(error)):
        services.generation_run(generation, FailingProgress(fail_at=3, error=error))
    assert _names_of(generation.id) == 0

    generation = db.session.get(Generation, generation.id)
    services.generation_run(generation, FailingProgress(fail_at=None))
    db.session.commit()
    assert _names_of(generation.id) == 8
    assert len(set(all_values(naming.workspace.id))) == len(all_values(naming.workspace.id)) == 8
    assert all(value.endswith("-001") for value in all_values(naming.workspace.id))  # no second set


def test_continue_on_error_keeps_what_was_made_and_a_rerun_still_makes_each_name_once(app, naming, admin,
                                                                                    small_chunks):
    generation = _generation(naming, admin, continue_on_error=True, auto_increment=True)
    with pytest.raises(JobTimeoutException):
        services.generation_run(generation, FailingProgress(fail_at=3, error=JobTimeoutException("time")))
    kept = _names_of(generation.id)
    assert 0 < kept < 8  # its chunks so far: continue-on-error keeps them

    generation = db.session.get(Generation, generation.id)
    services.generation_run(generation, FailingProgress(fail_at=None))  # a Retry: starts from nothing of its own
    db.session.commit()
    assert _names_of(generation.id) == 8
    assert all(value.endswith("-001") for value in all_values(naming.workspace.id))


def test_the_reconciler_removes_a_killed_runs_names_only_while_the_row_is_failed(app, naming, admin, small_chunks):
    """A kill runs no clean-up: the committed chunks stay until the reconciler fails the row. Its clean-up
    then removes them, unless a Retry has taken the row meanwhile (those names are the new run's)."""
    from app.platform.jobs import FAILED

    generation = _generation(naming, admin)
    services.generation_run(generation, FailingProgress(fail_at=None))  # the names a killed run had committed
    db.session.commit()
    assert _names_of(generation.id) == 8

    services.generation_reconciled_failure(generation.id, "killed")  # the row is running again (a retry)
    assert _names_of(generation.id) == 8
    db.session.execute(sa.update(Generation).values(status=Generation.status_value(FAILED)))
    db.session.commit()
    services.generation_reconciled_failure(generation.id, "killed")
    assert _names_of(generation.id) == 0

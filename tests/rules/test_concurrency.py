"""Many generations of the same values at once: never a duplicate active name (partial unique index + ON CONFLICT)."""
from __future__ import annotations

import threading

import sqlalchemy as sa

from app.extensions import db
from app.rules import services
from app.rules.models import GeneratedName, Generation

VALUES = {"environment": ["dev", "prod"], "project": ["web", "api"], "region": ["weu", "neu"]}


def _race(app, naming, admin, threads: int, **options) -> list[str]:
    ids = []
    for _ in range(threads):
        generation = Generation(organization_id=naming.workspace.organization_id, workspace_id=naming.workspace.id,
                                rule_id=naming.rule.id, dimension_values=VALUES, requested_by_id=admin.id,
                                options={"size": 8, "continue_on_error": True, **options}, status="in_progress")
        db.session.add(generation)
        db.session.commit()
        ids.append(generation.id)
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(generation_id: int) -> None:
        with app.app_context():
            try:
                row = db.session.get(Generation, generation_id)
                barrier.wait(timeout=30)
                services.generation_run(row, lambda *_args: db.session.commit())
                db.session.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    pool = [threading.Thread(target=worker, args=(i,)) for i in ids]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    assert not errors, errors
    db.session.expire_all()
    return list(db.session.scalars(sa.select(GeneratedName.value).where(GeneratedName.is_active.is_(True))))


def test_concurrent_generations_never_duplicate(app, backend, naming, admin):
    threads = 10 if backend["postgres"] else 6  # under the pool size: each holds a connection
    values = _race(app, naming, admin, threads)
    assert len(values) == len(set(values)) == 8
    made = db.session.scalars(sa.select(Generation.result_count)).all()
    assert sum(made) == 8  # each name was made by exactly one of the racing generations


def test_concurrent_auto_increment_gives_everyone_distinct_names(app, backend, naming, admin):
    threads = 8 if backend["postgres"] else 4
    values = _race(app, naming, admin, threads, auto_increment=True)
    assert len(values) == len(set(values)) == 8 * threads

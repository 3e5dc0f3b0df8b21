"""Drafts cleanup: abandoned drafts only, in batches, never two at once, with a report."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.platform.models import utcnow
from app.projects import services
from app.projects.models import Project, ProjectAttachment, ProjectMeta, SchoolProject, SelfStudyProject
from tests.helpers import page_text


def _draft(user, name, *, age_hours, draft=True, **kw):
    project = SelfStudyProject(name=name, owner_id=user.id, organization_id=user.organization_id,
                               goal_description="g", study_frequency="weekly", is_draft=draft, **kw)
    db.session.add(project)
    db.session.flush()
    old = utcnow() - timedelta(hours=age_hours)
    db.session.execute(sa.update(Project.__table__).where(Project.__table__.c.id == project.id)
                       .values(created_at=old, updated_at=old))
    return project


@pytest.fixture()
def drafts(app_ctx, people):
    user = people["student"]
    old = [_draft(user, f"old {i}", age_hours=400) for i in range(7)]  # past the default 336 h
    db.session.add(ProjectMeta(project_id=old[0].id, key="k", value=1))
    kept = [_draft(user, "recent", age_hours=1), _draft(user, "published", age_hours=500, draft=False),
            _draft(user, "attached", age_hours=500)]
    db.session.add(ProjectAttachment(organization_id=user.organization_id, project_id=kept[2].id, filename="a",
                                     storage_path="x/a"))
    db.session.commit()
    return {"old": [p.id for p in old], "kept": [p.id for p in kept]}


def _names() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(sa.select(Project.name)))


def test_cleanup_removes_abandoned_drafts_in_batches(app_ctx, drafts):
    result = services.drafts_cleanup(hours=24, batch_size=3)
    assert result == {"removed": 7, "batches": 3, "skipped": False, "hours": 24}
    assert _names() == {"recent", "published", "attached"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProjectMeta)) == 0  # cascaded
    assert services.drafts_cleanup(hours=24, batch_size=3)["removed"] == 0


def test_cleanup_skips_while_another_process_holds_the_lock(app, app_ctx, drafts, backend):
    """The lock is taken by another process (PostgreSQL advisory lock, or the Redis key elsewhere)."""
    if db.engine.dialect.name == "postgresql":
        url = db.engine.url.render_as_string(hide_password=False)
        holder = subprocess.Popen(
            [sys.executable, "-c", (
                "import sys, time, sqlalchemy as sa\n"
                f"e = sa.create_engine({url!r})\n"
                "c = e.connect()\n"
                f"c.execute(sa.text('SELECT pg_advisory_lock({services.CLEANUP_LOCK_KEY})'))\n"
                "print('locked', flush=True)\n"
                "sys.stdin.read()\n")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            assert services.drafts_cleanup(hours=24) == {"removed": 0, "batches": 0, "skipped": True}
            assert len(_names()) == 10
        finally:
            holder.stdin.close()
            holder.wait(10)
    else:
        redis = app.extensions["cairn_redis"]
        redis.set(services.CLEANUP_REDIS_KEY, "another-process", ex=60)
        assert services.drafts_cleanup(hours=24) == {"removed": 0, "batches": 0, "skipped": True}
        assert len(_names()) == 10
        assert redis.get(services.CLEANUP_REDIS_KEY) == b"another-process"  # not released by us
        redis.delete(services.CLEANUP_REDIS_KEY)
    # Once the holder is gone the next run proceeds.
    deadline = time.time() + 10
    while True:
        result = services.drafts_cleanup(hours=24)
        if not result["skipped"] or time.time() > deadline:
            break
        time.sleep(0.1)
    assert result["removed"] == 7


def test_cleanup_is_a_periodic_task():
    from app.platform.jobs import periodic_tasks

    task = periodic_tasks["projects-drafts-cleanup"]
    assert task.function == "app.projects.services.drafts_cleanup" and task.interval_seconds == 3600


def test_admin_cleans_up_now_and_sees_the_report(app, login, people, drafts, run_jobs):
    admin = login(people["admin"])
    other_org_user = people["outsider"]
    with app.app_context():
        _draft(other_org_user, "theirs", age_hours=1000)
        db.session.commit()
    assert admin.post("/projects/settings/cleanup", page="/projects/settings").status_code == 302
    run_jobs()
    text = page_text(admin.client.get("/projects/settings"))
    assert "Removed 7 abandoned drafts" in text
    with app.app_context():
        assert "theirs" in _names()  # an organization's button cleans that organization only
    assert login(people["classmate"]).client.get("/projects/settings").status_code == 403


def test_school_drafts_too(app_ctx, people):
    user = people["student"]
    project = SchoolProject(name="s", owner_id=user.id, organization_id=user.organization_id, course_name="c",
                            course_code="c", teacher_name="t")
    db.session.add(project)
    db.session.flush()
    old = utcnow() - timedelta(hours=50)
    db.session.execute(sa.update(Project.__table__).values(updated_at=old, created_at=old))
    db.session.commit()
    assert services.drafts_cleanup(hours=24)["removed"] == 1

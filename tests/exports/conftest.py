"""Exports tests: browsers through real forms, jobs through the real queue (embedded or a worker process)."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.helpers import browser, signed_in


@pytest.fixture()
def client(app):
    return browser(app)


@pytest.fixture(autouse=True)
def default_templates(app):
    """The data migration's built-in templates (clean_database empties every table after each test)."""
    from app.exports.seeds import seed_default_templates
    from app.extensions import db

    with app.app_context():
        with db.engine.begin() as connection:
            seed_default_templates(connection)
    yield


@pytest.fixture()
def people(make_org, make_user):
    """Two organizations; Acme has an admin, a manager, an agent and a customer.

    Acme's admin has opened "Time & exports" to customers (closed by default:
    platform/customer_access.py), so these tests see what a customer's exports hold.
    """
    from app.extensions import db

    acme = make_org("Acme")
    acme.settings = {**(acme.settings or {}), "customer_access": ["timesheet"]}
    db.session.commit()
    globex = make_org("Globex")
    return {
        "acme": acme, "globex": globex,
        "admin": make_user(acme, "admin", "admin@acme.example.com"),
        "manager": make_user(acme, "manager", "manager@acme.example.com"),
        "agent": make_user(acme, "agent", "agent@acme.example.com"),
        "customer": make_user(acme, "customer", "customer@acme.example.com"),
        "other": make_user(globex, "admin", "admin@globex.example.com"),
    }


def add_entries(user, count: int, *, project: str = "Website", start: date | None = None, description: str = "work"):
    """Insert `count` time entries for `user` in one statement (fast for thousands of rows)."""
    import sqlalchemy as sa

    from app.exports.models import TimeEntry
    from app.extensions import db
    from app.platform.models import utcnow

    start = start or date(2026, 11, 2)
    now = utcnow()
    rows = [{"organization_id": user.organization_id, "user_id": user.id, "date": start + timedelta(days=i % 28),
             "project": project, "task": f"task {i}", "duration_minutes": 15 + i % 240, "description": description,
             "created_at": now, "updated_at": now} for i in range(count)]
    db.session.execute(sa.insert(TimeEntry), rows)
    db.session.commit()


@pytest.fixture()
def login(app):
    def _login(user):
        client, auth = signed_in(app, user)
        return client, auth

    return _login


@contextmanager
def storage_blocked(app, organization_id: int):
    """A plain file where the organization's export folder goes: every export write fails, in any process."""
    folder = Path(app.config["STORAGE_DIR"]) / "exports" / str(organization_id)
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("not a folder")
    try:
        yield
    finally:
        folder.unlink()

"""One export, the same bytes on SQLite and on PostgreSQL (CSV through COPY there), for every dataset.

Two apps of their own: a SQLite file and a fresh PostgreSQL database whose `timezone` is set to
Pacific/Kiritimati (UTC+14), which the app's connections must override. The same rows go into both (fixed
timestamps, awkward text), each dataset is exported to CSV and JSON by the worker's code and the files are
compared byte for byte; Excel is compared cell by cell through openpyxl.
"""
from __future__ import annotations

import io
import os
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from tests.conftest import ROOT, _admin_engine, make_test_app, require

PG_BASE = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/cairn"
AWKWARD = ["plain", "comma, inside", 'quote " inside', "line\nbreak", "carriage\rreturn", "crlf\r\nend", "",
           "\\.", "=1+2", "-3", "@SUM(A1)", " leading space", "tab\tinside", "\u4e2d\u6587 \u00e9 \U0001F600",
           "semi;colon|pipe", "trailing space "]
JOINED = datetime(2026, 12, 5, 18, 50, 33, 428438, tzinfo=timezone.utc)
DATASETS = {
    "time_entries": ["date", "member", "email", "project", "task", "duration", "hours", "description"],
    "members": ["name", "email", "role", "active", "joined"],
    "api_usage": ["timestamp", "user", "method", "endpoint", "status", "response_ms"],
    "tickets": ["number", "subject", "status", "priority", "customer", "assignee", "created_at", "resolved_at",
                "sla_breached", "satisfaction"],
    "projects": ["name", "type", "course_name", "course_code", "teacher", "goal", "study_frequency", "state",
                 "created_at"],
    "names": ["value", "rule", "field", "dimensions", "state", "created_at"],
}


def _postgres_url() -> str | None:
    try:
        url, admin = _admin_engine(PG_BASE)
        name = f"{url.database or 'cairn'}_samebytes_p{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Pacific/Kiritimati'"))
        admin.dispose()
        return url.set(database=name).render_as_string(hide_password=False)
    except sa.exc.OperationalError:
        return None


def _drop(database_url: str) -> None:
    _url, admin = _admin_engine(PG_BASE)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(database_url).database}" WITH (FORCE)'))
    admin.dispose()


def _seed() -> dict:
    """The same rows on either database, all timestamps fixed."""
    from app.accounts.models import User
    from app.exports.models import TimeEntry
    from app.extensions import db
    from app.platform.usage import APIUsageLog
    from app.tickets.models import Ticket
    from tests.factories import make_member, make_organization

    org = make_organization("Acme")
    admin = make_member(org, "admin", "admin@acme.example.com", full_name="Ada, \"the\" Admin")
    make_member(org, "agent", "agent@acme.example.com", full_name="=cmd|' /C calc'!A0")
    customer = make_member(org, "customer", "customer@acme.example.com", full_name="\u00c7a\u011fla \u4e2d")
    make_member(org, "manager", "gone@acme.example.com", full_name="", is_active=False)
    for i, text in enumerate(AWKWARD):
        db.session.add(TimeEntry(organization_id=org.id, user_id=admin.id, date=date(2026, 11, 1 + i),
                                 project=text or "empty", task=text, duration_minutes=[1, 7, 45, 60, 61, 90, 1439][i % 7],
                                 description=text))
        db.session.add(APIUsageLog(organization_id=org.id, user_id=admin.id if i % 2 else None,
                                   endpoint=f"/api/{text}"[:200], method="GET", response_status=200 + i,
                                   response_time_ms=i * 7, timestamp=JOINED.replace(minute=i), date=JOINED.date()))
    db.session.commit()
    for i, text in enumerate(AWKWARD[:6]):
        ticket = Ticket(organization_id=org.id, customer_id=customer.id, subject=text or "empty", description=text,
                        priority="high" if i % 2 else "low", sla_breach=bool(i % 2),
                        customer_satisfaction_score=(i % 5) + 1 if i % 3 else None)
        db.session.add(ticket)
    db.session.commit()
    db.session.execute(sa.update(User).values(created_at=JOINED))
    db.session.execute(sa.update(Ticket).values(created_at=JOINED, resolved_at=sa.case(
        (Ticket.sla_breach.is_(True), JOINED), else_=None)))
    db.session.commit()
    _seed_other_areas(org, admin)
    return {"admin_id": admin.id}


def _seed_other_areas(org, admin) -> None:
    from app.extensions import db
    from app.projects.models import Project
    from app.rules.models import GeneratedName

    try:
        from app.projects import services as projects

        for text in AWKWARD[:4]:
            projects.project_create(owner=admin, project_type="school", name=text or "empty", publish=True,
                                    course_name=text or "c", course_code="CS-1", teacher_name=text)
        db.session.execute(sa.update(Project).values(created_at=JOINED))
        db.session.commit()
    except Exception:  # pragma: no cover - the dataset is then exported empty on both sides alike
        db.session.rollback()
    workspace = org.workspaces[0]
    for i, text in enumerate(AWKWARD[:5]):
        db.session.add(GeneratedName(organization_id=org.id, workspace_id=workspace.id, value=f"{text}-{i}",
                                     normalized=f"n{i}", dimension_values={"zeta": text, "alpha": str(i)},
                                     is_active=bool(i % 2), created_at=JOINED))
    try:
        db.session.commit()
    except Exception:  # pragma: no cover
        db.session.rollback()


def _export(app, dataset: str, fmt: str) -> bytes:
    from app.accounts.models import User
    from app.exports import services
    from app.exports.models import ExportRequest
    from app.extensions import db
    from app.platform import storage

    with app.app_context():
        admin = db.session.scalars(sa.select(User).where(User.email == "admin@acme.example.com")).one()
        filters = {}
        if dataset == "names":
            filters = {"workspace_id": str(admin.organization.workspaces[0].id)}
        row = services.export_request_create(actor=services.Actor(admin), title="Same", format=fmt, dataset=dataset,
                                             fields=DATASETS[dataset], filters=filters, submit=False)
        db.session.commit()
        services._export_write(db.session.get(ExportRequest, row.id), lambda *a, **k: None)
        db.session.commit()
        row = db.session.get(ExportRequest, row.id)
        assert row.row_count > 0, dataset
        return storage.resolve(row.file_path).read_bytes()


@pytest.fixture(scope="module")
def two_apps():
    from flask_migrate import upgrade

    from app.extensions import db

    pg_url = _postgres_url()
    require(pg_url is not None, f"PostgreSQL at {PG_BASE} for the SQLite/PostgreSQL comparison")
    tmp = Path(tempfile.mkdtemp(prefix="cairn-samebytes-"))
    apps = {}
    try:
        for name, url in (("sqlite", f"sqlite:///{tmp / 'same.sqlite3'}"), ("postgresql", pg_url)):
            backend = {"database_url": url, "redis_url": "", "tmp": tmp / name}
            application = make_test_app(backend, EXPORTS_MAX_CONCURRENT_PER_USER=10_000)
            with application.app_context():
                upgrade(directory=str(ROOT / "migrations"))
                from app.exports.seeds import seed_default_templates

                with db.engine.begin() as connection:
                    seed_default_templates(connection)
                _seed()
            apps[name] = application
        yield apps
    finally:
        for application in apps.values():
            with application.app_context():
                db.session.remove()
                db.engine.dispose()
        _drop(pg_url)


def test_connections_run_in_utc_though_the_database_says_otherwise(two_apps):
    from app.extensions import db

    with two_apps["postgresql"].app_context():
        assert db.session.execute(sa.text("SHOW TIME ZONE")).scalar() == "UTC"


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_same_bytes_on_sqlite_and_postgresql(two_apps, dataset, fmt):
    lite = _export(two_apps["sqlite"], dataset, fmt)
    pg = _export(two_apps["postgresql"], dataset, fmt)
    assert lite == pg, f"{dataset} {fmt}:\nSQLite:     {lite[:600]!r}\nPostgreSQL: {pg[:600]!r}"


def test_csv_format_is_the_documented_one(two_apps):
    import csv

    body = _export(two_apps["postgresql"], "members", "csv")
    assert body.startswith("\ufeff".encode()) and b"\r\n" not in body.replace(b"\r\n\"", b"")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["Name", "Email", "Role", "Active", "Joined (UTC)"]
    assert {r[3] for r in rows[1:]} == {"true", "false"}
    assert {r[4] for r in rows[1:]} == {"2026-12-05T18:50:33Z"}  # UTC, not the database's +14:00
    hours = list(csv.reader(io.StringIO(_export(two_apps["sqlite"], "time_entries", "csv").decode("utf-8-sig"),
                                        newline="")))
    assert hours[1][5:7] == ["1", "0.02"] and hours[4][5:7] == ["60", "1.00"]


@pytest.mark.parametrize("dataset", ["time_entries", "members", "tickets"])
def test_excel_cells_agree_on_both_databases(two_apps, dataset):
    def cells(name):
        book = openpyxl.load_workbook(io.BytesIO(_export(two_apps[name], dataset, "excel")))
        return [[c.value for c in row] for row in book.worksheets[0].iter_rows()]

    assert cells("sqlite") == cells("postgresql")

"""Migration 0024 re-keys projects and exports with UUIDv7s: every row and every link survives,
the UUIDs sort as the old ids did, and the downgrade numbers them back (SQLite and PostgreSQL)."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app.exports.models import (
    ExportAuditLog,
    ExportRequest,
    ExportSchedule,
    ExportTemplate,
    ExportUsageStats,
)
from app.extensions import db
from app.projects.models import (
    GeneratedProject,
    ImportantDate,
    Project,
    ProjectAttachment,
    ProjectMeta,
    RepositoryExport,
    WorkflowExecution,
)
from tests.platform.test_migrations import MIGRATIONS, fresh_app, fresh_database_url  # noqa: F401 (fixtures)

BEFORE = "0023_platform_redundant_indexes"
AFTER = "0024_uuid_primary_keys"
NOW = "CURRENT_TIMESTAMP"
HASH = "a" * 64


def _insert(conn, table: str, **values) -> None:
    """INSERT one row; a value that is a `sa.text` is written as SQL (JSON literals, CURRENT_TIMESTAMP)."""
    names, params, sql = [], {}, []
    for name, value in values.items():
        names.append(f'"{name}"')
        if isinstance(value, sa.TextClause):
            sql.append(value.text)
        else:
            sql.append(f":{name}")
            params[name] = value
    conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(sql)})"), params)


def _timestamps(created: str | None = None) -> dict:
    stamp = sa.text(f"'{created}'") if created else sa.text(NOW)
    return {"created_at": stamp, "updated_at": sa.text(NOW)}


def _job(status: str) -> dict:
    return {"status": status, "progress": 0, "progress_message": "", "attempts": 0}


def _insert_integer_world(conn) -> None:
    """Rows of every re-keyed table (and of their children) with integer keys, linked to each other."""
    _insert(conn, "organizations", id=1, name="Acme", slug="acme", subscription_tier="free",
            settings=sa.text("'{}'"), **_timestamps())
    for user_id in (1, 2):
        _insert(conn, "users", id=user_id, email=f"u{user_id}@acme.test", full_name=f"U{user_id}", role="admin",
                availability_status="online", max_concurrent_tickets=10, skills=sa.text("'[]'"),
                certifications=sa.text("'[]'"), customer_tier="basic", credentials_version=1, organization_id=1,
                **_timestamps())
    # Project 5 was created before project 3: the new keys follow the ids, not the clock.
    for project_id, name, kind, created in ((3, "Compilers", "school", "2026-01-02 03:04:05"),
                                            (5, "Rust", "self_study", "2025-12-01 00:00:00"),
                                            (8, "Databases", "school", "2026-01-02 03:04:05")):
        _insert(conn, "projects", id=project_id, name=name, project_type=kind, owner_id=1, organization_id=1,
                description="", is_draft=True, **_timestamps(created))
    _insert(conn, "school_projects", id=3, course_name="Compilers", course_code="CS-401", teacher_name="Dr. Aho")
    _insert(conn, "school_projects", id=8, course_name="Databases", course_code="CS-310", teacher_name="Dr. Codd")
    _insert(conn, "self_study_projects", id=5, goal_description="A ray tracer", study_frequency="weekly")
    _insert(conn, "project_meta", id=2, project_id=5, key="credits", value=sa.text("'6'"), **_timestamps())
    _insert(conn, "project_important_dates", id=2, project_id=3, kind="exam", title="Final", date="2026-06-01",
            notes="", **_timestamps())
    _insert(conn, "project_attachments", id=4, project_id=8, filename="notes.txt", storage_path="a/notes.txt",
            content_type="text/plain", size=3, sha256=HASH, organization_id=1, is_active=True, delete_reason="",
            **_timestamps())
    _insert(conn, "workflow_executions", id=4, project_id=3, workflow="generate", status="completed",
            steps=sa.text("'[]'"), log="", organization_id=1, **_timestamps())
    for generation_id, previous in ((10, None), (11, 10)):
        _insert(conn, "generated_projects", id=generation_id, project_id=3, workflow_execution_id=4,
                previous_id=previous, template_key="python", template_name="Python", options=sa.text("'{}'"),
                output_directory="", total_files=1, total_size=3, created_by_id=1, organization_id=1,
                **_job("completed"), **_timestamps())
    _insert(conn, "project_files", id=20, generated_project_id=11, file_path="src/main.py", file_name="main.py",
            file_type="text", file_size=3, content_hash=HASH, content_preview="", is_executable=False,
            **_timestamps())
    _insert(conn, "repository_exports", id=30, generated_project_id=11, export_type="zip", repository_name="",
            repository_url="", include_git=False, archive_path="", archive_sha256="", config=sa.text("'{}'"),
            credential="", organization_id=1, **_job("pending"), **_timestamps())
    _insert(conn, "export_templates", id=40, organization_id=1, user_id=1, name="Weekly", description="",
            format="csv", dataset="time_entries", field_configuration=sa.text("'{}'"),
            default_filters=sa.text("'{}'"), layout_settings=sa.text("'{}'"), is_public=False, usage_count=0,
            **_timestamps())
    _insert(conn, "export_template_shares", template_id=40, user_id=2)
    _insert(conn, "export_schedules", id=50, user_id=1, name="Mondays", template_id=40, cron_pattern="0 8 * * 1",
            timezone="UTC", email_recipients=sa.text("'[]'"), include_download_link=True, attach_file=False,
            is_active=True, next_run="2026-01-05 08:00:00", run_count=0, failure_count=0, consecutive_failures=0,
            paused_reason="", organization_id=1, **_timestamps())
    for request_id, template, schedule in ((60, 40, 50), (61, None, None)):
        _insert(conn, "export_requests", id=request_id, user_id=1, title=f"Export {request_id}", description="",
                format="csv", template_id=template, dataset="time_entries", filters=sa.text("'{}'"),
                selected_fields=sa.text("'[]'"), status="completed", progress_percentage=100, file_path="",
                file_sha256="", download_url="", download_count=0, is_scheduled=schedule is not None,
                schedule_id=schedule, schedule_pattern="", progress_message="", attempts=0, organization_id=1,
                **_timestamps())
    _insert(conn, "export_audit_logs", id=70, organization_id=1, export_request_id=60, user_id=1, action="created",
            user_agent="", additional_data=sa.text("'{}'"), timestamp=sa.text(NOW))
    _insert(conn, "export_usage_stats", id=80, user_id=1, date="2026-01-02", total_exports=2, csv_exports=2,
            json_exports=0, pdf_exports=0, excel_exports=0, total_records_exported=10, total_file_size=100,
            failed_exports=0, organization_id=1, **_timestamps())


def _check_uuid_world() -> None:
    session = db.session
    projects = session.scalars(sa.select(Project).order_by(Project.id)).all()
    assert [p.name for p in projects] == ["Compilers", "Rust", "Databases"]  # old id order, not creation order
    assert all(isinstance(p.id, uuid.UUID) and p.id.version == 7 for p in projects)
    compilers, rust, databases = projects
    assert (compilers.course_code, databases.teacher_name, rust.goal_description) == ("CS-401", "Dr. Codd",
                                                                                        "A ray tracer")
    assert rust.meta == {"credits": 6}
    assert [d.title for d in compilers.important_dates] == ["Final"]
    assert session.scalars(sa.select(ProjectAttachment.project_id)).all() == [databases.id]
    workflow = session.scalars(sa.select(WorkflowExecution)).one()
    assert workflow.project_id == compilers.id

    first, second = session.scalars(sa.select(GeneratedProject).order_by(GeneratedProject.id)).all()
    assert first.project_id == second.project_id == compilers.id
    assert (first.previous_id, second.previous_id) == (None, first.id)
    assert first.workflow_execution_id == second.workflow_execution_id == workflow.id
    assert [f.file_path for f in second.files] == ["src/main.py"] and first.files == []
    export = session.scalars(sa.select(RepositoryExport)).one()
    assert export.generated_project_id == second.id and export.id.version == 7

    template = session.scalars(sa.select(ExportTemplate).where(ExportTemplate.organization_id == 1)).one()
    assert [u.email for u in template.shared_with] == ["u2@acme.test"]
    schedule = session.scalars(sa.select(ExportSchedule)).one()
    assert schedule.template_id == template.id
    scheduled, plain = session.scalars(sa.select(ExportRequest).order_by(ExportRequest.id)).all()
    assert (scheduled.title, scheduled.template_id, scheduled.schedule_id) == ("Export 60", template.id, schedule.id)
    assert (plain.title, plain.template_id, plain.schedule_id) == ("Export 61", None, None)
    audit = session.scalars(sa.select(ExportAuditLog)).one()
    assert audit.export_request_id == scheduled.id
    assert session.scalars(sa.select(ExportUsageStats.total_exports)).all() == [2]

    # The untouched integer keys go on from where they were (PostgreSQL's sequences follow the copied rows).
    meta = ProjectMeta(project_id=compilers.id, key="room", value="B12")
    session.add(meta)
    session.add(ImportantDate(project_id=rust.id, kind="deadline", title="Demo", date=compilers.created_at.date()))
    session.flush()
    assert meta.id > 2
    session.rollback()


def _check_integer_world(conn) -> None:
    rows = conn.execute(sa.text("SELECT id, name FROM projects ORDER BY id")).all()
    assert rows == [(1, "Compilers"), (2, "Rust"), (3, "Databases")]
    assert conn.execute(sa.text("SELECT id, course_code FROM school_projects ORDER BY id")).all() == [
        (1, "CS-401"), (3, "CS-310")]
    assert conn.execute(sa.text("SELECT project_id, key FROM project_meta")).all() == [(2, "credits")]
    assert conn.execute(sa.text("SELECT id, project_id, previous_id FROM generated_projects ORDER BY id")).all() == [
        (1, 1, None), (2, 1, 1)]
    assert conn.execute(sa.text("SELECT generated_project_id FROM project_files")).all() == [(2,)]
    template_id = conn.execute(sa.text("SELECT id FROM export_templates WHERE name = 'Weekly'")).scalar_one()
    assert conn.execute(sa.text("SELECT template_id, schedule_id FROM export_requests ORDER BY id")).all() == [
        (template_id, 1), (None, None)]
    assert conn.execute(sa.text("SELECT template_id FROM export_schedules")).all() == [(template_id,)]
    assert conn.execute(sa.text("SELECT export_request_id FROM export_audit_logs")).all() == [(1,)]
    assert conn.execute(sa.text("SELECT template_id, user_id FROM export_template_shares")).all() == [
        (template_id, 2)]
    # A new project gets the next serial id.
    _insert(conn, "projects", name="New", project_type="school", owner_id=1, organization_id=1, description="",
            is_draft=True, **_timestamps())
    assert conn.execute(sa.text("SELECT max(id) FROM projects")).scalar_one() == 4


def test_rows_and_links_survive_the_uuid_keys_and_back(fresh_app):  # noqa: F811
    upgrade(directory=str(MIGRATIONS), revision=BEFORE)
    with db.engine.begin() as conn:
        _insert_integer_world(conn)

    upgrade(directory=str(MIGRATIONS), revision=AFTER)
    _check_uuid_world()
    db.session.remove()

    downgrade(directory=str(MIGRATIONS), revision=BEFORE)
    with db.engine.begin() as conn:
        _check_integer_world(conn)

"""Migration 0014 carries existing projects into their type tables, and its downgrade brings them back."""
from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app.extensions import db
from tests.platform.test_migrations import MIGRATIONS, fresh_app, fresh_database_url  # noqa: F401 (fixtures)

BEFORE = "0013_platform_mail_outbox"
AFTER = "0014_projects_subtype_tables"


def _insert_old_layout(conn) -> None:
    conn.execute(sa.text(
        "INSERT INTO organizations (id, name, slug, subscription_tier, settings, created_at, updated_at)"
        " VALUES (1, 'Acme', 'acme', 'free', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    conn.execute(sa.text(
        "INSERT INTO users (id, email, full_name, role, availability_status, max_concurrent_tickets, skills,"
        " certifications, customer_tier, credentials_version, created_at, updated_at, organization_id)"
        " VALUES (1, 'a@acme.test', 'A', 'agent', 'online', 10, '[]', '[]', 'basic', 1,"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"))
    insert = sa.text(
        "INSERT INTO projects (id, name, project_type, owner_id, organization_id, description, is_draft,"
        " course_name, course_code, teacher_name, goal_description, study_frequency, created_at, updated_at)"
        " VALUES (:id, :name, :type, 1, 1, '', :draft, :cn, :cc, :tn, :goal, :freq,"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    conn.execute(insert, {"id": 7, "name": "Compilers lab", "type": "school", "draft": True, "cn": "Compilers",
                          "cc": "CS-401", "tn": "Dr. Aho", "goal": None, "freq": None})
    conn.execute(insert, {"id": 9, "name": "Rust", "type": "self_study", "draft": True, "cn": None, "cc": None,
                          "tn": None, "goal": "A ray tracer", "freq": "weekly"})
    conn.execute(sa.text("INSERT INTO project_meta (project_id, key, value, created_at, updated_at)"
                         " VALUES (7, 'credits', '6', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))


def test_rows_move_to_their_type_tables_and_back(fresh_app):  # noqa: F811
    upgrade(directory=str(MIGRATIONS), revision=BEFORE)
    with db.engine.begin() as conn:
        _insert_old_layout(conn)

    upgrade(directory=str(MIGRATIONS), revision=AFTER)  # later revisions re-key projects (0023: UUIDs)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, course_name, course_code, teacher_name FROM school_projects")
                            ).all() == [(7, "Compilers", "CS-401", "Dr. Aho")]
        assert conn.execute(sa.text("SELECT id, goal_description, study_frequency FROM self_study_projects")
                            ).all() == [(9, "A ray tracer", "weekly")]
        # Rebuilding `projects` (SQLite's batch mode) must not cascade into its children.
        assert conn.execute(sa.text("SELECT project_id, key FROM project_meta")).all() == [(7, "credits")]
        columns = {c["name"] for c in sa.inspect(conn).get_columns("projects")}
        assert not columns & {"course_name", "course_code", "teacher_name", "goal_description", "study_frequency"}

    downgrade(directory=str(MIGRATIONS), revision=BEFORE)
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, course_code, goal_description FROM projects ORDER BY id")).all()
        assert rows == [(7, "CS-401", None), (9, None, "A ray tracer")]
        assert not {"school_projects", "self_study_projects"} & set(sa.inspect(conn).get_table_names())
        assert conn.execute(sa.text("SELECT count(*) FROM project_meta")).scalar_one() == 1

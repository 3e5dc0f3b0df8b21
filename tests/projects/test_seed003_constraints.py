"""Seed 003's rules hold in the database itself: a bad row written past the app is refused.

Each statement writes straight through a connection (no ORM flush, so no app-side
validation runs): what stops it is the CHECK constraint in the schema, on SQLite
and on PostgreSQL alike. The app's own validation gives the same refusal a
message (last test).
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.platform.models import uuid7
from app.platform.validation import ModelValidationError
from app.projects.models import GeneratedProject, ProjectFile, RepositoryExport

GOOD_HASH = "0" * 64


@pytest.fixture()
def generation_row(app, generated):
    """A completed generation of a real project: the parent of the rows written below."""
    _project_id, generation_id = generated
    with app.app_context():
        row = db.session.get(GeneratedProject, generation_id)
        assert row.status == "completed", row.error_message
        return {"id": row.id, "organization_id": row.organization_id, "project_id": row.project_id}


def _sql(statement: str, params: dict) -> sa.TextClause:
    """The statement with its key parameters typed as UUIDs (CHAR(32) hex on SQLite, uuid on PostgreSQL)."""
    return sa.text(statement).bindparams(*(sa.bindparam(name, type_=sa.Uuid) for name in ("id", "g")
                                           if name in params))


def _refused(app, statement: str, params: dict, constraint: str) -> None:
    with app.app_context():
        with pytest.raises(sa.exc.IntegrityError, match=constraint):
            with db.engine.begin() as conn:
                conn.execute(_sql(statement, params), params)


INSERT_FILE = (
    "INSERT INTO project_files (id, generated_project_id, file_path, file_name, file_type, file_size, content_hash,"
    " content_preview, is_executable, created_at, updated_at)"
    " VALUES (:id, :g, :path, 'x', 'text', :size, :hash, '', :false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


@pytest.mark.parametrize("path, size, digest, constraint", [
    ("ok.txt", 1, "abc", "check_project_file_content_hash"),
    ("ok.txt", 1, "G" * 64, "check_project_file_content_hash"),
    ("ok.txt", 1, "A" * 64, "check_project_file_content_hash"),  # lowercase only, as hashlib writes it
    ("ok.txt", 1, "0" * 63, "check_project_file_content_hash"),
    ("../etc/passwd", 1, GOOD_HASH, "check_project_file_path_relative"),
    ("/etc/passwd", 1, GOOD_HASH, "check_project_file_path_relative"),
    ("ok.txt", -1, GOOD_HASH, "check_project_file_size"),
])
def test_project_files_refuse_bad_rows(app, generation_row, path, size, digest, constraint):
    _refused(app, INSERT_FILE, {"id": uuid7(), "g": generation_row["id"], "path": path, "size": size, "hash": digest,
                                "false": False}, constraint)


def test_project_files_accept_a_good_row(app, generation_row):
    with app.app_context(), db.engine.begin() as conn:
        params = {"id": uuid7(), "g": generation_row["id"], "path": "docs/ok.txt", "size": 0,
                  "hash": "0123456789abcdef" * 4, "false": False}
        conn.execute(_sql(INSERT_FILE, params), params)


@pytest.mark.parametrize("column, value, constraint", [
    ("status", "bogus", "check_generated_project_status_valid"),
    ("total_files", -5, "check_generated_project_totals"),
    ("total_size", -1, "check_generated_project_totals"),
    ("output_directory", "../../elsewhere", "check_generated_project_output_directory"),
    ("output_directory", "/var/lib/cairn", "check_generated_project_output_directory"),
    ("output_directory", "projects\\1\\generated", "check_generated_project_output_directory"),
    ("output_directory", "projects/1/../../x", "check_generated_project_output_directory"),
])
def test_generated_projects_refuse_bad_rows(app, generation_row, column, value, constraint):
    _refused(app, f"UPDATE generated_projects SET {column} = :value WHERE id = :id",
             {"value": value, "id": generation_row["id"]}, constraint)


@pytest.fixture()
def export_row(app, generation_row):
    """A valid pending zip export row, written through the app."""
    with app.app_context():
        row = RepositoryExport(organization_id=generation_row["organization_id"],
                               generated_project_id=generation_row["id"], export_type="zip",
                               status="pending")
        db.session.add(row)
        db.session.commit()
        return row.id


@pytest.mark.parametrize("column, value, constraint", [
    ("export_type", "rar", "check_repository_export_type_valid"),
    ("status", "bogus", "check_repository_export_status_valid"),
    ("archive_size", -1, "check_repository_export_size"),
])
def test_repository_exports_refuse_bad_rows(app, export_row, column, value, constraint):
    _refused(app, f"UPDATE repository_exports SET {column} = :value WHERE id = :id",
             {"value": value, "id": export_row}, constraint)


def test_the_app_refuses_the_same_values_with_a_message(app, generation_row):
    with app.app_context():
        file = ProjectFile(generated_project_id=generation_row["id"], file_path="a.txt", file_name="a.txt",
                           file_size=1, content_hash="not-a-digest")
        db.session.add(file)
        with pytest.raises(ModelValidationError) as refused:
            db.session.flush()
        assert "SHA-256" in str(refused.value)
        db.session.rollback()

        generation = db.session.get(GeneratedProject, generation_row["id"])
        generation.output_directory = "../outside"
        with pytest.raises(ModelValidationError) as refused:
            db.session.flush()
        assert "relative path" in str(refused.value)
        db.session.rollback()

"""Study projects: per-type required fields (form and database), drafts, lists, search, metadata, dates, attachments."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.projects.models import ImportantDate, Project, ProjectAttachment, ProjectMeta, SchoolProject, SelfStudyProject
from tests.helpers import page_text, reload


def _row(**overrides):
    values = dict(name="Raw", project_type="school", owner_id=overrides.pop("owner_id"),
                  organization_id=overrides.pop("organization_id"), description="", is_draft=True,
                  created_at=sa.func.now(), updated_at=sa.func.now())
    values.update(overrides)
    return values


@pytest.mark.parametrize("table,fields", [
    ("school_projects", {"course_name": "Compilers", "course_code": "", "teacher_name": "Dr. Aho"}),
    ("school_projects", {"course_name": "Compilers", "course_code": "CS-1", "teacher_name": None}),
    ("self_study_projects", {"goal_description": "   ", "study_frequency": "weekly"}),
    ("self_study_projects", {"goal_description": "Rust", "study_frequency": None}),
    ("self_study_projects", {"goal_description": "Rust", "study_frequency": ""}),
])
def test_type_required_fields_are_refused_by_the_database(app_ctx, people, table, fields):
    """Written with Core (no model validation): NOT NULL and the CHECK constraints alone refuse it."""
    user = people["student"]
    project_type = "school" if table == "school_projects" else "self_study"
    project_id = db.session.execute(sa.insert(Project.__table__).values(**_row(
        owner_id=user.id, organization_id=user.organization_id, project_type=project_type))
        .returning(Project.__table__.c.id)).scalar_one()
    db.session.commit()
    type_table = db.metadata.tables[table]
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.insert(type_table).values(id=project_id, **fields))
        db.session.commit()
    db.session.rollback()
    good = {"course_name": "C", "course_code": "C-1", "teacher_name": "T"} if project_type == "school" else {
        "goal_description": "Rust", "study_frequency": "Saturday mornings"}  # free text, as in seed 002
    db.session.execute(sa.insert(type_table).values(id=project_id, **good))
    db.session.commit()
    assert db.session.get(Project, project_id).type_fields() == good


def test_type_rows_go_with_their_project(app_ctx, people):
    user = people["student"]
    project = SchoolProject(name="P", owner_id=user.id, organization_id=user.organization_id, course_name="C",
                            course_code="C", teacher_name="T")
    db.session.add(project)
    db.session.commit()
    project_id = project.id
    db.session.execute(sa.delete(Project.__table__).where(Project.__table__.c.id == project_id))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SchoolProject.__table__)) == 0


def test_published_project_needs_a_publication_time_at_the_database(app_ctx, people):
    user = people["student"]
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.insert(Project.__table__).values(**_row(
            owner_id=user.id, organization_id=user.organization_id, is_draft=False)))
        db.session.commit()
    db.session.rollback()


def test_attachments_protect_their_project_at_the_database(app_ctx, people):
    user = people["student"]
    project = SchoolProject(name="P", owner_id=user.id, organization_id=user.organization_id, course_name="C",
                            course_code="C", teacher_name="T")
    db.session.add(project)
    db.session.flush()
    db.session.add(ProjectAttachment(organization_id=user.organization_id, project_id=project.id, filename="a.txt",
                                     storage_path="x/a"))
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.delete(Project.__table__).where(Project.__table__.c.id == project.id))
        db.session.commit()
    db.session.rollback()
    assert db.session.get(Project, project.id) is not None


def test_create_school_project_through_the_form_as_a_draft(app, student):
    project_id = student.create_school(publish=False)
    page = student.client.get(f"/projects/{project_id}")
    assert page.status_code == 200
    text = page_text(page)
    assert "Compilers" in text and "CS-401" in text and "Draft" in text
    with app.app_context():
        project = reload(Project, project_id)
        assert isinstance(project, SchoolProject) and project.is_draft and project.published_at is None
        assert project.owner_id == student.user.id
    response = student.post(f"/projects/{project_id}/publish", page=f"/projects/{project_id}")
    assert response.status_code == 302
    with app.app_context():
        project = reload(Project, project_id)
        assert not project.is_draft and project.published_at is not None


def test_missing_type_fields_are_shown_on_the_form_and_nothing_is_saved(app, student):
    response = student.post("/projects/new", {"project_type": "school", "name": "X", "course_name": "Compilers",
                                              "course_code": "", "teacher_name": ""})
    assert response.status_code == 422
    text = page_text(response)
    assert "Course code is required." in text and "Teacher name is required." in text
    response = student.post("/projects/new", {"project_type": "self_study", "name": "Y", "goal_description": "",
                                              "study_frequency": "hourly"})
    assert response.status_code == 422
    assert "Goal is required." in page_text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 0


def test_type_fields_fragment_follows_the_chosen_type(student):
    school = page_text(student.client.get("/projects/new/fields?project_type=school", headers={"HX-Request": "true"}))
    assert 'name="course_code"' in school and "goal_description" not in school
    study = page_text(student.client.get("/projects/new/fields?project_type=self_study", headers={"HX-Request": "true"}))
    assert 'name="goal_description"' in study and 'name="study_frequency"' in study and "course_code" not in study


def test_lists_by_type_drafts_and_search(app, student, login, people):
    student.create_school("Compilers lab")
    student.create_self_study("Learn Rust")
    student.create_school("Databases essay", publish=False, course_name="Databases")
    login(people["classmate"]).create_school("Someone else's lab")
    school = page_text(student.client.get("/projects/?tab=school"))
    assert "Compilers lab" in school and "Databases essay" in school and "Learn Rust" not in school
    assert "Someone else" not in school
    study = page_text(student.client.get("/projects/?tab=self_study"))
    assert "Learn Rust" in study and "Compilers lab" not in study
    drafts = page_text(student.client.get("/projects/?tab=drafts"))
    assert "Databases essay" in drafts and "Compilers lab" not in drafts
    by_course = page_text(student.client.get("/projects/?q=databases"))
    assert "Databases essay" in by_course and "Compilers lab" not in by_course
    by_goal = page_text(student.client.get("/projects/?q=ray tracer", headers={"HX-Request": "true",
                                                                               "HX-Target": "project-results"}))
    assert "Learn Rust" in by_goal and "<html" not in by_goal
    assert "Nothing matches" in page_text(student.client.get("/projects/?q=%25_nothing"))


def test_metadata_json_values_and_replacement(app, student):
    project_id = student.create_school()
    page = f"/projects/{project_id}"
    assert student.post(f"{page}/meta", {"key": "credits", "value": "6"}, page=page).status_code == 302
    assert student.post(f"{page}/meta", {"key": "tags", "value": '["parsing", "llvm"]'}, page=page).status_code == 302
    assert student.post(f"{page}/meta", {"key": "syllabus", "value": "https://uni.example/cs401"}, page=page).status_code == 302
    response = student.post(f"{page}/meta", {"key": "credits", "value": "7.5"}, page=page,
                            headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="metadata"' in page_text(response)
    bad = student.post(f"{page}/meta", {"key": "", "value": "x"}, page=page, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "Key is required." in page_text(bad)
    with app.app_context():
        meta = reload(Project, project_id).meta
        assert meta == {"credits": 7.5, "tags": ["parsing", "llvm"], "syllabus": "https://uni.example/cs401"}
        meta_id = db.session.scalar(sa.select(ProjectMeta.id).where(ProjectMeta.key == "tags"))
    assert student.post(f"{page}/meta/{meta_id}/delete", page=page).status_code == 302
    with app.app_context():
        assert "tags" not in reload(Project, project_id).meta


def test_dates_and_calendar_download(app, student):
    project_id = student.create_school()
    page = f"/projects/{project_id}"
    student.post(f"{page}/dates", {"kind": "deadline", "title": "Parser, due", "date": "2027-01-15"}, page=page)
    student.post(f"{page}/dates", {"kind": "exam", "title": "Final exam", "date": "2027-02-01", "notes": "Room 4"},
                 page=page)
    bad = student.post(f"{page}/dates", {"kind": "party", "title": "", "date": "soon"}, page=page)
    assert bad.status_code == 422 and "Title is required." in page_text(bad)
    ics = student.client.get(f"{page}/calendar.ics")
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    body = ics.get_data(as_text=True)
    assert body.count("BEGIN:VEVENT") == 2 and "DTSTART;VALUE=DATE:20270115" in body
    assert "SUMMARY:Deadline: Parser\\, due (Compilers lab)" in body and "\r\n" in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportantDate)) == 2


def test_attachments_upload_download_soft_delete_and_protect(app, student):
    project_id = student.create_school()
    page = f"/projects/{project_id}"
    response = student.post(f"{page}/attachments", {"file": (io.BytesIO(b"lecture notes"), "notes.txt")}, page=page,
                            content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        attachment = db.session.scalars(sa.select(ProjectAttachment)).one()
        attachment_id = attachment.id
        assert attachment.size == 13 and len(attachment.sha256) == 64
    download = student.client.get(f"{page}/attachments/{attachment_id}")
    assert download.status_code == 200 and download.data == b"lecture notes"
    refused = student.post(f"{page}/delete", page=page)
    assert refused.status_code == 302
    assert "attachment" in page_text(student.client.get(page))
    with app.app_context():
        assert reload(Project, project_id) is not None
    student.post(f"{page}/attachments/{attachment_id}/delete", page=page)
    with app.app_context():
        attachment = reload(ProjectAttachment, attachment_id)
        assert not attachment.is_active and attachment.deleted_by_id == student.user.id
    assert student.client.get(f"{page}/attachments/{attachment_id}").status_code == 404
    assert "1 removed" in page_text(student.client.get(page))
    student.post(f"{page}/attachments/{attachment_id}/restore", page=page)
    with app.app_context():
        assert reload(ProjectAttachment, attachment_id).is_active
    student.post(f"{page}/attachments/{attachment_id}/delete", page=page)
    assert student.post(f"{page}/delete", page=page).status_code == 302
    with app.app_context():
        assert reload(Project, project_id) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProjectAttachment)) == 0


def test_other_people_and_other_organizations_get_404(app, student, login, people):
    project_id = student.create_self_study()
    for user in (people["outsider"], people["classmate"]):
        other = login(user)
        for url in (f"/projects/{project_id}", f"/projects/{project_id}/edit", f"/projects/{project_id}/calendar.ics",
                    f"/projects/{project_id}/generate"):
            assert other.client.get(url).status_code == 404, url
        assert other.post(f"/projects/{project_id}/delete", page="/projects/new").status_code == 404
    with app.app_context():
        assert isinstance(reload(Project, project_id), SelfStudyProject)


def test_abandoned_drafts_query_reads_the_cleanup_index(app_ctx):
    stmt = Project.abandoned_drafts(24)
    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in db.session.execute(sa.text(f"EXPLAIN {compiled}")))
    else:
        plan = "\n".join(str(r[-1]) for r in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")))
    db.session.rollback()
    assert "idx_project_draft_cleanup" in plan, plan

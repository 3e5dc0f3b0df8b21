"""Generation jobs: built-in and uploaded templates, questions, sandboxing, Explore, regenerate, share link."""
from __future__ import annotations

import hashlib
import html
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.projects.models import GeneratedProject, ProjectFile, ProjectTemplate, WorkflowExecution
from tests.helpers import page_text, reload
from tests.projects.conftest import make_zip


def _files(app, generation_id):
    with app.app_context():
        return {f.file_path: f for f in db.session.scalars(
            sa.select(ProjectFile).where(ProjectFile.generated_project_id == generation_id))}


def test_generate_a_course_project_records_files_manifest_and_workflow(app, student, run_jobs):
    project_id = student.create_school()
    page = f"/projects/{project_id}"
    student.post(f"{page}/dates", {"kind": "deadline", "title": "Parser", "date": "2027-01-15"}, page=page)
    student.post(f"{page}/meta", {"key": "credits", "value": "6"}, page=page)
    form = page_text(student.client.get(f"{page}/generate?template=course-project"))
    assert 'value="Ada Lovelace"' in form and "Compilers lab report" in form
    generation_id = student.generation_id(student.generate(project_id, "course-project", author="Ada L.",
                                                           report_title="Parsing report", include_src="y"))
    with app.app_context():
        # Queued as a job (a live worker may already have taken it).
        assert reload(GeneratedProject, generation_id).status in ("pending", "generating", "completed")
    run_jobs()
    with app.app_context():
        generation = reload(GeneratedProject, generation_id)
        assert generation.status == "completed", generation.error_message
        assert generation.total_files == 4 and generation.completed_at is not None
        execution = db.session.get(WorkflowExecution, generation.workflow_execution_id)
        assert execution.status == "completed" and [s["name"] for s in execution.steps] == [
            "load template", "render", "store files"]
    files = _files(app, generation_id)
    assert sorted(files) == ["README.md", "report/report.md", "src/.gitkeep", "submit.sh"]
    readme = files["README.md"]
    assert "CS-401" in readme.content_preview and "2027-01-15 · deadline: Parser" in readme.content_preview
    assert "credits: 6" in readme.content_preview and readme.file_type == "markdown"
    assert files["submit.sh"].is_executable and not readme.is_executable
    view = student.client.get(f"{page}/generations/{generation_id}/files/{files['README.md'].id}")
    assert view.status_code == 200 and "Course: **Compilers** (CS-401)" in page_text(view)
    raw = student.client.get(f"{page}/generations/{generation_id}/files/{files['README.md'].id}?raw=1")
    assert hashlib.sha256(raw.data).hexdigest() == readme.content_hash and readme.file_size == len(raw.data)
    fragment = student.client.get(f"{page}/generations/{generation_id}/files/{files['submit.sh'].id}",
                                  headers={"HX-Request": "true"})
    assert "<html" not in page_text(fragment) and "0755" in page_text(fragment)
    detail = page_text(student.client.get(f"{page}/generations/{generation_id}"))
    assert "submit.sh" in detail and "report/" in detail and "Succeeded" in detail
    manifest = student.client.get(f"{page}/generations/{generation_id}/manifest.json").get_json()
    assert {f["path"]: f["mode"] for f in manifest["files"]}["submit.sh"] == "0755"


def test_answers_are_validated_with_clear_messages(app, student):
    project_id = student.create_self_study()
    response = student.generate(project_id, "python-package", author="Ada", package_name="Not-Valid",
                                python_version="2.7", license="MIT")
    assert response.status_code == 422
    text = page_text(response)
    assert "Package name: lowercase letters" in text and "Minimum Python must be one of" in text
    response = student.generate(project_id, "self-study-plan", author="", level="beginner", session_minutes="0")
    assert response.status_code == 422
    assert "Author is required." in page_text(response) and "Minutes per session must be 1 to 999." in page_text(response)
    assert student.generate(project_id, "no-such-template").status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(GeneratedProject)) == 0


def test_questions_fragment_swaps_with_the_template(student):
    project_id = student.create_self_study()
    fragment = page_text(student.client.get(f"/projects/{project_id}/generate?template=python-package",
                                            headers={"HX-Request": "true"}))
    assert 'name="ans_package_name"' in fragment and 'value="learn_rust"' in fragment and "<html" not in fragment


def test_regenerate_keeps_the_earlier_generation_and_shows_changes(app, student, run_jobs):
    project_id = student.create_self_study()
    first = student.generation_id(student.generate(project_id, "python-package", author="Ada", package_name="rt",
                                                   python_version="3.11", license="MIT"))
    run_jobs()
    detail = page_text(student.client.get(f"/projects/{project_id}/generations/{first}"))
    regenerate = re.search(r'href="([^"]*previous=\d+[^"]*)"', detail).group(1).replace("&amp;", "&")
    form = page_text(student.client.get(regenerate))
    assert 'value="rt"' in form and f'name="previous" value="{first}"' in form
    response = student.post(f"/projects/{project_id}/generate",
                            {"template": "python-package", "previous": str(first), "ans_author": "Ada",
                             "ans_package_name": "raytracer", "ans_python_version": "3.11", "ans_license": "MIT"})
    second = student.generation_id(response)
    run_jobs()
    text = page_text(student.client.get(f"/projects/{project_id}/generations/{second}"))
    assert f"Changes since #{first.hex[-8:]}" in text
    assert "+ src/raytracer/__init__.py" in text and "− src/rt/__init__.py" in text and "~ pyproject.toml" in text
    with app.app_context():
        assert reload(GeneratedProject, first).status == "completed"
        assert reload(GeneratedProject, second).previous_id == first


def test_share_link_reproduces_the_options(app, student, run_jobs):
    project_id = student.create_self_study()
    generation_id = student.generation_id(student.generate(project_id, "self-study-plan", author="Ada",
                                                           level="advanced", session_minutes="90"))
    run_jobs()
    detail = page_text(student.client.get(f"/projects/{project_id}/generations/{generation_id}"))
    share = re.search(r'aria-label="Share link"|value="(http[^"]+generate\?[^"]+)"', detail)
    link = re.search(r'readonly value="([^"]+)"', detail).group(1).replace("&amp;", "&")
    params = parse_qs(urlsplit(link).query)
    assert params["template"] == ["self-study-plan"] and params["ans_level"] == ["advanced"]
    form = page_text(student.client.get(urlsplit(link).path + "?" + urlsplit(link).query))
    assert '<option value="advanced" selected>' in form and 'value="90"' in form
    assert share is not None


def test_archive_and_unarchive_a_generation(app, student, run_jobs):
    project_id = student.create_self_study()
    generation_id = student.generation_id(student.generate(project_id, "self-study-plan", author="Ada",
                                                           level="beginner", session_minutes="30"))
    run_jobs()
    url = f"/projects/{project_id}/generations/{generation_id}"
    student.post(f"{url}/archive", {"archived": "1"}, page=url)
    with app.app_context():
        assert reload(GeneratedProject, generation_id).status == "archived"
    text = page_text(student.client.get(url))
    assert "Archived" in text and 'hx-trigger="every 1s"' not in text
    student.post(f"{url}/archive", {"archived": "0"}, page=url)
    with app.app_context():
        assert reload(GeneratedProject, generation_id).status == "completed"


# --------------------------------------------------------------------------- uploaded templates
def _upload(client_student, data: bytes, name: str = "Lab template"):
    return client_student.post("/projects/templates", {"name": name, "file": (io.BytesIO(data), "t.zip")},
                               page="/projects/templates", content_type="multipart/form-data")


@pytest.mark.parametrize("entries,symlinks,message", [
    ({"../evil.sh": b"x"}, None, "'..' would point outside the project"),
    ({"/etc/passwd": b"x"}, None, "absolute paths are not allowed"),
    ({"ok.txt": b"x"}, {"link": "/etc/passwd"}, "is a symbolic link"),
    ({"a\\b.txt": b"x"}, None, "backslashes are not allowed"),
])
def test_template_upload_refuses_unsafe_paths(app, login, people, entries, symlinks, message):
    admin = login(people["admin"])
    response = _upload(admin, make_zip(entries, symlinks=symlinks))
    assert response.status_code == 422
    assert message in html.unescape(page_text(response))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProjectTemplate)) == 0


def test_template_upload_refuses_zip_bombs_and_too_many_files(app, login, people):
    admin = login(people["admin"])
    bomb = make_zip({"big.txt": b"0" * (30 * 1024 * 1024)})  # 30 MB of zeros packs to ~30 KB
    response = _upload(admin, bomb)
    assert response.status_code == 422 and "limit is" in page_text(response)
    too_many = make_zip({f"f{i}.txt": b"x" for i in range(501)})
    response = _upload(admin, too_many)
    assert response.status_code == 422 and "501 files; the limit is 500" in page_text(response)
    # A header that lies about the size: declared 10 bytes, 10 KB actually stored.
    liar = bytearray(make_zip({"lie.txt": b"A" * 10240}))
    index = liar.rfind(b"PK\x01\x02")  # central directory entry: uncompressed size at offset 24
    liar[index + 24:index + 28] = (10).to_bytes(4, "little")
    response = _upload(admin, bytes(liar))
    assert response.status_code == 422
    assert _upload(admin, b"not a zip").status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProjectTemplate)) == 0


def test_members_cannot_upload_templates(login, people):
    response = _upload(login(people["classmate"]), make_zip({"a.txt": b"x"}))
    assert response.status_code == 403


def test_uploaded_template_generates_with_questions_modes_and_sandbox(app, login, people, run_jobs):
    admin = login(people["admin"])
    questions = b'{"name": "Lab", "questions": [{"name": "lang", "label": "Language", "type": "choice", ' \
                b'"choices": ["c", "rust"], "default": "rust"}]}'
    data = make_zip({"cairn-template.json": questions,
                     "{{ slug }}/main.{{ answers.lang }}.jinja": b"// {{ project.name }} for {{ project.teacher_name }}\n",
                     "build.sh": (b"#!/bin/sh\necho {{ not rendered }}\n", 0o755)})
    response = _upload(admin, data, name="")
    assert response.status_code == 302
    with app.app_context():
        template = db.session.scalars(sa.select(ProjectTemplate)).one()
        assert template.name == "Lab" and template.total_files == 2
        key = f"org-{template.id}"
    project_id = admin.create_school("Systems lab")
    generation_id = admin.generation_id(admin.generate(project_id, key, lang="c"))
    run_jobs()
    files = _files(app, generation_id)
    assert sorted(files) == ["build.sh", "systems-lab/main.c"]
    assert files["systems-lab/main.c"].content_preview == "// Systems lab for Dr. Aho\n"
    assert files["build.sh"].is_executable and "{{ not rendered }}" in files["build.sh"].content_preview
    # The sandbox refuses attribute games; the generation fails with a readable reason.
    evil = make_zip({"x.txt.jinja": b"{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    assert _upload(admin, evil, name="Evil").status_code == 302
    with app.app_context():
        evil_key = f"org-{db.session.scalar(sa.select(ProjectTemplate.id).where(ProjectTemplate.name == 'Evil'))}"
    failed = admin.generation_id(admin.generate(project_id, evil_key))
    run_jobs()
    with app.app_context():
        row = reload(GeneratedProject, failed)
        assert row.status == "failed" and "unsafe" in row.error_message.lower()
        assert db.session.get(WorkflowExecution, row.workflow_execution_id).status == "failed"
    # Another organization can't use (or see) the template.
    outsider = login(people["outsider"])
    other_project = outsider.create_school("Their lab")
    assert outsider.generate(other_project, key, lang="c").status_code == 422


def test_cross_tenant_generations_and_files_answer_404(app, student, login, people, run_jobs):
    project_id = student.create_self_study()
    generation_id = student.generation_id(student.generate(project_id, "self-study-plan", author="Ada",
                                                           level="beginner", session_minutes="30"))
    run_jobs()
    file_id = next(iter(_files(app, generation_id).values())).id
    other = login(people["outsider"])
    own_project = other.create_self_study("Mine")
    urls = [f"/projects/{project_id}/generations/{generation_id}",
            f"/projects/{project_id}/generations/{generation_id}/files/{file_id}",
            f"/projects/{project_id}/generations/{generation_id}/manifest.json",
            f"/projects/{own_project}/generations/{generation_id}",
            f"/projects/{own_project}/generations/{generation_id}/files/{file_id}",
            f"/jobs/project-generate/{generation_id}/status"]
    for url in urls:
        assert other.client.get(url).status_code == 404, url


def test_share_link_keeps_an_unchecked_box_unchecked(app, student, run_jobs):
    project_id = student.create_school()
    response = student.post(f"/projects/{project_id}/generate", {"template": "course-project", "ans_author": "Ada",
                                                                 "ans_report_title": "R"})  # include_src unchecked
    generation_id = student.generation_id(response)
    run_jobs()
    detail = page_text(student.client.get(f"/projects/{project_id}/generations/{generation_id}"))
    link = html.unescape(re.search(r'readonly value="([^"]+)"', detail).group(1))
    assert "ans_include_src=n" in link
    form = page_text(student.client.get(urlsplit(link).path + "?" + urlsplit(link).query))
    assert 'name="ans_include_src" value="y" >' in form  # rendered unchecked
    assert "src/.gitkeep" not in _files(app, generation_id)


def test_edit_a_project_keeps_its_type_rules(app, student):
    project_id = student.create_school()
    page = f"/projects/{project_id}/edit"
    response = student.post(page, {"project_type": "school", "name": "Compilers lab II", "course_name": "Compilers",
                                   "course_code": "CS-402", "teacher_name": ""}, page=page)
    assert response.status_code == 422 and "Teacher name is required." in page_text(response)
    response = student.post(page, {"project_type": "self_study", "name": "Compilers lab II",
                                   "course_name": "Compilers", "course_code": "CS-402", "teacher_name": "Dr. Ullman",
                                   "start_date": "2027-01-10", "end_date": "2027-01-01"}, page=page)
    assert response.status_code == 422 and "The end date can" in html.unescape(page_text(response))
    response = student.post(page, {"name": "Compilers lab II", "course_name": "Compilers", "course_code": "CS-402",
                                   "teacher_name": "Dr. Ullman"}, page=page)
    assert response.status_code == 302
    with app.app_context():
        from app.projects.models import Project

        project = reload(Project, project_id)
        assert (project.name, project.course_code, project.teacher_name, project.project_type) == (
            "Compilers lab II", "CS-402", "Dr. Ullman", "school")

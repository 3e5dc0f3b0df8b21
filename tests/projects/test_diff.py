"""Diffs between generations, file by file and line by line, and paged generations on a project's page.

The line-by-line result is checked against difflib.unified_diff run on the stored files by
the test itself, so the page agrees with an independent unified diff, not only with itself.
"""
from __future__ import annotations

import difflib
import html
import re

import sqlalchemy as sa

from app.extensions import db
from app.projects import services
from app.projects.diffing import MAX_COMPARED_BYTES, MAX_ROWS_PER_FILE, file_diff
from app.projects.models import GeneratedProject
from tests.helpers import page_text


# --------------------------------------------------------------------------- the diff itself
def _unified_from_rows(diff) -> list[str]:
    return [marker + text for hunk in diff.hunks for marker, _number, text in hunk.unified()]


def _unified_from_difflib(old: str, new: str) -> list[str]:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3))
    return [line for line in lines[2:] if not line.startswith("@@")]


def test_changed_lines_agree_with_difflib_unified_diff():
    old = "\n".join(f"line {i}" for i in range(1, 41)) + "\n"
    new_lines = old.splitlines()
    new_lines[4] = "line 5 changed"
    del new_lines[20:22]
    new_lines.insert(30, "an inserted line")
    new_lines.append("a last line")
    new = "\n".join(new_lines) + "\n"

    diff = file_diff("notes.txt", old.encode(), new.encode())

    assert diff.status == "changed" and not diff.not_compared
    assert _unified_from_rows(diff) == _unified_from_difflib(old, new)
    assert [h.header for h in diff.hunks] == [
        line for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="") if line.startswith("@@")]
    assert (diff.added_lines, diff.removed_lines) == (3, 3)
    change = next(r for h in diff.hunks for r in h.rows if r.kind == "change")
    assert (change.old_number, change.old_text, change.new_number, change.new_text) == (
        5, "line 5", 5, "line 5 changed")


def test_added_removed_binary_large_and_long_files():
    added = file_diff("new.py", None, b"a\nb\n")
    assert added.status == "added" and _unified_from_rows(added) == ["+a", "+b"]
    removed = file_diff("old.py", b"a\n", None)
    assert removed.status == "removed" and _unified_from_rows(removed) == ["-a"]
    assert "binary" in file_diff("logo.png", b"\x89PNG\x00\x01", b"\x89PNG\x00\x02").not_compared
    assert "binary" in file_diff("latin1.txt", "caf\xe9".encode("latin-1"), b"cafe").not_compared
    big = b"x\n" * (MAX_COMPARED_BYTES // 2 + 1)
    assert "not compared" in file_diff("big.txt", big, big + b"y\n").not_compared
    long = file_diff("long.txt", None, "\n".join(str(i) for i in range(MAX_ROWS_PER_FILE + 50)).encode())
    assert long.truncated and sum(len(h.rows) for h in long.hunks) == MAX_ROWS_PER_FILE


# --------------------------------------------------------------------------- the page
def _two_generations(student, run_jobs):
    project_id = student.create_self_study()
    first = student.generation_id(student.generate(project_id, "python-package", author="Ada", package_name="rt",
                                                   python_version="3.11", license="MIT"))
    run_jobs()
    response = student.post(f"/projects/{project_id}/generate",
                            {"template": "python-package", "previous": str(first), "ans_author": "Ada",
                             "ans_package_name": "raytracer", "ans_python_version": "3.12", "ans_license": "MIT"})
    second = student.generation_id(response)
    run_jobs()
    return project_id, first, second


def test_diff_page_shows_each_changed_file_line_by_line(app, student, run_jobs):
    project_id, first, second = _two_generations(student, run_jobs)
    detail = page_text(student.client.get(f"/projects/{project_id}/generations/{second}"))
    assert "See the changes line by line" in detail

    response = student.client.get(f"/projects/{project_id}/generations/{second}/diff")
    assert response.status_code == 200
    text = html.unescape(page_text(response))
    assert f"Changes in #{second.hex[-8:]} since #{first.hex[-8:]}" in text
    assert "src/raytracer/__init__.py" in text and "src/rt/__init__.py" in text
    with app.app_context():
        old, new = db.session.get(GeneratedProject, first), db.session.get(GeneratedProject, second)
        old_file = next(f for f in old.files if f.file_path == "pyproject.toml")
        new_file = next(f for f in new.files if f.file_path == "pyproject.toml")
        expected = _unified_from_difflib(services.file_content(old_file).decode(),
                                         services.file_content(new_file).decode())
    removed = [line[1:] for line in expected if line.startswith("-")]
    added = [line[1:] for line in expected if line.startswith("+")]
    assert removed and added
    for line in removed + added:
        assert line in text, line
    # Both views are on the page; CSS picks one by width.
    assert 'class="table-wrap diff-split"' in response.get_data(as_text=True)
    assert 'class="table-wrap diff-unified"' in response.get_data(as_text=True)


def test_compare_with_another_generation_and_tenancy(app, student, run_jobs, login, people):
    project_id, first, second = _two_generations(student, run_jobs)
    backwards = page_text(student.client.get(f"/projects/{project_id}/generations/{first}/diff?against={second}"))
    assert f"Changes in #{first.hex[-8:]} since #{second.hex[-8:]}" in backwards
    same = student.client.get(f"/projects/{project_id}/generations/{first}/diff?against={first}")
    assert same.status_code == 200  # a generation against itself: nothing differs
    assert "No file changed" in page_text(same)

    other_project = student.create_school()
    assert student.client.get(f"/projects/{other_project}/generations/{second}/diff").status_code == 404
    outsider = login(people["outsider"])
    assert outsider.client.get(f"/projects/{project_id}/generations/{second}/diff").status_code == 404
    classmate = login(people["classmate"])
    assert classmate.client.get(f"/projects/{project_id}/generations/{second}/diff").status_code == 404


def test_a_projects_generations_are_paged(app, student):
    project_id = student.create_self_study()
    with app.app_context():
        org_id = db.session.scalar(sa.select(GeneratedProject.organization_id).limit(1)) or \
            student.user.organization_id
        db.session.add_all([GeneratedProject(organization_id=org_id, project_id=project_id, template_key="t",
                                             template_name=f"Run {i:02d}", status="failed")
                            for i in range(25)])
        db.session.commit()
    first_page = page_text(student.client.get(f"/projects/{project_id}"))
    assert first_page.count('class="project-row"') >= 20 and "Next" in first_page
    assert "Run 00" not in first_page
    second_page = page_text(student.client.get(f"/projects/{project_id}?page=2"))
    assert "Run 00" in second_page and re.search(r"21.25 of 25", second_page)

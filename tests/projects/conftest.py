"""Projects tests drive the app through its real forms (one context per request, CSRF), jobs on the real queue."""
from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass

import pytest

from tests.helpers import csrf_from, signed_in, stop_process_group, uuid_after


@dataclass
class Student:
    user: object
    client: object

    def csrf(self, page: str = "/projects/new") -> str:
        return csrf_from(self.client.get(page).get_data(as_text=True))

    def post(self, url: str, data: dict | None = None, *, page: str = "/projects/new", **kwargs):
        return self.client.post(url, data={"csrf_token": self.csrf(page), **(data or {})}, **kwargs)

    def create_school(self, name="Compilers lab", publish=True, **extra):
        data = {"project_type": "school", "name": name, "course_name": "Compilers", "course_code": "CS-401",
                "teacher_name": "Dr. Aho", "action": "publish" if publish else "draft", **extra}
        response = self.post("/projects/new", data)
        assert response.status_code == 302, response.get_data(as_text=True)
        return uuid_after("/projects/", response.headers["Location"])

    def create_self_study(self, name="Learn Rust", publish=True):
        data = {"project_type": "self_study", "name": name, "goal_description": "Write a ray tracer in Rust",
                "study_frequency": "weekly", "action": "publish" if publish else "draft"}
        response = self.post("/projects/new", data)
        assert response.status_code == 302, response.get_data(as_text=True)
        return uuid_after("/projects/", response.headers["Location"])

    def generate(self, project_id: uuid.UUID, template: str, **answers):
        data = {"template": template, **{f"ans_{k}": v for k, v in answers.items()}}
        return self.post(f"/projects/{project_id}/generate", data)

    def generation_id(self, response) -> uuid.UUID:
        assert response.status_code == 302, response.get_data(as_text=True)
        return uuid_after("/generations/", response.headers["Location"])


@pytest.fixture()
def people(make_org, make_user):
    org = make_org("Acme")
    other_org = make_org("Globex")
    return {"org": org, "other_org": other_org,
            "student": make_user(org, "agent", "ada@acme.example.com", full_name="Ada Lovelace"),
            "classmate": make_user(org, "agent", "alan@acme.example.com"),
            "admin": make_user(org, "admin", "root@acme.example.com"),
            "outsider": make_user(other_org, "admin", "eve@globex.example.com")}


@pytest.fixture()
def student(app, people):
    client, _auth = signed_in(app, people["student"])
    return Student(people["student"], client)


@pytest.fixture()
def login(app):
    def _login(user) -> Student:
        client, _auth = signed_in(app, user)
        return Student(user, client)

    return _login


@pytest.fixture()
def generated(app, student, run_jobs):
    """A completed Python package generation of the student's self-study project: (project_id, generation_id)."""
    project_id = student.create_self_study("Ray tracer")
    generation_id = student.generation_id(student.generate(project_id, "python-package", author="Ada",
                                                           package_name="rt", python_version="3.11", license="MIT"))
    run_jobs()
    return project_id, generation_id


def make_zip(entries: dict[str, bytes | tuple[bytes, int]], *, symlinks: dict[str, str] | None = None) -> bytes:
    """A zip with `path: content` or `path: (content, mode)` entries, and optional symlinks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, value in entries.items():
            content, mode = value if isinstance(value, tuple) else (value, 0o644)
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, content, zipfile.ZIP_DEFLATED)
        for path, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o120777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()




@pytest.fixture()
def operator_allows_private_remotes(app, backend, monkeypatch):
    """The operator's GIT_ALLOW_PRIVATE_REMOTES=true (an in-house git server): in this process and, on the
    Redis backend, in the worker process that runs the push (its config comes from the environment)."""
    monkeypatch.setitem(app.config, "GIT_ALLOW_PRIVATE_REMOTES", True)
    if not backend["redis"]:
        yield
        return
    from tests import conftest as root

    stop_process_group(root._WORKERS.pop("main", None))
    root._WORKERS["main"] = root.start_worker(backend, GIT_ALLOW_PRIVATE_REMOTES="true")
    yield
    stop_process_group(root._WORKERS.pop("main", None))  # the next test starts a worker with the default (off)

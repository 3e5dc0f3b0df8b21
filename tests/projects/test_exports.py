"""Repository exports: archives (contents, modes, determinism, signed downloads) and git pushes."""
from __future__ import annotations

import html
import io
import re
import subprocess
import tarfile
import zipfile

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.projects import gitops
from app.projects.models import RepositoryExport
from tests.helpers import page_text


def _export(student, project_id, generation_id, **data):
    url = f"/projects/{project_id}/generations/{generation_id}"
    response = student.post(f"{url}/exports", {"export_type": "zip", "branch": "main", **data}, page=url)
    return response


def _latest_export(app) -> RepositoryExport:
    with app.app_context():
        return db.session.scalars(sa.select(RepositoryExport).order_by(RepositoryExport.id.desc())).first()


def _download(student, project_id, generation_id, export_id):
    text = page_text(student.client.get(f"/projects/{project_id}/generations/{generation_id}"))
    link = re.search(rf'href="(/projects/exports/{export_id}/download\?token=[^"]+)"', text).group(1)
    return html.unescape(link)


EXPECTED = {"ray-tracer/.gitignore": 0o644, "ray-tracer/README.md": 0o644, "ray-tracer/pyproject.toml": 0o644,
            "ray-tracer/run_tests.sh": 0o755, "ray-tracer/src/rt/__init__.py": 0o644,
            "ray-tracer/tests/test_version.py": 0o644}


def test_zip_export_contents_modes_and_signed_download(app, student, generated, run_jobs):
    project_id, generation_id = generated
    assert _export(student, project_id, generation_id, export_type="zip").status_code == 302
    run_jobs()
    export = _latest_export(app)
    assert export.status == "completed", export.error_message
    assert export.archive_size > 0 and export.archive_path.endswith(f"{export.id}.zip")
    link = _download(student, project_id, generation_id, export.id)
    response = student.client.get(link)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert len(response.data) == export.archive_size
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert names == sorted(names, key=lambda n: n.encode()) and set(names) == set(EXPECTED)
    for info in archive.infolist():
        assert (info.external_attr >> 16) & 0o777 == EXPECTED[info.filename], info.filename
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
    assert b'name = "rt"' in archive.read("ray-tracer/pyproject.toml")
    # A tampered token, and a token of another user, are refused.
    assert student.client.get(link[:-3] + "abc").status_code == 410


def test_accented_project_names_keep_their_letters_in_archive_folders():
    """The archive's folder and file name (and a template's {{ slug }}) fold accents instead of dropping them."""
    from app.projects.archives import slug_for

    assert slug_for("Thèse d'Économie") == "these-d-economie"  # was "th-se-d-conomie"
    assert slug_for("Übung 2") == "ubung-2"
    assert slug_for("Проект") == "project"  # nothing left to fold: the fallback, as before
    assert slug_for("Ray Tracer") == "ray-tracer"


def test_tar_gz_modes_and_byte_identical_archives(app, student, generated, run_jobs):
    project_id, generation_id = generated
    _export(student, project_id, generation_id, export_type="tar.gz")
    _export(student, project_id, generation_id, export_type="tar.gz")
    _export(student, project_id, generation_id, export_type="tar")
    run_jobs()
    with app.app_context():
        rows = db.session.scalars(sa.select(RepositoryExport).order_by(RepositoryExport.id)).all()
        assert [r.status for r in rows] == ["completed"] * 3
        first, second, plain = rows
        assert first.archive_sha256 == second.archive_sha256 and first.archive_size == second.archive_size
    data = student.client.get(_download(student, project_id, generation_id, first.id)).data
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == sorted(EXPECTED)
        for member in members:
            assert member.mode == EXPECTED[member.name] and member.mtime == 315532800 and member.uid == 0
    data = student.client.get(_download(student, project_id, generation_id, plain.id)).data
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        assert archive.getmember("ray-tracer/run_tests.sh").mode == 0o755


def test_archive_with_a_git_folder_holds_one_commit_by_the_user(app, student, generated, run_jobs, tmp_path):
    project_id, generation_id = generated
    _export(student, project_id, generation_id, export_type="zip", include_git="y")
    run_jobs()
    export = _latest_export(app)
    assert export.status == "completed", export.error_message
    data = student.client.get(_download(student, project_id, generation_id, export.id)).data
    zipfile.ZipFile(io.BytesIO(data)).extractall(tmp_path)
    from dulwich.repo import Repo

    repo = Repo(str(tmp_path / "ray-tracer"))
    head = repo[repo.head()]
    assert head.author == b"Ada Lovelace <ada@acme.example.com>" and head.parents == []
    assert repo.refs.read_ref(b"HEAD") == b"ref: refs/heads/main"
    repo.close()


def test_push_to_a_bare_repository(app, student, generated, run_jobs, people, tmp_path, request):
    from dulwich.repo import Repo

    project_id, generation_id = generated
    bare = tmp_path / "remote.git"
    Repo.init_bare(str(bare), mkdir=True).close()
    refused = _export(student, project_id, generation_id, export_type="git", repository_url=str(bare))
    assert refused.status_code == 422 and "Local paths are not allowed" in page_text(refused)
    # The old tenant setting (an admin's checkbox) no longer opens anything.
    with app.app_context():
        from app.accounts.models import Organization

        org = db.session.get(Organization, people["admin"].organization_id)
        org.settings = {**(org.settings or {}), "projects_allow_private_remotes": True}
        db.session.commit()
    refused = _export(student, project_id, generation_id, export_type="git", repository_url=str(bare))
    assert refused.status_code == 422 and "Local paths are not allowed" in page_text(refused)
    request.getfixturevalue("operator_allows_private_remotes")  # the operator's environment setting
    response = _export(student, project_id, generation_id, export_type="git", repository_url=str(bare),
                       branch="main", token="s3cret-token-value")
    assert response.status_code == 302
    run_jobs()
    export = _latest_export(app)
    assert export.status == "completed", export.error_message
    assert export.credential == ""  # the token is gone once the push succeeded
    remote = Repo(str(bare))
    commit = remote[remote.refs[b"refs/heads/main"]]
    assert commit.author == b"Ada Lovelace <ada@acme.example.com>"
    tree = remote[commit.tree]
    assert sorted(name.decode() for name, _mode, _sha in tree.items()) == [
        ".gitignore", "README.md", "pyproject.toml", "run_tests.sh", "src", "tests"]
    assert tree[b"run_tests.sh"][0] == 0o100755 and tree[b"README.md"][0] == 0o100644
    remote.close()
    text = page_text(student.client.get(f"/projects/{project_id}/generations/{generation_id}"))
    assert "s3cret-token-value" not in text and "Pushed branch" in text


def test_failed_push_says_why_and_can_be_retried(app, student, generated, run_jobs, people, tmp_path,
                                                  operator_allows_private_remotes):
    from dulwich.repo import Repo

    project_id, generation_id = generated
    missing = tmp_path / "later.git"
    _export(student, project_id, generation_id, export_type="git", repository_url=str(missing),
            token="tok-SECRET-123")
    run_jobs()
    export = _latest_export(app)
    assert export.status == "failed" and "could not be reached or is not a git repository" in export.error_message
    assert "tok-SECRET-123" not in export.error_message
    assert export.credential and "tok-SECRET-123" not in export.credential  # encrypted at rest
    with app.app_context():
        from app.projects.services import open_token

        assert open_token(export.credential) == "tok-SECRET-123"
    assert "tok-SECRET-123" not in page_text(student.client.get(f"/projects/{project_id}/generations/{generation_id}"))
    # The branch exists with other history: the name is taken.
    Repo.init_bare(str(missing), mkdir=True).close()
    work = tmp_path / "other"
    work.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "x").write_text("x")
    subprocess.run(["git", "-C", str(work), "add", "x"], check=True)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=o", "-c", "user.email=o@x", "commit", "-qm", "x"],
                   check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", str(missing), "main"], check=True)
    retry = student.client.post(f"/jobs/project-export/{export.id}/retry",
                                data={"csrf_token": student.csrf()})
    assert retry.status_code == 302
    run_jobs()
    export = _latest_export(app)
    assert export.status == "failed" and "name is taken" in export.error_message, export.error_message
    # Emptied remote: the retry succeeds.
    import shutil

    shutil.rmtree(missing)
    Repo.init_bare(str(missing), mkdir=True).close()
    student.client.post(f"/jobs/project-export/{export.id}/retry", data={"csrf_token": student.csrf()})
    run_jobs()
    assert _latest_export(app).status == "completed"


@pytest.mark.parametrize("url,message", [
    ("/srv/git/repo.git", "Local paths are not allowed"),
    ("file:///srv/git/repo.git", "Local paths are not allowed"),
    ("http://github.com/a/b.git", "http:// URLs are not allowed"),
    ("ftp://example.com/repo", "ftp:// URLs are not allowed"),
    ("https://user:tok@github.com/a/b.git", "Don't put credentials in the URL"),
    ("https://127.0.0.1/a/b.git", "private, loopback or reserved"),
    ("https://10.1.2.3/a/b.git", "private, loopback or reserved"),
    ("ssh://git@192.168.1.10/a/b.git", "private, loopback or reserved"),
    ("git@[::1]:a/b.git", "private, loopback or reserved"),
    ("https://localhost/a.git", "private, loopback or reserved"),
    ("", "Enter the repository URL"),
])
def test_bad_remote_urls_are_refused(url, message):
    with pytest.raises(gitops.RemoteRefused) as refused:
        gitops.check_remote_url(url)
    assert message in str(refused.value)


def test_good_remote_urls_and_default_users():
    assert gitops.check_remote_url("https://93.184.215.14/you/repo.git").scheme == "https"
    assert gitops.check_remote_url("git@93.184.215.14:you/repo.git").scheme == "ssh"
    assert gitops.default_username("https://github.com/a/b") == "x-access-token"
    assert gitops.default_username("https://gitlab.example.com/a/b") == "oauth2"


def test_export_refuses_bad_urls_on_the_form_and_saves_nothing(app, student, generated):
    project_id, generation_id = generated
    response = _export(student, project_id, generation_id, export_type="github",
                       repository_url="https://127.0.0.1/x.git", token="tok")
    assert response.status_code == 422 and "private, loopback or reserved" in page_text(response)
    assert 'value="tok"' not in page_text(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RepositoryExport)) == 0


def test_cross_tenant_exports_and_downloads_answer_404(app, student, generated, run_jobs, login, people):
    project_id, generation_id = generated
    _export(student, project_id, generation_id, export_type="zip")
    run_jobs()
    export = _latest_export(app)
    link = _download(student, project_id, generation_id, export.id)
    for user in (people["outsider"], people["classmate"]):
        other = login(user)
        assert other.client.get(link).status_code == 404
        if user is people["outsider"]:
            assert other.client.get(f"/jobs/project-export/{export.id}/status").status_code == 404
        assert other.post(f"/projects/{project_id}/generations/{generation_id}/exports", {"export_type": "zip"},
                          page="/projects/new").status_code == 404


@pytest.fixture()
def http_git_server(tmp_path):
    """A smart-HTTP git server (dulwich.web) on 127.0.0.1 that wants user `x-access-token` / `good-token`."""
    import base64
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from dulwich.repo import Repo
    from dulwich.server import DictBackend
    from dulwich.web import make_wsgi_chain

    bare = tmp_path / "served.git"
    repo = Repo.init_bare(str(bare), mkdir=True)
    git_app = make_wsgi_chain(DictBackend({"/repo.git": repo}))
    expected = "Basic " + base64.b64encode(b"x-access-token:good-token").decode()

    def app(environ, start_response):
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Length", "0")])
            return [b""]
        return git_app(environ, start_response)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/repo.git", repo
    server.shutdown()
    repo.close()


def test_push_over_http_with_bad_then_good_credentials(app, student, generated, run_jobs, people, http_git_server,
                                                       request):
    url, repo = http_git_server
    project_id, generation_id = generated
    refused = _export(student, project_id, generation_id, export_type="github", repository_url=url, token="x")
    assert refused.status_code == 422 and "http:// URLs are not allowed" in page_text(refused)
    request.getfixturevalue("operator_allows_private_remotes")
    _export(student, project_id, generation_id, export_type="git", repository_url=url,
            username="x-access-token", token="wrong-token")
    run_jobs()
    export = _latest_export(app)
    assert export.status == "failed" and export.error_message.startswith("Bad credentials"), export.error_message
    # A new export with the right token (a retry would reuse the refused one).
    _export(student, project_id, generation_id, export_type="git", repository_url=url,
            username="x-access-token", token="good-token")
    run_jobs()
    assert _latest_export(app).status == "completed"
    assert b"refs/heads/main" in repo.get_refs()


def test_every_format_and_option_is_byte_identical_when_built_twice(app, student, generated, run_jobs, tmp_path):
    """The README promises byte-identical archives: the same generation exported twice gives the same sha256 in
    zip, tar and tar.gz, with and without a .git folder (whose index must not carry stat data)."""
    import hashlib

    project_id, generation_id = generated
    combinations = [(kind, git) for kind in ("zip", "tar", "tar.gz") for git in ("", "y")]
    for _round in range(2):
        for kind, git in combinations:
            assert _export(student, project_id, generation_id, export_type=kind, include_git=git).status_code == 302
        run_jobs()
    with app.app_context():
        rows = db.session.scalars(sa.select(RepositoryExport).order_by(RepositoryExport.id)).all()
        assert [r.status for r in rows] == ["completed"] * 12, [r.error_message for r in rows]
        first, second = rows[:6], rows[6:]
        for a, b, (kind, git) in zip(first, second, combinations):
            assert a.archive_sha256 == b.archive_sha256, (kind, bool(git))
    for export, (kind, git) in zip(second, combinations):
        data = student.client.get(_download(student, project_id, generation_id, export.id)).data
        assert hashlib.sha256(data).hexdigest() == export.archive_sha256
        if git and kind == "tar.gz":  # tarfile keeps the executable bits (zipfile's extractall does not)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                archive.extractall(tmp_path, filter="tar")
            fsck = subprocess.run(["git", "fsck", "--strict"], cwd=tmp_path / "ray-tracer", capture_output=True,
                                  text=True)
            assert fsck.returncode == 0, fsck.stderr
            status = subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path / "ray-tracer",
                                    capture_output=True, text=True)
            assert status.stdout == "", status.stdout  # the index still describes the files


def test_the_git_author_always_has_a_name():
    """git's author line needs a name: a full name of only spaces (or only '<>') fell back to nothing."""
    from types import SimpleNamespace

    from app.projects.services import _author

    def author(full_name, email="ada@acme.example.com"):
        return _author(SimpleNamespace(full_name=full_name, email=email), None)

    assert author("Ada  Lovelace ") == "Ada Lovelace <ada@acme.example.com>"
    assert author("   ") == author("<>") == author("") == "ada <ada@acme.example.com>"
    assert author("Evil <x@y> Name\n") == "Evil x@y Name <ada@acme.example.com>"

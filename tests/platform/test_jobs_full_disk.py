"""A full disk, for real: STORAGE_DIR on a small tmpfs this test mounts (and unmounts).

Both test modes (the export runs inline in this process, on this app's
database). Needs root to mount; elsewhere it skips (fails in CI), and
test_storage.py's fault-injected ENOSPC covers `atomic_write` alone.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from app.extensions import db
from app.platform import storage
from app.platform.jobs import execute
from tests.conftest import require
from tests.helpers import csrf_from, signed_in, uuid_after

SIZE = 2 * 1024 * 1024


@pytest.fixture()
def full_disk(app, monkeypatch):
    """A 2 MB tmpfs as STORAGE_DIR for this test."""
    require(os.geteuid() == 0 and shutil.which("mount") is not None, "mounting a tmpfs needs root")
    mountpoint = Path(tempfile.mkdtemp(prefix="cairn-full-"))
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(mountpoint)],
                            capture_output=True, text=True)
    require(result.returncode == 0, f"could not mount a tmpfs: {result.stderr.strip()}")
    monkeypatch.setitem(app.config, "STORAGE_DIR", str(mountpoint))
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)
        mountpoint.rmdir()


def _used(mountpoint: Path) -> int:
    return shutil.disk_usage(mountpoint).used


def test_an_export_on_a_full_disk_says_storage_is_full_frees_its_file_and_the_next_one_works(
        app, full_disk, caplog):
    from app.exports import services
    from app.exports.models import ExportRequest
    from tests.exports.conftest import add_entries
    from tests.factories import make_member, make_organization

    with app.app_context():
        org = make_organization("Full Disk")
        user = make_member(org, "admin", "full@disk.example.com")
        user_id = user.id
        add_entries(user, 40_000, description="a description long enough to fill two megabytes " * 2)
        # Not submitted: run inline here, so no worker process (with its own STORAGE_DIR) takes it.
        big = services.export_request_create(actor=services.Actor(user), title="Too big", format="json",
                                             dataset="time_entries", fields=["date", "project", "description"],
                                             submit=False).id
        before = _used(full_disk)
        with caplog.at_level(logging.ERROR):
            with pytest.raises(storage.StorageFull):
                execute("export", big)
        row = db.session.get(ExportRequest, big)
        assert row.status == "failed"  # read on this process's pool: the export closed its half-read cursor
        assert row.error_message.startswith("Storage is full"), row.error_message
        assert "STORAGE IS FULL" in caplog.text  # the operator's log line
        assert list(full_disk.rglob("*.part")) == [] and _used(full_disk) <= before + 64 * 1024  # space freed
        assert not any((full_disk / "work").iterdir()) if (full_disk / "work").exists() else True

        user = db.session.get(type(user), user_id)  # execute() ended the session it was loaded in
        small = services.export_request_create(actor=services.Actor(user), title="Fits", format="csv",
                                               dataset="time_entries", fields=["date"],
                                               date_from=None, submit=False).id
        execute("export", small)
        row = db.session.get(ExportRequest, small)
        assert row.status == "completed", row.error_message


def test_an_attachment_upload_on_a_full_disk_is_refused_with_a_clear_message(app, full_disk):
    from tests.factories import make_member, make_organization

    with app.app_context():
        org = make_organization("Full Uploads")
        make_member(org, "agent", "full@uploads.example.com")
    client, _auth = signed_in(app, "full@uploads.example.com")
    token = csrf_from(client.get("/projects/new").get_data(as_text=True))
    created = client.post("/projects/new", data={
        "csrf_token": token, "project_type": "school", "name": "Full course", "course_name": "Disks",
        "course_code": "FS-1", "teacher_name": "Dr. Df", "action": "publish"})
    page = f"/projects/{uuid_after('/projects/', created.headers['Location'])}"
    token = csrf_from(client.get(page).get_data(as_text=True))
    response = client.post(f"{page}/attachments", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(b"x" * (SIZE + 4096)), "huge.bin")})
    assert response.status_code in (302, 422), response.status_code  # never a 500
    text = response.get_data(as_text=True) if response.status_code == 422 else \
        client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Storage is full" in text
    assert list(full_disk.rglob("*.part")) == [] and _used(full_disk) < 64 * 1024

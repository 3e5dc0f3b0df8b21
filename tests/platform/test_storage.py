"""platform.storage: atomic writes, safe paths, file facts, signed download links, partial sweeping."""
from __future__ import annotations

import hashlib
import os
import time
from datetime import datetime, timedelta, timezone

import pytest
from itsdangerous import URLSafeTimedSerializer

from app.platform import storage
from app.platform.storage import LinkExpired, LinkInvalid, StorageError

def _time_machine():
    from tests.conftest import require

    try:
        import time_machine as module
    except ImportError:  # pragma: no cover - it is in requirements-dev.txt
        module = None
    require(module is not None, "time-machine is not installed")
    return module


@pytest.fixture()
def root(app, tmp_path, monkeypatch):
    """A storage root of this test's own, inside an app context."""
    directory = tmp_path / "storage"
    monkeypatch.setitem(app.config, "STORAGE_DIR", str(directory))
    with app.app_context():
        yield directory


def _partials(directory) -> list:
    return sorted(p.name for p in directory.rglob("*.part"))


# --------------------------------------------------------------------------- atomic_write
def test_atomic_write_publishes_the_file_and_leaves_no_partial(root):
    with storage.atomic_write("exports/1/report.csv") as handle:
        handle.write(b"id,name\n1,Ada\n")
        # While writing, only the partial exists: nobody can read half a file under the final name.
        assert not (root / "exports/1/report.csv").exists()
        assert len(_partials(root)) == 1

    assert (root / "exports/1/report.csv").read_bytes() == b"id,name\n1,Ada\n"
    assert _partials(root) == []


def test_atomic_write_failure_leaves_no_final_file_and_no_partial(root):
    with pytest.raises(RuntimeError, match="disk on fire"):
        with storage.atomic_write("exports/2/report.csv") as handle:
            handle.write(b"half a fi")
            raise RuntimeError("disk on fire")

    assert not (root / "exports/2/report.csv").exists()
    assert _partials(root) == []


def test_atomic_write_failure_keeps_the_previous_version(root):
    with storage.atomic_write("a.txt") as handle:
        handle.write(b"version 1")
    with pytest.raises(KeyboardInterrupt):
        with storage.atomic_write("a.txt") as handle:
            handle.write(b"version 2, interrupted")
            raise KeyboardInterrupt

    assert (root / "a.txt").read_bytes() == b"version 1"
    assert _partials(root) == []


def test_two_writers_of_one_path_never_mix_their_bytes(root):
    """A job re-queued while its first run still writes: the last to finish wins with a whole file."""
    with storage.atomic_write("exports/3/out.bin") as first:
        first.write(b"A" * 1000)
        with storage.atomic_write("exports/3/out.bin") as second:
            second.write(b"B" * 10)
        assert (root / "exports/3/out.bin").read_bytes() == b"B" * 10
        first.write(b"A" * 1000)

    assert (root / "exports/3/out.bin").read_bytes() == b"A" * 2000
    assert _partials(root) == []


# --------------------------------------------------------------------------- resolve
@pytest.mark.parametrize(
    "path",
    [
        "..",
        "../secret",
        "a/../../secret",
        "a/..",
        "/etc/passwd",
        "//etc/passwd",
        "a\\b",
        "..\\..\\secret",
        "a\nb",
        "report.csv\n",  # a `$` regex lets a trailing newline through
        "a\x00b",
        "a\tb",
        "a\x7fb",
        "",
        "a//b",
        "a/",
        "/",
        ".",
        "./a",
        "a/./b",
        "caf\u00e9.csv",
        "a b.csv",
        "report.csv.part",  # reserved for files being written (swept)
    ],
)
def test_resolve_refuses_unsafe_paths(root, path):
    with pytest.raises(StorageError):
        storage.resolve(path)


def test_resolve_refuses_a_symlink_out_of_the_root(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir(parents=True, exist_ok=True)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StorageError):
        storage.resolve("escape/file.txt")


@pytest.mark.parametrize("path", ["report.csv", "exports/12/report-2026_11.csv", "a/b/c/d.tar.gz", "...", ".hidden"])
def test_resolve_accepts_plain_relative_paths(root, path):
    resolved = storage.resolve(path)
    assert resolved == root.resolve() / path
    assert root.resolve() in resolved.parents


# --------------------------------------------------------------------------- describe / delete
def test_describe_returns_size_and_sha256(root):
    data = os.urandom(3 * (1 << 20) + 17)  # more than one read chunk
    with storage.atomic_write("blobs/big.bin") as handle:
        handle.write(data)

    info = storage.describe("blobs/big.bin")

    assert info.relative_path == "blobs/big.bin"
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_describe_empty_file(root):
    with storage.atomic_write("empty.txt"):
        pass
    info = storage.describe("empty.txt")
    assert (info.size, info.sha256) == (0, hashlib.sha256(b"").hexdigest())


def test_delete_removes_the_file_and_tolerates_a_missing_one(root):
    with storage.atomic_write("gone.txt") as handle:
        handle.write(b"x")
    storage.delete("gone.txt")
    storage.delete("gone.txt")
    assert not (root / "gone.txt").exists()


# --------------------------------------------------------------------------- signed links
def test_download_link_round_trip(root):
    token = storage.sign_download("export", 12, organization_id=7, user_id=3)
    assert storage.verify_download(token, kind="export", organization_id=7, user_id=3) == 12


def test_link_without_user_works_for_anyone_in_the_organization(root):
    token = storage.sign_download("export", 12, organization_id=7)
    assert storage.verify_download(token, kind="export", organization_id=7, user_id=3) == 12
    assert storage.verify_download(token, kind="export", organization_id=7, user_id=None) == 12
    with pytest.raises(LinkInvalid):
        storage.verify_download(token, kind="export", organization_id=8, user_id=3)


def test_link_for_another_organization_is_invalid(root):
    token = storage.sign_download("export", 12, organization_id=7, user_id=3)
    with pytest.raises(LinkInvalid):
        storage.verify_download(token, kind="export", organization_id=8, user_id=3)


@pytest.mark.parametrize("other_user", [4, None])
def test_link_for_another_user_is_invalid(root, other_user):
    token = storage.sign_download("export", 12, organization_id=7, user_id=3)
    with pytest.raises(LinkInvalid):
        storage.verify_download(token, kind="export", organization_id=7, user_id=other_user)


def test_expired_link_after_the_configured_lifetime(root, app):
    tm = _time_machine()
    max_age = app.config["DOWNLOAD_LINK_MAX_AGE"]
    signed_at = datetime.now(timezone.utc)
    with tm.travel(signed_at, tick=False):
        token = storage.sign_download("export", 12, organization_id=7, user_id=3)
    with tm.travel(signed_at + timedelta(seconds=max_age - 5), tick=False):
        assert storage.verify_download(token, kind="export", organization_id=7, user_id=3) == 12
    with tm.travel(signed_at + timedelta(seconds=max_age + 5), tick=False):
        with pytest.raises(LinkExpired):
            storage.verify_download(token, kind="export", organization_id=7, user_id=3)


def test_expired_link_with_an_explicit_max_age(root):
    tm = _time_machine()
    signed_at = datetime.now(timezone.utc) - timedelta(seconds=30)
    with tm.travel(signed_at, tick=False):
        token = storage.sign_download("export", 12, organization_id=7, user_id=3)
    with pytest.raises(LinkExpired):
        storage.verify_download(token, kind="export", organization_id=7, user_id=3, max_age=10)
    assert storage.verify_download(token, kind="export", organization_id=7, user_id=3, max_age=60) == 12


def _tamper(token: str) -> str:
    """Change one signature character (not the last one: its low bits are base64 padding)."""
    i = len(token) - 10
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def test_forged_links_are_invalid(root, app):
    token = storage.sign_download("export", 12, organization_id=7, user_id=3)
    payload, _, _ = token.partition(".")
    forged_payload = URLSafeTimedSerializer("test-secret", salt="cairn-download").dumps(
        {"k": "export", "i": 12, "o": 8, "u": 3}
    ).partition(".")[0]
    forgeries = [
        _tamper(token),  # signature changed
        forged_payload + token[len(payload):],  # another organization's payload, our signature
        URLSafeTimedSerializer("another-secret", salt="cairn-download").dumps({"k": "export", "i": 1, "o": 7, "u": 3}),
        URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="another-salt").dumps(
            {"k": "export", "i": 1, "o": 7, "u": 3}),
        # signed by us but naming a path (the old format) or an id that is not a number
        URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="cairn-download").dumps(
            {"p": "exports/1/report.csv", "o": 7, "u": 3}),
        URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="cairn-download").dumps(
            {"k": "export", "i": "../../etc/passwd", "o": 7, "u": 3}),
        "not-a-token",
        "",
    ]
    for forged in forgeries:
        with pytest.raises(LinkInvalid):
            storage.verify_download(forged, kind="export", organization_id=7, user_id=3)


def test_links_name_a_row_never_a_storage_path(root):
    """The hole: links carried the storage path in readable base64. Now they carry a kind and an id;
    the view reads the path from the row. A path can't even be signed."""
    import base64
    import json

    token = storage.sign_download("export", 12, organization_id=7, user_id=3)
    payload = token.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert data == {"k": "export", "i": 12, "o": 7, "u": 3}
    assert "exports/" not in token and "/" not in json.dumps(data)
    with pytest.raises(StorageError):
        storage.sign_download("export", "../../etc/passwd", organization_id=7)
    with pytest.raises(LinkInvalid):  # a link for another kind of row
        storage.verify_download(token, kind="project-export", organization_id=7, user_id=3)


# --------------------------------------------------------------------------- sweep_partials
def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_sweep_partials_removes_only_old_partial_files(root):
    (root / "exports/1").mkdir(parents=True)
    old_partial = root / "exports/1/report.csv.abc123.part"
    new_partial = root / "exports/1/other.csv.def456.part"
    old_final = root / "exports/1/report.csv"
    old_lookalike = root / "exports/1/report.part.csv"
    old_directory = root / "exports/odd.part"
    for path in (old_partial, new_partial, old_final, old_lookalike):
        path.write_bytes(b"x")
    old_directory.mkdir()
    for path in (old_partial, old_final, old_lookalike, old_directory):
        _age(path, 7200)

    assert storage.sweep_partials(max_age_seconds=3600) == 1

    assert not old_partial.exists()
    assert new_partial.exists() and old_final.exists() and old_lookalike.exists() and old_directory.is_dir()
    assert storage.sweep_partials(max_age_seconds=3600) == 0


def test_sweep_partials_spares_a_write_in_progress(root):
    with storage.atomic_write("exports/9/live.csv") as handle:
        handle.write(b"still writing")
        handle.flush()
        assert storage.sweep_partials(max_age_seconds=60) == 0
    assert (root / "exports/9/live.csv").read_bytes() == b"still writing"


def test_sweep_partials_runs_as_a_periodic_task(root):
    from app.platform.jobs import periodic_tasks, run_periodic

    assert periodic_tasks["sweep-partials"].function == "app.platform.storage.sweep_leftovers"
    root.mkdir(parents=True, exist_ok=True)
    stale = root / "left.csv.0123456789ab.part"
    stale.write_bytes(b"killed mid-write")
    _age(stale, 2 * 3600)
    left_dir = storage.new_work_dir("cairn-git-")
    (left_dir / "names.txt").write_text("a killed job's clone")
    for path in (left_dir / "names.txt", left_dir):
        _age(path, 2 * 3600)

    assert run_periodic("sweep-partials") == {"partials": 1, "work_dirs": 1}
    assert not stale.exists() and not left_dir.exists()


# --------------------------------------------------------------------------- work directories
def test_work_dirs_live_under_storage_and_go_however_the_block_ends(root):
    with pytest.raises(RuntimeError):
        with storage.work_dir("cairn-git-") as path:
            assert path.parent == root.resolve() / storage.WORK_DIR and path.name.startswith("cairn-git-")
            (path / "data.xlsx.tmp").write_bytes(b"names and emails")
            raise RuntimeError("the job failed")
    assert not path.exists()


def test_sweep_keeps_a_work_dir_still_written_to(root):
    busy = storage.new_work_dir("xlsx-")
    (busy / "sheet1.xml").write_bytes(b"fresh")  # written now: the directory is young
    _age(busy, 2 * 3600)
    idle = storage.new_work_dir("xlsx-")
    _age(idle, 2 * 3600)
    assert storage.sweep_work_dirs(max_age_seconds=3600) == 1
    assert busy.exists() and not idle.exists()


# --------------------------------------------------------------------------- a full disk (fault-injected)
class _FullDisk:
    """A file object over a disk with `room` bytes left: writes past it fail, and so does close()'s flush."""

    def __init__(self, real, room: int) -> None:
        self.real, self.room, self.pending = real, room, 0

    def write(self, data: bytes) -> int:
        self.pending += len(data)
        if self.pending > self.room:
            raise OSError(28, "No space left on device")
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def close(self) -> None:
        self.real.close()
        if self.pending > self.room:
            raise OSError(28, "No space left on device")


def test_a_full_disk_frees_the_partial_file_even_when_close_fails_and_says_storage_is_full(root, monkeypatch):
    import builtins

    real_open = builtins.open

    def full_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        return _FullDisk(handle, room=10) if str(path).endswith(storage.PARTIAL_SUFFIX) else handle

    monkeypatch.setattr(storage, "open", full_open, raising=False)
    with pytest.raises(storage.StorageFull) as caught:
        with storage.atomic_write("exports/1/big.csv") as handle:
            handle.write(b"x" * 100)
    assert str(caught.value).startswith("Storage is full")
    assert list((root / "exports/1").iterdir()) == []  # no partial file keeps the disk full


def test_xlsxwriter_spools_under_storage_and_leaves_nothing_when_the_export_fails(root):
    from app.exports.writers import ExcelWriter

    with pytest.raises(RuntimeError):
        with storage.atomic_write("exports/1/book.xlsx") as handle:
            writer = ExcelWriter(handle, ["Name", "Email"], ["name", "email"])
            writer.write_rows([("Ada", "ada@example.com")] * 50)
            assert writer.work_dir.parent == root.resolve() / storage.WORK_DIR
            raise RuntimeError("the database went away mid-export")
    assert not writer.work_dir.exists() and _partials(root) == []

    with storage.atomic_write("exports/1/book.xlsx") as handle:
        writer = ExcelWriter(handle, ["Name"], ["name"])
        writer.write_rows([("Ada",)])
        writer.close()
    assert not writer.work_dir.exists() and (root / "exports/1/book.xlsx").stat().st_size > 0
    assert list((root / storage.WORK_DIR).iterdir()) == []


def test_an_ordinary_os_error_is_raised_as_it_is(root):
    (root / "exports").mkdir(parents=True)
    (root / "exports/7").write_text("a file where a folder goes")
    with pytest.raises(FileExistsError) as caught:
        with storage.atomic_write("exports/7/report.csv"):
            pass
    assert caught.value.__cause__ is not caught.value  # no self-loop a readable-error walk would spin on

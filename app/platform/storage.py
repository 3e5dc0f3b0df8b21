"""Files under STORAGE_DIR: atomic writes and signed, expiring download links.

A file is written to `<name>.<random>.part`, fsynced, then renamed into place; callers
record it as complete only after `atomic_write` returns. A full disk is `StorageFull`
("storage is full", for the user; logged for the operator), and the partial file is
deleted all the same. Jobs' scratch files go in work directories under STORAGE_DIR/work.
Download links are signed, expiring tokens that name a row (its kind and id), its
organization and (optionally) the user allowed to use them: never the storage path,
which the view looks up server-side from the row.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.platform.parsing import parse_uuid

_SAFE_PART = re.compile(r"[A-Za-z0-9._-]+")
log = logging.getLogger("cairn.storage")


class StorageError(ValueError):
    pass


def storage_root() -> Path:
    root = Path(current_app.config["STORAGE_DIR"]).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


PARTIAL_SUFFIX = ".part"


def check_relative_path(relative_path: str) -> str:
    """`relative_path` if it is a safe, canonical storage path, else StorageError.

    Parts are split on "/" by hand: `pathlib` would quietly drop empty and "."
    parts ("a//b", "a/./b", "a/"), and a `$` regex accepts a trailing newline.
    Names ending in ".part" are reserved for files being written
    (`sweep_partials` deletes old ones).
    """
    parts = relative_path.split("/") if isinstance(relative_path, str) else [""]
    if (
        any(part in ("", ".", "..") or not _SAFE_PART.fullmatch(part) for part in parts)
        or parts[-1].endswith(PARTIAL_SUFFIX)
    ):
        raise StorageError(f"Unsafe storage path: {relative_path!r}")
    return relative_path


def resolve(relative_path: str) -> Path:
    """Absolute path for a storage-relative path; refuses anything that escapes the root."""
    check_relative_path(relative_path)
    root = storage_root()
    path = (root / relative_path).resolve()
    if root not in path.parents:  # a symlink inside the storage pointing out of it
        raise StorageError(f"Unsafe storage path: {relative_path!r}")
    return path


@dataclass
class StoredFile:
    relative_path: str
    size: int
    sha256: str


@contextmanager
def atomic_write(relative_path: str) -> Iterator[IO[bytes]]:
    """Yield a binary file; on clean exit it is fsynced and renamed into place.

    Each call writes its own `<name>.<random>.part`, so two writers of one path
    (a job re-queued while its first run is still going) can't interleave
    their bytes: the last one to finish wins with a whole file. On an exception
    the partial file is removed and an existing file at the path is untouched.
    """
    final = resolve(relative_path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f"{final.name}.{secrets.token_hex(6)}{PARTIAL_SUFFIX}")
        handle = open(partial, "xb")
    except OSError as exc:
        if is_storage_full(exc):
            raise storage_error(exc) from exc
        raise
    _work_dirs_of_write[id(handle)] = []
    try:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        os.replace(partial, final)
    except BaseException as exc:
        _discard(handle, partial)
        if isinstance(exc, OSError) and is_storage_full(exc):
            raise storage_error(exc) from exc
        raise
    finally:
        for directory in _work_dirs_of_write.pop(id(handle), []):
            remove_work_dir(directory)
    _fsync_directory(final.parent)


def _discard(handle: IO[bytes], partial: Path) -> None:
    """Close and delete a partial file, whatever closing it says.

    On a full disk `close()` fails too (it flushes the buffered tail): the file
    must go anyway, or it keeps the disk full for every later write.
    """
    try:
        handle.close()
    except OSError:
        pass
    try:
        partial.unlink(missing_ok=True)
    except OSError:  # pragma: no cover - the sweep removes it later
        log.exception("could not remove the partial file %s", partial)


# ---------------------------------------------------------------------------
# A full disk
# ---------------------------------------------------------------------------
STORAGE_FULL_MESSAGE = "Storage is full: the file could not be saved. An administrator has been told; try again later."


class StorageFull(StorageError):
    """The disk under STORAGE_DIR is full (or over quota). Its message is for the user."""


def is_storage_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def storage_error(exc: OSError) -> OSError | StorageFull:
    """StorageFull (logged for the operator) for a full disk; other OS errors as they are."""
    if not is_storage_full(exc):
        return exc
    log.error("STORAGE IS FULL: writing under %s failed (%s). Free space or grow the volume.",
              current_app.config["STORAGE_DIR"], exc)
    return StorageFull(STORAGE_FULL_MESSAGE)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a crash right after must not lose the new name)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def describe(relative_path: str) -> StoredFile:
    path = resolve(relative_path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return StoredFile(relative_path, path.stat().st_size, digest.hexdigest())


def delete(relative_path: str) -> None:
    resolve(relative_path).unlink(missing_ok=True)


def sweep_partials(max_age_seconds: int = 3600) -> int:
    """Remove `.part` files older than `max_age_seconds` (left by killed jobs).

    A file being written is touched by every write, so it stays young; one that
    vanishes while we look (its writer just renamed it) is skipped.
    """
    removed = 0
    cutoff = time.time() - max_age_seconds
    for partial in storage_root().rglob(f"*{PARTIAL_SUFFIX}"):
        try:
            info = partial.lstat()
            if not stat.S_ISREG(info.st_mode) or info.st_mtime >= cutoff:
                continue
            partial.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


# ---------------------------------------------------------------------------
# Work directories: scratch space for a job, under STORAGE_DIR, never the system temp directory
# ---------------------------------------------------------------------------
WORK_DIR = "work"


# Work directories that live as long as an `atomic_write` (keyed by its handle's id): removed when it ends.
_work_dirs_of_write: dict[int, list[Path]] = {}


def new_work_dir(prefix: str, *, for_write: IO[bytes] | None = None) -> Path:
    """A fresh private directory under STORAGE_DIR/work; the caller removes it (`remove_work_dir`).

    With `for_write` (a handle from `atomic_write`) it is also removed when that
    write ends, whichever way: a writer that fails halfway needs no cleanup path.

    Work files hold the same personal data as the files they become, so they live
    on the storage volume (its permissions, its backups' exclusions, its free
    space), and `sweep_work_dirs` removes what a killed job left.
    """
    root = storage_root() / WORK_DIR
    try:
        root.mkdir(exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    except OSError as exc:
        if is_storage_full(exc):
            raise storage_error(exc) from exc
        raise
    if for_write is not None and id(for_write) in _work_dirs_of_write:
        _work_dirs_of_write[id(for_write)].append(path)
    return path


def remove_work_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def work_dir(prefix: str) -> Iterator[Path]:
    """A work directory for the block, removed however the block ends."""
    path = new_work_dir(prefix)
    try:
        yield path
    finally:
        remove_work_dir(path)


def _newest_mtime(path: Path) -> float:
    newest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for below in path.rglob("*"):
            try:
                newest = max(newest, below.lstat().st_mtime)
            except FileNotFoundError:
                continue
    return newest


def sweep_work_dirs(max_age_seconds: int | None = None) -> int:
    """Remove work directories nothing has written to for `max_age_seconds` (a killed job's leftovers)."""
    if max_age_seconds is None:
        max_age_seconds = current_app.config["WORK_DIR_MAX_AGE_SECONDS"]
    root = storage_root() / WORK_DIR
    if not root.is_dir():
        return 0
    cutoff = time.time() - max_age_seconds
    removed = 0
    for entry in root.iterdir():
        try:
            if _newest_mtime(entry) >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


def sweep_leftovers() -> dict[str, int]:
    """The hourly sweep: partial files and work directories a killed job left."""
    return {"partials": sweep_partials(), "work_dirs": sweep_work_dirs()}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="cairn-download")


def sign_download(kind: str, object_id: int | uuid.UUID, *, organization_id: int, user_id: int | None = None) -> str:
    """A token for the file of one row (`kind` names its table, e.g. "export") of one organization
    (and, with `user_id`, one user only). It carries no path: the caller reads it from the row.
    The row's id is an int or a UUID (carried as its text)."""
    if isinstance(object_id, uuid.UUID):
        object_id = str(object_id)
    elif not kind or not isinstance(object_id, int) or isinstance(object_id, bool):
        raise StorageError("A download link names a row by kind and id.")
    if not kind:
        raise StorageError("A download link names a row by kind and id.")
    return _serializer().dumps({"k": kind, "i": object_id, "o": organization_id, "u": user_id})


class LinkExpired(StorageError):
    pass


class LinkInvalid(StorageError):
    pass


def verify_download(token: str, *, kind: str, organization_id: int, user_id: int | None,
                    max_age: int | None = None) -> int | uuid.UUID:
    """The id of the `kind` row a token grants to this tenant/user, or LinkExpired/LinkInvalid."""
    if max_age is None:
        max_age = current_app.config["DOWNLOAD_LINK_MAX_AGE"]
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkExpired("This download link has expired.") from exc
    except BadSignature as exc:
        raise LinkInvalid("This download link is not valid.") from exc
    if not isinstance(data, dict) or data.get("o") != organization_id or data.get("k") != kind:
        raise LinkInvalid("This download link is not valid.")
    if data.get("u") is not None and data.get("u") != user_id:
        raise LinkInvalid("This download link is not valid.")
    object_id = data.get("i")
    if isinstance(object_id, str):
        object_id = parse_uuid(object_id)
    if not isinstance(object_id, (int, uuid.UUID)) or isinstance(object_id, bool):
        raise LinkInvalid("This download link is not valid.")
    return object_id


from app.platform.jobs import register_periodic  # noqa: E402

# Jobs time out long before an hour, so a `.part` file or a work directory that old has no writer left.
register_periodic("sweep-partials", 3600, "app.platform.storage.sweep_leftovers")

"""Deterministic zip / tar / tar.gz builders and the path rules every generated file obeys.

The same files always give byte-identical archives: entries sorted by path,
fixed timestamps, fixed owner, modes 0644 / 0755 from the file's executable
flag, and a gzip header without a name or time.
"""
from __future__ import annotations

import gzip
import io
import re
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from typing import IO, Callable, Iterable

from app.platform.slugs import slugify

FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z: the earliest time a zip entry can carry
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafePath(ValueError):
    pass


def check_member_path(path: str) -> str:
    """A safe relative POSIX path, or UnsafePath saying why (shared by generation and uploads)."""
    if not isinstance(path, str) or not path.strip():
        raise UnsafePath("An empty file name is not allowed.")
    if "\\" in path:
        raise UnsafePath(f"{path!r}: backslashes are not allowed in file names.")
    if _CONTROL.search(path):
        raise UnsafePath(f"{path!r}: control characters are not allowed in file names.")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UnsafePath(f"{path!r}: absolute paths are not allowed.")
    parts = path.split("/")
    if any(part == ".." for part in parts):
        raise UnsafePath(f"{path!r}: '..' would point outside the project.")
    if any(part in ("", ".") for part in parts):
        raise UnsafePath(f"{path!r}: empty or '.' path segments are not allowed.")
    # A planted .git/config or hook runs when someone opens the unpacked project with git. ".GIT", ".git."
    # and ".git " are the same folder on case-insensitive or Windows file systems.
    if any(part.lower().rstrip(". ") == ".git" for part in parts):
        raise UnsafePath(f"{path!r}: a .git folder is not allowed in a template (Cairn adds one itself on export).")
    if len(path) > 500:
        raise UnsafePath(f"{path[:60]!r}...: paths are limited to 500 characters.")
    return path


def slug_for(text: str, fallback: str = "project") -> str:
    """A project's folder and file-name slug (the platform's, with its own fallback)."""
    return slugify(text, fallback)


@dataclass(frozen=True)
class Entry:
    """One file to pack: its path inside the archive, its mode, and how to read it."""

    path: str
    executable: bool
    open: Callable[[], IO[bytes]]
    size: int

    @property
    def mode(self) -> int:
        return 0o755 if self.executable else 0o644


def _sorted(entries: Iterable[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: e.path.encode("utf-8"))


def write_zip(out: IO[bytes], entries: Iterable[Entry], *, prefix: str = "", level: int = 6) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for entry in _sorted(entries):
            info = zipfile.ZipInfo(prefix + entry.path, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix: the mode in external_attr is honoured by unzip
            info.external_attr = (stat.S_IFREG | entry.mode) << 16
            with entry.open() as source, archive.open(info, "w", force_zip64=entry.size > 2**31) as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)


def write_tar(out: IO[bytes], entries: Iterable[Entry], *, prefix: str = "", compress: bool = False,
              level: int = 6) -> None:
    stream: IO[bytes] = out
    gz = None
    if compress:
        # No file name and mtime 0 in the gzip header: tarfile's "w:gz" would write the current time.
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=level)
        stream = gz
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in _sorted(entries):
            info = tarfile.TarInfo(prefix + entry.path)
            info.size = entry.size
            info.mtime = FIXED_MTIME
            info.mode = entry.mode
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            with entry.open() as source:
                archive.addfile(info, source)
    if gz is not None:
        gz.close()


def bytes_entry(path: str, data: bytes, executable: bool = False) -> Entry:
    return Entry(path=path, executable=executable, open=lambda: io.BytesIO(data), size=len(data))

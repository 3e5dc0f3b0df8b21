"""File downloads: the Content-Disposition header is built by werkzeug, never by hand.

`send_file(..., as_attachment=True, download_name=...)` writes `filename="..."` with
quotes escaped, and for a name outside ASCII an ASCII fallback plus the RFC 5987
`filename*=UTF-8''...` form (RFC 6266). A hand-built `filename="{name}"` breaks on a
non-Latin-1 name (the server can't encode the header: an empty reply) and lets a `"`
in the name add parameters. Names lose control characters and path separators first
(werkzeug refuses a header with a newline in it).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

from flask import Response, send_file

_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")
SAFE_TYPE = "application/octet-stream"


def download_name(name: str | None, fallback: str = "download") -> str:
    """`name` fit for a Content-Disposition filename: no control characters or slashes, at most 200 characters."""
    cleaned = _UNSAFE_IN_NAME.sub("_", name or "").strip().strip(".")
    return cleaned[:200] or fallback


def send_download(source: bytes | str | Path, *, filename: str | None, mimetype: str = SAFE_TYPE,
                  fallback: str = "download") -> Response:
    """An attachment download of `source` (bytes, or a path) named `filename`, never rendered by the browser."""
    body = io.BytesIO(source) if isinstance(source, bytes) else source
    response = send_file(body, mimetype=mimetype, as_attachment=True, download_name=download_name(filename, fallback),
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

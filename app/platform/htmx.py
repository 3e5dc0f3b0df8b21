"""One helper decides between a whole page and the fragment HTMX asked for."""
from __future__ import annotations

from typing import Any

from flask import render_template, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context: Any):
    """Render `fragment` for HTMX requests and `page` (which includes it) otherwise."""
    template = fragment if is_htmx() else page
    return render_template(template, **context), status

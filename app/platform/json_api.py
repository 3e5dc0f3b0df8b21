"""What every JSON API blueprint answers the same way: the error shape, timestamps, and refusals.

Each API (rules, projects) keeps its own routes and serializers; these are the pieces a
script relies on being identical across them (and that the OpenAPI document describes once).
"""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException


def error(status: int, message: str, **extra):
    """`{"error": message, ...}` with `status`: the one error body of the JSON API."""
    return jsonify({"error": message, **extra}), status


def iso(value):
    """A date or UTC timestamp as ISO 8601 (`Z` for UTC), or None."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def refusal_message(exc: HTTPException) -> str:
    """What an HTTP refusal says: the reason given where it was raised, else the status's name."""
    return exc.description if exc.description != type(exc).description else exc.name

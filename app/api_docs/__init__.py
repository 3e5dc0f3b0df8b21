"""The JSON API's description, served at /api/openapi.json (public: it describes, it holds no data)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from app.api_docs.openapi import build

bp = Blueprint("api_docs", __name__)


@bp.route("/api/openapi.json")
def openapi():
    response = jsonify(build())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response

"""The JSON API's description, served at /api/openapi.json (public: it describes, it holds no data)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.api_docs.openapi import build

bp = Blueprint("api_docs", __name__)


@bp.route("/api/openapi.json")
def openapi():
    response = jsonify(build())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def api_error_wanted() -> bool:
    """An error page that should be the JSON API's `{"error": ...}` instead: under /api/, or a script's request
    (it prefers JSON) for a URL that no route matched. The API blueprints answer their own routes' errors."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.url_rule is None and best == "application/json"

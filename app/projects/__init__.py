"""Projects: school and self-study projects, generated project files, archives and git export."""
from flask import Blueprint

bp = Blueprint("projects", __name__, url_prefix="/projects")
api_bp = Blueprint("projects_api", __name__, url_prefix="/api/projects")

from app.projects import models, rules, hooks, jobs, views, api, datasets  # noqa: E402,F401

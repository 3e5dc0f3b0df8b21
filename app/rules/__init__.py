"""Rules: dimensions, platforms, naming rules, live previews, generations, names and conflict checks."""
from flask import Blueprint

bp = Blueprint("rules", __name__, url_prefix="/rules")
api_bp = Blueprint("rules_api", __name__)

from app.rules import models, jobs, views, api, datasets  # noqa: E402,F401

"""Exports: a timesheet, and exports of any registered dataset as CSV, JSON, Excel or PDF, now or on a schedule."""
from flask import Blueprint

bp = Blueprint("exports", __name__, url_prefix="/exports")

from app.exports import models, datasets, jobs, views  # noqa: E402,F401

"""Tickets: a helpdesk with SLA clocks, comments, attachments, trash and a knowledge base."""
from flask import Blueprint

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

from app.tickets import models, rules, hooks, jobs, views, datasets  # noqa: E402,F401

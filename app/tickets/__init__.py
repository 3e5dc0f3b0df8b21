"""Tickets: a helpdesk with SLA clocks, comments, attachments, trash and a knowledge base."""
from flask import Blueprint

# cli_group=None: the commands are top-level (`flask tickets-inbound`), not `flask tickets ...`.
bp = Blueprint("tickets", __name__, url_prefix="/tickets", cli_group=None)

from app.tickets import models, rules, hooks, jobs, views, mail_views, datasets, commands  # noqa: E402,F401


@bp.app_template_filter("markdown")
def _markdown_filter(text: str):
    from app.tickets.markdown import render_markdown

    return render_markdown(text)


@bp.app_template_filter("markdown_excerpt")
def _markdown_excerpt_filter(text: str):
    from app.tickets.markdown import plain_excerpt

    return plain_excerpt(text)

"""Operator pages: the database's index report (seed 001's index performance analyzer)."""
from __future__ import annotations

from functools import wraps

from flask import abort, render_template
from flask_login import current_user, login_required

from app.extensions import db
from app.operator import bp
from app.operator.index_report import index_report


def operator_required(view):
    """Operators only; everyone else gets 404, as for a page that does not exist for them."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not getattr(current_user, "is_operator", False):
            abort(404)
        return view(*args, **kwargs)

    return wrapped


@bp.route("/indexes")
@operator_required
def indexes():
    with db.engine.connect() as connection:
        report = index_report(connection)
    return render_template("operator/indexes.html", report=report)

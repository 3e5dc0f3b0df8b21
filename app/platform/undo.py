"""Undo for soft deletes: the delete acts at once, and its flash message carries an "Undo" button.

One mechanism for every area. A view that soft-deleted a row calls
`flash_undo(message, row)`: the flash category carries a signed token (table,
id, who deleted it, organization; itsdangerous, valid UNDO_SECONDS) and
base.html renders the message with an Undo form that POSTs the token to
`/undo`. The route checks the signature, age, user and tenant, loads the row
(another organization's row answers 404), restores it with the restore function
its area registered (`register_restore`), or `row.restore(user)` and a commit,
and goes back to where the user was.

A bulk delete (SoftDeleteMixin.soft_delete_all) calls `flash_undo_many(message,
model, ids)`: one token names every row it moved, and Undo restores them together
with the area's bulk restorer (`register_restore_many`) or `Model.restore_all`,
only rows of the user's organization, in one transaction.
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from flask import Blueprint, Flask, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.extensions import db
from app.platform.models import SoftDeleteError
from app.platform.security import is_safe_redirect
from app.platform.tenancy import get_or_404

UNDO_CATEGORY = "undo:"
bp = Blueprint("platform_undo", __name__)
_RESTORERS: dict[str, Callable] = {}
_BULK_RESTORERS: dict[str, Callable] = {}


def register_restore(model: type, restore: Callable) -> None:
    """Use `restore(row=..., user=...)` (the area's service, which commits) to undo deletes of `model`."""
    _RESTORERS[model.__tablename__] = restore


def register_restore_many(model: type, restore: Callable) -> None:
    """Use `restore(ids=..., user=...)` (the area's bulk service, which commits; returns how many) to undo
    bulk deletes of `model`."""
    _BULK_RESTORERS[model.__tablename__] = restore


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="cairn-undo")


def undo_token(row, user) -> str:
    row_id = row.id if isinstance(row.id, int) else str(row.id)  # a UUID key travels as text
    return _serializer().dumps({"t": row.__tablename__, "id": row_id, "u": user.id, "o": user.organization_id})


def flash_undo(message: str, row, *, user=None) -> None:
    """Flash `message` with an Undo button that restores `row` (for UNDO_SECONDS)."""
    user = user or current_user
    flash(message, UNDO_CATEGORY + undo_token(row, user))


def flash_undo_many(message: str, model: type, ids: list[int], *, user=None) -> None:
    """Flash `message` with an Undo button that restores every row of `ids` (a bulk delete's, for UNDO_SECONDS)."""
    user = user or current_user
    token = _serializer().dumps({"t": model.__tablename__, "ids": [int(i) for i in ids], "u": user.id,
                                 "o": user.organization_id})
    flash(message, UNDO_CATEGORY + token)


def _undo_many(model: type, ids: list[int], user) -> int:
    restorer = _BULK_RESTORERS.get(model.__tablename__)
    if restorer is not None:
        return restorer(ids=ids, user=user)
    chosen = sa.select(model).where(model.id.in_(ids), model.organization_id == user.organization_id)
    result = model.restore_all(chosen, user=user)
    db.session.commit()
    return len(result.changed)


def _model_for(table: str):
    for mapper in db.Model.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table and hasattr(mapper.class_, "restore"):
            return mapper.class_
    abort(404)


@bp.route("/undo", methods=["POST"])
@login_required
def undo():
    try:
        data = _serializer().loads(request.form.get("token", ""), max_age=current_app.config.get("UNDO_SECONDS", 600))
    except SignatureExpired:
        flash("Too late to undo: restore it from the trash instead.", "error")
        return _back()
    except BadSignature:
        abort(400)
    if data.get("u") != current_user.id or data.get("o") != current_user.organization_id:
        abort(404)
    model = _model_for(data.get("t", ""))
    if "ids" in data:
        try:
            count = _undo_many(model, [int(i) for i in data["ids"]], current_user._get_current_object())
        except (SoftDeleteError, ValueError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return _back()
        flash(f"Undone: {count} {'is' if count == 1 else 'are'} back.", "success")
        return _back()
    row = get_or_404(model, data.get("id"), include_deleted=True, workspace=False)
    try:
        restorer = _RESTORERS.get(model.__tablename__)
        if restorer is not None:
            restorer(row=row, user=current_user._get_current_object())
        else:
            row.restore(user=current_user._get_current_object())
            db.session.commit()
    except (SoftDeleteError, ValueError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _back()
    flash("Undone: it is back.", "success")
    return _back()


def _back():
    target = request.form.get("next")
    return redirect(target if is_safe_redirect(target) else url_for("core.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

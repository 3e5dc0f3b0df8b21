"""The only way views read tenant data.

The tenant is the signed-in user's organization; the current workspace is kept
in the session and always checked against that organization. Objects of another
organization (or, for workspace-scoped rows, another workspace) answer 404:
never 403, which would confirm they exist.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from flask import abort, g, session
from flask_login import current_user, login_required

from app.extensions import db

T = TypeVar("T")

WORKSPACE_SESSION_KEY = "workspace_id"


def current_organization():
    if not current_user.is_authenticated:
        return None
    return current_user.organization


def current_organization_id() -> int:
    if not current_user.is_authenticated:
        abort(404)
    return current_user.organization_id


def _workspace_model():
    # Platform imports no feature at module level; the workspace table lives in accounts.
    from app.accounts.models import Workspace

    return Workspace


def organization_workspaces() -> list:
    """The signed-in user's organization's active workspaces, by name; read once per request.

    The nav's switcher lists them and `current_workspace` picks from them, so a page
    costs one workspace query, not one per use.
    """
    if not current_user.is_authenticated:
        return []
    if "organization_workspaces" not in g:
        Workspace = _workspace_model()
        g.organization_workspaces = list(db.session.scalars(
            Workspace.select_active().where(Workspace.organization_id == current_user.organization_id)
            .order_by(Workspace.name)))
    return g.organization_workspaces


def current_workspace():
    """The workspace chosen in this session, else the user's default, else the first active one."""
    if not current_user.is_authenticated:
        return None
    if "current_workspace" in g:
        return g.current_workspace
    candidates = []
    if session.get(WORKSPACE_SESSION_KEY):
        candidates.append(session[WORKSPACE_SESSION_KEY])
    prefs = current_user.preferences
    if prefs is not None and prefs.default_workspace_id:
        candidates.append(prefs.default_workspace_id)
    active = organization_workspaces()
    by_id = {workspace.id: workspace for workspace in active}
    workspace = next((by_id[c] for c in candidates if c in by_id), active[0] if active else None)
    g.current_workspace = workspace
    if workspace is not None and session.get(WORKSPACE_SESSION_KEY) != workspace.id:
        session[WORKSPACE_SESSION_KEY] = workspace.id  # only on change: no new cookie on every response
    return workspace


def set_current_workspace(workspace) -> None:
    session[WORKSPACE_SESSION_KEY] = workspace.id
    g.current_workspace = workspace


def scoped(model: type, statement: sa.Select | None = None, *, workspace: bool | None = None) -> sa.Select:
    """`statement` (default: select the model) limited to the current tenant.

    Workspace-scoped models are also limited to the current workspace unless
    `workspace=False` (e.g. organization-wide reports).
    """
    stmt = statement if statement is not None else sa.select(model)
    stmt = stmt.where(model.organization_id == current_organization_id())
    use_workspace = workspace if workspace is not None else getattr(model, "__tenant_scope__", "") == "workspace"
    if use_workspace:
        ws = current_workspace()
        stmt = stmt.where(model.workspace_id == (ws.id if ws else -1))
    return stmt


def scoped_active(model: type, *, workspace: bool | None = None) -> sa.Select:
    return scoped(model, model.select_active(), workspace=workspace)


def get_or_404(model: type[T], object_id: Any, *, include_deleted: bool = False, workspace: bool | None = None) -> T:
    """Load one tenant row by id, or 404 if it is missing, deleted or someone else's."""
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        abort(404)
    stmt = scoped(model, workspace=workspace).where(model.id == object_id)
    if not include_deleted and hasattr(model, "deleted_at"):
        stmt = stmt.where(model.is_active.is_(True))
    row = db.session.scalars(stmt).first()
    if row is None:
        abort(404)
    return row


def roles_required(*roles: str) -> Callable:
    """Declare which roles may use a view. Signed-out users go to sign-in.

    Signed-in users without the role get 403 with a clear page: the areas
    guarded here (members, trash, usage) are no secret. The role is checked
    before any object is loaded, so a 403 never says whether an id exists;
    objects of another organization answer 404 through `get_or_404`.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorator


def permission_required(permission: str) -> Callable:
    """Admins, or users granted `permission` on the members page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any):
            if not current_user.has_permission(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped

    return decorator


def staff_required(view: Callable) -> Callable:
    return roles_required("admin", "manager", "agent")(view)

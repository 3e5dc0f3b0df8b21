"""The only way views read tenant data.

The tenant is the signed-in user's organization; the current workspace is kept
in the session and always checked against that organization. Objects of another
organization (or, for workspace-scoped rows, another workspace) answer 404:
never 403, which would confirm they exist.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, NamedTuple, TypeVar

import sqlalchemy as sa
from flask import abort, g, session
from flask_login import current_user, login_required

from app.extensions import db
from app.platform.parsing import parse_row_id

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


# --------------------------------------------------------------------------- per-organization caches
# (kind, organization id) -> ((created_at, directory_version), value). One entry per kind and
# organization: a newer version replaces the older one.
_organization_cache: dict[tuple[str, int], tuple[tuple, Any]] = {}


def organization_cached(organization, kind: str, load: Callable[[], T]) -> T:
    """`load()`'s result for `organization`, kept in this process until its directory changes.

    For small lists every page shows (the nav's workspaces, the assignee choices) that
    change far less often than they are read. The key is the organization's
    `directory_version`, which the accounts hooks bump in the transaction that changes
    a member or a workspace, and which the signed-in user's session query has just
    read: so a change is seen by every process on its next request. `created_at` is
    part of the key because a database can be emptied and an id used again (tests).
    `load` must return plain immutable data (tuples of values), never ORM objects.
    """
    stamp = (organization.created_at, organization.directory_version)
    cached = _organization_cache.get((kind, organization.id))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    value = load()
    _organization_cache[(kind, organization.id)] = (stamp, value)
    return value


def forget_organization_cache(organization_id: int) -> None:
    """Drop this process's entries for an organization (its directory changed in this process)."""
    for key in [key for key in _organization_cache if key[1] == organization_id]:
        _organization_cache.pop(key, None)


class WorkspaceChoice(NamedTuple):
    """A workspace as the nav and the pages' headings show it."""

    id: int
    name: str


def organization_workspaces() -> tuple[WorkspaceChoice, ...]:
    """The signed-in user's organization's active workspaces, by name (cached: see `organization_cached`)."""
    if not current_user.is_authenticated:
        return ()
    organization = current_user.organization

    def load() -> tuple[WorkspaceChoice, ...]:
        Workspace = _workspace_model()
        rows = db.session.execute(
            sa.select(Workspace.id, Workspace.name).where(Workspace.organization_id == organization.id,
                                                          Workspace.is_active.is_(True))
            .order_by(Workspace.name))
        return tuple(WorkspaceChoice(*row) for row in rows)

    return organization_cached(organization, "workspaces", load)


def current_workspace_choice() -> WorkspaceChoice | None:
    """The workspace chosen in this session, else the user's default, else the first active one."""
    if not current_user.is_authenticated:
        return None
    if "current_workspace_choice" in g:
        return g.current_workspace_choice
    candidates = []
    if session.get(WORKSPACE_SESSION_KEY):
        candidates.append(session[WORKSPACE_SESSION_KEY])
    prefs = current_user.preferences
    if prefs is not None and prefs.default_workspace_id:
        candidates.append(prefs.default_workspace_id)
    active = organization_workspaces()
    by_id = {workspace.id: workspace for workspace in active}
    choice = next((by_id[c] for c in candidates if c in by_id), active[0] if active else None)
    g.current_workspace_choice = choice
    if choice is not None and session.get(WORKSPACE_SESSION_KEY) != choice.id:
        session[WORKSPACE_SESSION_KEY] = choice.id  # only on change: no new cookie on every response
    return choice


def current_workspace_id() -> int | None:
    choice = current_workspace_choice()
    return choice.id if choice is not None else None


def current_workspace():
    """The current workspace's row, for views that work in it (loaded when first asked for)."""
    if "current_workspace" not in g:
        workspace_id = current_workspace_id()
        g.current_workspace = db.session.get(_workspace_model(), workspace_id) if workspace_id else None
    return g.current_workspace


def set_current_workspace(workspace) -> None:
    session[WORKSPACE_SESSION_KEY] = workspace.id
    g.current_workspace = workspace
    g.current_workspace_choice = WorkspaceChoice(workspace.id, workspace.name)


def forget_current_workspace() -> None:
    """Choose again on next use (after sign-in, say, which clears the session)."""
    g.pop("current_workspace", None)
    g.pop("current_workspace_choice", None)


def scoped(model: type, statement: sa.Select | None = None, *, workspace: bool | None = None) -> sa.Select:
    """`statement` (default: select the model) limited to the current tenant.

    Workspace-scoped models are also limited to the current workspace unless
    `workspace=False` (e.g. organization-wide reports).
    """
    stmt = statement if statement is not None else sa.select(model)
    stmt = stmt.where(model.organization_id == current_organization_id())
    use_workspace = workspace if workspace is not None else getattr(model, "__tenant_scope__", "") == "workspace"
    if use_workspace:
        workspace_id = current_workspace_id()
        stmt = stmt.where(model.workspace_id == (workspace_id if workspace_id is not None else -1))
    return stmt


def scoped_active(model: type, *, workspace: bool | None = None) -> sa.Select:
    return scoped(model, model.select_active(), workspace=workspace)


def get_or_404(model: type[T], object_id: Any, *, include_deleted: bool = False, workspace: bool | None = None) -> T:
    """Load one tenant row by id, or 404 if it is missing, deleted or someone else's."""
    object_id = parse_row_id(model, object_id)  # "²", "1e3", ids past 2^31-1 and non-UUIDs name no row
    if object_id is None:
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

"""What customers may open: the helpdesk and their own preferences, plus what an admin grants.

Enforced on every request (a `before_request` hook), not only in the nav: a
customer who types /projects/ gets 403 unless the organization's
`settings["customer_access"]` lists "projects". Their dashboard sends them to the
helpdesk instead. Staff are never limited here (their roles are checked per view).
The areas are named by endpoint prefix, so the platform imports no feature.
"""
from __future__ import annotations

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

# endpoint prefix -> the grant that opens it to customers (None: staff only, never granted)
GATED_ENDPOINTS: tuple[tuple[str, str | None], ...] = (
    ("core.dashboard", "jobs"),
    ("core.job", "jobs"),
    ("projects.", "projects"),
    ("projects_api.", "projects"),
    ("exports.", "timesheet"),
    ("accounts.workspace", "workspaces"),
    ("rules.", None),
    ("rules_api.", None),
)
CUSTOMER_HOME = "tickets.index"


def customer_may_use(area: str, user=None) -> bool:
    user = user if user is not None else current_user
    if not getattr(user, "is_authenticated", False) or user.role != "customer":
        return True
    return area in (user.organization.setting("customer_access") or [])


def _guard():
    if not current_user.is_authenticated or current_user.role != "customer":
        return None
    endpoint = request.endpoint or ""
    for prefix, area in GATED_ENDPOINTS:
        if endpoint.startswith(prefix):
            if area is not None and customer_may_use(area):
                return None
            if endpoint == "core.dashboard":
                return redirect(url_for(CUSTOMER_HOME))
            abort(403)
    return None


def init_app(app: Flask) -> None:
    app.before_request(_guard)
    app.add_template_global(customer_may_use, "may_use")

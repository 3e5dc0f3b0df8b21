"""Saved views of the ticket list: built-in ones every agent has, and named filters kept per person or team.

A view is the list's query string (status, priority, assignee, customer, tag, breached, q, sort);
opening it is opening the list with those filters, and its count uses the list's own conditions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import urlencode

import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.tickets.listing import TicketFilters, ticket_list_conditions
from app.tickets.models import SavedView, Ticket

FILTER_KEYS = ("status", "priority", "assignee", "customer", "tag", "breached", "q", "sort")


@dataclass
class ViewLink:
    key: str
    name: str
    filters: dict
    shared: bool = True
    view: SavedView | None = None

    @property
    def query(self) -> str:
        return urlencode({k: v for k, v in self.filters.items() if v not in ("", None, False)})


BUILT_IN = (
    ViewLink("mine", "My open tickets", {"status": "active", "assignee": "me"}),
    ViewLink("unassigned", "Unassigned", {"status": "active", "assignee": "none"}),
    ViewLink("breached", "SLA breached", {"status": "active", "breached": "1"}),
)


class SavedViewError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def clean_filters(args) -> dict:
    """The list's filters from a query string or form, without empty values."""
    found = {key: (args.get(key) or "").strip()[:200] for key in FILTER_KEYS}
    return {key: value for key, value in found.items() if value and not (key == "sort" and value == "-number")}


def filters_of(values: dict) -> TicketFilters:
    return TicketFilters(status=values.get("status", ""), priority=values.get("priority", ""),
                         assignee=values.get("assignee", ""), customer=values.get("customer", ""),
                         tag=values.get("tag", ""), breached=values.get("breached") == "1", q=values.get("q", ""),
                         sort=values.get("sort", "-number"))


def views_for(user: User) -> list[ViewLink]:
    rows = db.session.scalars(sa.select(SavedView).where(
        SavedView.organization_id == user.organization_id,
        sa.or_(SavedView.owner_id.is_(None), SavedView.owner_id == user.id))
        .order_by(SavedView.owner_id.is_not(None), sa.func.lower(SavedView.name), SavedView.id))
    return list(BUILT_IN) + [ViewLink(f"v{row.id}", row.name, dict(row.filters or {}), row.is_shared, row)
                             for row in rows]


def view_count(user: User, link: ViewLink, limit: int = 1000) -> int:
    """How many tickets the view shows now (at most `limit` are counted: the nav says "1000+")."""
    conditions = ticket_list_conditions(user=user, filters=filters_of(link.filters))
    inner = sa.select(Ticket.id).where(*conditions).limit(limit + 1).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0


def saved_view_save(*, actor: User, name: str, filters: dict, shared: bool) -> SavedView:
    name = " ".join((name or "").split())[:80]
    if not name:
        raise SavedViewError("Name the view.", "name")
    if not filters:
        raise SavedViewError("Filter the list first: a view with no filters is the whole list.", "name")
    view = SavedView(organization_id=actor.organization_id, name=name, filters=filters,
                     owner_id=None if shared else actor.id, created_by_id=actor.id)
    db.session.add(view)
    db.session.commit()
    return view


def saved_view_delete(*, actor: User, view: SavedView) -> None:
    allowed = view.owner_id == actor.id if view.owner_id else (
        actor.role in ("admin", "manager") or view.created_by_id == actor.id)
    if not allowed:
        raise SavedViewError("Only a manager or its author can delete a shared view.")
    db.session.delete(view)
    db.session.commit()


def as_dict(filters: TicketFilters) -> dict:
    return asdict(filters)

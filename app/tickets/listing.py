"""The ticket list: filters, sort and search-as-you-type, for agents and for customers.

One select serves the list page, its HTMX fragment and the tickets export dataset, so a
customer sees the same rows everywhere. The query shapes here are the ones the
PostgreSQL indexes in the tickets migrations are built for (see bench/tickets_list.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.tickets.models import ACTIVE_STATUSES, PRIORITIES, STATUSES, Ticket, TicketComment
from app.tickets.services import like_pattern, names_only


def customers_of(organization_id: int) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.organization_id == organization_id, User.role == "customer", User.is_active.is_(True))
        .options(*names_only()).order_by(User.full_name, User.email)))


@dataclass
class TicketFilters:
    status: str = ""
    priority: str = ""
    assignee: str = ""  # "", "me", "none" or a user id
    customer: str = ""
    tag: str = ""
    breached: bool = False
    q: str = ""
    sort: str = "-number"


SORTS = {
    "-number": (Ticket.ticket_number.desc(),),
    "number": (Ticket.ticket_number.asc(),),
    "-updated": (Ticket.updated_at.desc(), Ticket.id.desc()),
    "due": (Ticket.resolution_due.is_(None), Ticket.resolution_due.asc(), Ticket.id),
    "-priority": (sa.case({"urgent": 0, "high": 1, "medium": 2, "low": 3}, value=Ticket.priority),
                  Ticket.ticket_number.desc()),
}
SORT_LABELS = {"-number": "Newest", "number": "Oldest", "-updated": "Recently updated", "due": "Due soonest",
               "-priority": "Priority"}


def _tag_condition(tag: str):
    if db.engine.dialect.name == "postgresql":
        return Ticket.tags.op("@>")(sa.cast(sa.literal(f'["{tag}"]'), Ticket.tags.type))
    each = sa.func.json_each(Ticket.tags).table_valued("value")
    return sa.exists(sa.select(1).select_from(each).where(each.c.value == tag))


def ticket_search_condition(q: str, *, organization_id: int, public_only: bool):
    """Subject, description or a comment (public ones only for customers) contains `q`; or `#123` by number.

    ILIKE '%q%' is served by the pg_trgm GIN indexes on PostgreSQL; SQLite scans (LIKE).
    """
    q = q.strip()
    number = re.fullmatch(r"#?(\d{1,9})", q)
    pattern = like_pattern(q)
    comments = sa.select(TicketComment.ticket_id).where(TicketComment.organization_id == organization_id,
                                                        TicketComment.content.ilike(pattern, escape="\\"))
    if public_only:
        comments = comments.where(TicketComment.comment_type == "reply")
    conditions = [Ticket.subject.ilike(pattern, escape="\\"), Ticket.description.ilike(pattern, escape="\\"),
                  Ticket.id.in_(comments)]
    if number:
        conditions.append(Ticket.ticket_number == int(number.group(1)))
    return sa.or_(*conditions)


def ticket_list_query(*, user: User, filters: TicketFilters) -> sa.Select:
    stmt = sa.select(Ticket).where(Ticket.organization_id == user.organization_id, Ticket.is_active.is_(True))
    if user.role == "customer":
        stmt = stmt.where(Ticket.customer_id == user.id)
    if filters.status == "active":
        stmt = stmt.where(Ticket.status.in_(ACTIVE_STATUSES))
    elif filters.status in STATUSES:
        stmt = stmt.where(Ticket.status == filters.status)
    if filters.priority in PRIORITIES:
        stmt = stmt.where(Ticket.priority == filters.priority)
    if user.role != "customer":
        if filters.assignee == "me":
            stmt = stmt.where(Ticket.assigned_agent_id == user.id)
        elif filters.assignee == "none":
            stmt = stmt.where(Ticket.assigned_agent_id.is_(None))
        elif filters.assignee.isdigit():
            stmt = stmt.where(Ticket.assigned_agent_id == int(filters.assignee))
        if filters.customer.isdigit():
            stmt = stmt.where(Ticket.customer_id == int(filters.customer))
        if filters.breached:
            stmt = stmt.where(Ticket.sla_breach.is_(True))
    if filters.tag:
        stmt = stmt.where(_tag_condition(filters.tag.strip().lower()))
    if filters.q.strip():
        stmt = stmt.where(ticket_search_condition(filters.q, organization_id=user.organization_id,
                                                  public_only=user.role == "customer"))
    # The list shows only the customer's and assignee's names: skip their organization and preferences joins.
    stmt = stmt.options(sa.orm.joinedload(Ticket.customer).options(*names_only()),
                        sa.orm.joinedload(Ticket.assigned_agent).options(*names_only()))
    return stmt.order_by(*SORTS.get(filters.sort, SORTS["-number"]))

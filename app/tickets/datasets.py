"""The tickets dataset for exports: the rows the tickets list shows this user (tickets.listing.ticket_list_query)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.exports.datasets import Dataset, Field, Filter, register_dataset


def _tickets(user) -> sa.Select:
    from app.accounts.models import User
    from app.tickets.models import Ticket

    customer = aliased(User)
    assignee = aliased(User)
    stmt = (
        sa.select(
            Ticket.id.label("id"),
            Ticket.ticket_number.label("number"),
            Ticket.subject.label("subject"),
            Ticket.status.label("status"),
            Ticket.priority.label("priority"),
            customer.email.label("customer"),
            assignee.email.label("assignee"),
            Ticket.created_at.label("created_at"),
            Ticket.resolved_at.label("resolved_at"),
            Ticket.sla_breach.label("sla_breached"),
            Ticket.customer_satisfaction_score.label("satisfaction"),
        )
        .join(customer, customer.id == Ticket.customer_id)
        .outerjoin(assignee, assignee.id == Ticket.assigned_agent_id)
        # the list's rule: the organization's active (not trashed) tickets; customers only their own
        .where(Ticket.organization_id == user.organization_id, Ticket.is_active.is_(True))
    )
    if user.role == "customer":
        stmt = stmt.where(Ticket.customer_id == user.id)
    return stmt


register_dataset(Dataset(
    name="tickets",
    label="Tickets",
    fields=[Field("number", "Number", "number"), Field("subject", "Subject"), Field("status", "Status"),
            Field("priority", "Priority"), Field("customer", "Customer email"), Field("assignee", "Assignee email"),
            Field("created_at", "Created", "datetime"), Field("resolved_at", "Resolved", "datetime"),
            Field("sla_breached", "SLA breached"), Field("satisfaction", "Satisfaction", "number")],
    build=_tickets,
    date_column="created_at",
    filters=[Filter("status", "Status", lambda rows, v: rows.c.status == v.strip().lower()),
             Filter("priority", "Priority", lambda rows, v: rows.c.priority == v.strip().lower())],
    allowed=lambda user: user.role in ("admin", "manager", "agent", "customer"),
    order_by=("created_at", "id"),
))


def _minutes_between(later, earlier):
    """Minutes from `earlier` to `later` in SQL (NULL when either is NULL), on PostgreSQL and SQLite."""
    from app.extensions import db

    if db.engine.dialect.name == "postgresql":
        return sa.func.round(sa.cast(sa.extract("epoch", later - earlier) / 60, sa.Numeric), 1)
    return sa.func.round((sa.func.julianday(later) - sa.func.julianday(earlier)) * 1440, 1)


def _on_time(done, due):
    return sa.case((due.is_(None), None), (done.is_(None), None), (done <= due, "yes"), else_="no")


def _ticket_report(user) -> sa.Select:
    """The report's measurements, one row per live ticket: the helpdesk reports page, as data."""
    from app.accounts.models import User
    from app.tickets.models import Ticket

    agent = aliased(User)
    return (
        sa.select(
            Ticket.id.label("id"),
            Ticket.ticket_number.label("number"),
            Ticket.priority.label("priority"),
            Ticket.status.label("status"),
            agent.email.label("agent"),
            Ticket.created_at.label("created_at"),
            _minutes_between(Ticket.first_responded_at, Ticket.created_at).label("first_response_minutes"),
            _minutes_between(Ticket.resolved_at, Ticket.created_at).label("resolution_minutes"),
            _on_time(Ticket.first_responded_at, Ticket.first_response_due).label("first_response_on_time"),
            _on_time(Ticket.resolved_at, Ticket.resolution_due).label("resolution_on_time"),
            Ticket.customer_satisfaction_score.label("rating"),
        )
        .outerjoin(agent, agent.id == Ticket.assigned_agent_id)
        .where(Ticket.organization_id == user.organization_id, Ticket.is_active.is_(True))
    )


register_dataset(Dataset(
    name="ticket_report",
    label="Helpdesk report (per ticket)",
    fields=[Field("number", "Number", "number"), Field("priority", "Priority"), Field("status", "Status"),
            Field("agent", "Agent email"), Field("created_at", "Opened", "datetime"),
            Field("first_response_minutes", "First response (min)", "number"),
            Field("resolution_minutes", "Resolution (min)", "number"),
            Field("first_response_on_time", "First response on time"),
            Field("resolution_on_time", "Resolution on time"), Field("rating", "Rating", "number")],
    build=_ticket_report,
    date_column="created_at",
    filters=[Filter("priority", "Priority", lambda rows, v: rows.c.priority == v.strip().lower()),
             Filter("agent", "Agent email", lambda rows, v: rows.c.agent == v.strip().lower())],
    allowed=lambda user: user.role in ("admin", "manager", "agent"),
    order_by=("created_at", "id"),
))

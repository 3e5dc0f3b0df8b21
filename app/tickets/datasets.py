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

"""Helpdesk model hooks: numbering, SLA clocks, the ticket history, and file cleanup on purge."""
from __future__ import annotations

from datetime import datetime, time

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlalchemy.dialects import postgresql, sqlite

from app.accounts.models import Organization, User
from app.platform import storage
from app.platform.hooks import model_hook
from app.platform.models import utcnow
from app.tickets.models import SLAPolicy, Ticket, TicketAttachment, TicketComment, TicketCounter, TicketHistory
from app.tickets.sla import business_seconds_between, compute_due

# The ticket's fields whose changes the history records, with their names in a sentence.
HISTORY_FIELDS = {
    "status": "status", "priority": "priority", "assigned_agent_id": "assignee", "subject": "subject",
    "tags": "tags", "custom_fields": "custom fields", "customer_satisfaction_score": "rating",
    "merged_into_id": "merged into", "is_active": "in trash", "sla_breach": "SLA breached",
    "sla_policy_id": "SLA policy", "first_response_due": "first response due", "resolution_due": "resolution due",
}
# Changes customers never see in the timeline: staff-only fields (tags, custom fields), the SLA
# bookkeeping, and the trash (its reasons are written for colleagues).
INTERNAL_FIELDS = frozenset({"tags", "custom_fields", "sla_policy_id", "first_response_due", "resolution_due",
                             "sla_breach", "is_active"})
EXCERPT_CHARS = 200


def _actor_id(ticket) -> int | None:
    """Who made this change: set by the service for one flush (then forgotten), else the signed-in user."""
    actor = ticket.__dict__.pop("_actor_id", None)
    if actor is not None:
        return actor
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id
    return None


def next_ticket_number(session, organization_id: int) -> int:
    """Take the next number of an organization: gap-free, safe under concurrency.

    The UPDATE locks the counter row until the transaction ends, so concurrent
    creators queue up; a rolled-back ticket gives its number back with it.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(TicketCounter).values(organization_id=organization_id, last_number=0)
                    .on_conflict_do_nothing(index_elements=["organization_id"]))
    return session.execute(
        sa.update(TicketCounter).where(TicketCounter.organization_id == organization_id)
        .values(last_number=TicketCounter.last_number + 1).returning(TicketCounter.last_number)
    ).scalar_one()


def policy_for(session, organization_id: int) -> SLAPolicy | None:
    """The organization's default active policy, else its first active one by name."""
    with session.no_autoflush:
        return session.scalars(
            sa.select(SLAPolicy).where(SLAPolicy.organization_id == organization_id, SLAPolicy.is_active.is_(True))
            .order_by(SLAPolicy.is_default.desc(), SLAPolicy.name).limit(1)
        ).first()


DEFAULT_POLICY_NAME = "Default"


@model_hook("after_create", Organization)
def give_default_sla_policy(organization: Organization, session, **_) -> None:
    """Every new organization starts with an editable default policy (the column defaults:
    urgent 30 min / 4 h ... low 1 day / 5 days, around the clock), so tickets have clocks from day one."""
    session.add(SLAPolicy(organization_id=organization.id, name=DEFAULT_POLICY_NAME, is_default=True,
                          business_days=[0, 1, 2, 3, 4], business_start=time(9), business_end=time(17)))


@model_hook("before_create", Ticket)
def number_and_clock_new_ticket(ticket: Ticket, session, **_) -> None:
    if not ticket.ticket_number and ticket.organization_id:
        ticket.ticket_number = next_ticket_number(session, ticket.organization_id)
    ticket.created_at = ticket.created_at or utcnow()
    if ticket.sla_policy_id is None and ticket.sla_policy is None and ticket.organization_id:
        ticket.sla_policy = policy_for(session, ticket.organization_id)
    ticket.first_response_due, ticket.resolution_due = compute_due(ticket, ticket.sla_policy)


@model_hook("after_create", Ticket)
def record_creation(ticket: Ticket, session, **_) -> None:
    """The first entry of the timeline: who opened the ticket (an agent may open it for a customer)."""
    session.add(TicketHistory(organization_id=ticket.organization_id, ticket_id=ticket.id,
                              actor_id=_actor_id(ticket), created_at=ticket.created_at, event="created",
                              new_value=ticket.subject))


@model_hook("before_update", Ticket)
def move_sla_clock(ticket: Ticket, session, changes, **_) -> None:
    """Pause while pending, resume with the paused (business) time added; recompute on priority change."""
    now = utcnow()
    recompute = "priority" in changes
    if "status" in changes:
        old, new = changes["status"]
        if new == "pending" and old != "pending":
            ticket.sla_paused_at = now
        if old == "pending" and new != "pending" and ticket.sla_paused_at is not None:
            ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0) + business_seconds_between(
                ticket.sla_paused_at, now, ticket.sla_policy)
            ticket.sla_paused_at = None
            recompute = True
        if new == "resolved":
            ticket.resolved_at = now
        elif old == "resolved" and new in ("open", "new", "pending"):
            ticket.resolved_at = None
    if recompute:
        before = {"first_response_due": ticket.first_response_due, "resolution_due": ticket.resolution_due}
        ticket.first_response_due, ticket.resolution_due = compute_due(ticket, ticket.sla_policy)
        # `changes` is handed on to the after_update hooks: the moved deadlines reach the history.
        for field, old in before.items():
            if getattr(ticket, field) != old:
                changes[field] = (old, getattr(ticket, field))


def _display(session, field: str, value) -> str:
    if value is None:
        return ""
    if field == "assigned_agent_id":
        with session.no_autoflush:
            user = session.get(User, value)
        return user.display_name if user else f"user {value}"
    if field == "merged_into_id":
        with session.no_autoflush:
            other = session.get(Ticket, value)
        return f"#{other.ticket_number}" if other else ""
    if field == "sla_policy_id":
        with session.no_autoflush:
            policy = session.get(SLAPolicy, value)
        return policy.name if policy else ""
    if field == "is_active":
        return "no" if value else "yes"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


@model_hook("after_update", Ticket)
def record_history(ticket: Ticket, session, changes, **_) -> None:
    """Who changed which field from what to what: one row per field (flushed by the commit).

    Moving to the trash and back are events of their own (with the reason), not a
    yes/no field.
    """
    actor = _actor_id(ticket)
    for field in HISTORY_FIELDS:
        if field not in changes:
            continue
        old, new = changes[field]
        if old is None and field in ("tags", "custom_fields") and not new:
            continue
        entry = TicketHistory(organization_id=ticket.organization_id, ticket_id=ticket.id, actor_id=actor,
                              internal=field in INTERNAL_FIELDS)
        if field == "is_active":
            entry.event = "restored" if new else "deleted"
            entry.new_value = "" if new else ticket.delete_reason
        else:
            entry.event, entry.field = "changed", field
            entry.old_value, entry.new_value = _display(session, field, old), _display(session, field, new)
        session.add(entry)


def _excerpt(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1].rstrip() + "…"


@model_hook("after_create", TicketComment)
def record_comment(comment: TicketComment, session, **_) -> None:
    """A public reply or an internal note on the timeline, with an excerpt and a link to it.

    A service may name another event for the comment (the note a merge writes is the
    merge itself): `comment._history = (event, text)`.
    """
    event, value = comment.__dict__.pop("_history", (None, None))
    session.add(TicketHistory(
        organization_id=comment.organization_id, ticket_id=comment.ticket_id, actor_id=comment.author_id,
        created_at=comment.created_at, event=event or ("note" if comment.is_internal else "reply"),
        internal=comment.is_internal, comment_id=comment.id,
        new_value=value if value is not None else _excerpt(comment.content)))


@model_hook("after_create", TicketAttachment)
def record_attachment(attachment: TicketAttachment, session, **_) -> None:
    """A file added to the ticket; a file on an internal note is as internal as the note."""
    with session.no_autoflush:
        comment = attachment.comment
    session.add(TicketHistory(
        organization_id=attachment.organization_id, ticket_id=attachment.ticket_id,
        actor_id=attachment.uploaded_by_id, created_at=attachment.created_at, event="attachment",
        internal=comment is not None and comment.is_internal, comment_id=attachment.comment_id,
        new_value=attachment.original_name))


@model_hook("before_delete", Ticket)
def remove_dependent_rows(ticket: Ticket, session, **_) -> None:
    """Note the attachment files, then delete the ticket's rows explicitly.

    The foreign keys cascade too; deleting here keeps a purge complete even on a
    SQLite connection whose foreign-key enforcement was switched off.
    """
    with session.no_autoflush:
        ticket._purged_files = list(session.scalars(
            sa.select(TicketAttachment.storage_path).where(TicketAttachment.ticket_id == ticket.id)))
        for model in (TicketHistory, TicketAttachment, TicketComment):
            session.execute(sa.delete(model).where(model.ticket_id == ticket.id),
                            execution_options={"synchronize_session": False})
        session.execute(sa.update(Ticket).where(Ticket.merged_into_id == ticket.id).values(merged_into_id=None),
                        execution_options={"synchronize_session": False})


@model_hook("after_delete", Ticket)
def remove_files(ticket: Ticket, session, **_) -> None:
    for path in getattr(ticket, "_purged_files", []):
        try:
            storage.delete(path)
        except storage.StorageError:
            pass

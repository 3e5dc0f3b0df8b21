"""Canned replies: placeholders filled from a fixed list, and the services that keep the replies.

Placeholders are looked up, not evaluated: `{{customer.name}}` becomes the customer's name and
anything else in braces stays as typed, so an agent's text can never run template code. The
result is plain text; the page escapes it like any reply.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.accounts.models import STAFF_ROLES, User
from app.extensions import db
from app.tickets.models import CannedReply, Ticket

PLACEHOLDERS = {
    "customer.name": lambda t, a: t.customer.display_name,
    "customer.first_name": lambda t, a: (t.customer.full_name or t.customer.display_name).split()[0],
    "customer.email": lambda t, a: t.customer.email,
    "ticket.number": lambda t, a: f"#{t.ticket_number}",
    "ticket.subject": lambda t, a: t.subject,
    "agent.name": lambda t, a: a.display_name,
}
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")


class CannedError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def render(body: str, *, ticket: Ticket, agent: User) -> str:
    """`body` with the known placeholders filled in for this ticket and agent; unknown ones left as typed."""
    def fill(match: re.Match) -> str:
        fill_in = PLACEHOLDERS.get(match.group(1))
        return str(fill_in(ticket, agent)) if fill_in else match.group(0)

    return PLACEHOLDER.sub(fill, body or "")


def canned_visible(user: User) -> sa.Select:
    """The replies `user` may use: the shared ones and their own, shared first, by title."""
    return (sa.select(CannedReply).where(CannedReply.organization_id == user.organization_id,
                                         sa.or_(CannedReply.owner_id.is_(None), CannedReply.owner_id == user.id))
            .order_by(CannedReply.owner_id.is_not(None), sa.func.lower(CannedReply.title), CannedReply.id))


def canned_for(user: User, canned_id) -> CannedReply | None:
    try:
        wanted = int(canned_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalars(canned_visible(user).where(CannedReply.id == wanted)).first()


def can_edit(reply: CannedReply, user: User) -> bool:
    """Your own replies; shared ones are the team's, kept by managers and the agent who wrote them."""
    if reply.owner_id is not None:
        return reply.owner_id == user.id
    return user.role in ("admin", "manager") or reply.created_by_id == user.id


def canned_save(*, actor: User, reply: CannedReply | None = None, title: str, body: str,
                shared: bool) -> CannedReply:
    if actor.role not in STAFF_ROLES:
        raise CannedError("Only staff keep canned replies.")
    if reply is not None and not can_edit(reply, actor):
        raise CannedError("Only a manager or its author can change a shared reply.")
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise CannedError("Give the reply a title.", "title")
    if len(title) > 120:
        raise CannedError("Keep the title under 120 characters.", "title")
    if not body:
        raise CannedError("Write the reply's text.", "body")
    reply = reply or CannedReply(organization_id=actor.organization_id, created_by_id=actor.id)
    reply.title, reply.body = title, body
    reply.owner_id = None if shared else actor.id
    db.session.add(reply)
    db.session.commit()
    return reply


def canned_delete(*, actor: User, reply: CannedReply) -> None:
    if not can_edit(reply, actor):
        raise CannedError("Only a manager or its author can delete a shared reply.")
    db.session.delete(reply)
    db.session.commit()

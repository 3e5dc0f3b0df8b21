"""The email channel's outbound side: the headers that thread the helpdesk's mail and keep it loop-free.

Every message about a ticket gets a Message-ID Cairn recognises (`<cairn.t<ticket id>.<kind>.<random>@domain>`,
stored on its outbox row, so a retried send keeps it), `References` starting from the ticket's
thread root and `In-Reply-To` the customer's latest email, a `Reply-To` of the organization's
mailbox (the inbound side matches the answer by these headers, then by `[#number]` in the
subject), and `Auto-Submitted: auto-generated` on automatic notifications.
"""
from __future__ import annotations

import re
import secrets
from email.utils import parseaddr

import sqlalchemy as sa
from flask import current_app

from app.extensions import db

OWN_ID = re.compile(r"^<cairn\.t(\d{1,12})\.[a-z0-9-]+\.[a-f0-9]+@([^<>\s]+)>$")


def _domain() -> str:
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2] or "cairn.localhost"


def sender_address() -> str:
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].lower()


def message_id_for(ticket_id: int, kind: str) -> str:
    return f"<cairn.t{ticket_id}.{kind}.{secrets.token_hex(8)}@{_domain()}>"


def root_id(ticket_id: int) -> str:
    """The thread's first message for tickets not born by email (clients thread on References)."""
    return f"<cairn.t{ticket_id}.root.0@{_domain()}>"


def ticket_id_from_message_id(message_id: str) -> int | None:
    found = OWN_ID.match(message_id or "")
    if found and found.group(2).lower() == _domain().lower():
        return int(found.group(1))
    return None


def is_own_message(message_id: str, from_address: str) -> bool:
    return ticket_id_from_message_id(message_id) is not None or (
        bool(from_address) and from_address.lower() == sender_address())


def thread_headers(ticket, *, automatic: bool) -> dict:
    """In-Reply-To, References and Reply-To for a message about `ticket` (and Auto-Submitted when automatic)."""
    from app.tickets.inbound import reply_to_address
    from app.tickets.models import InboundEmail

    # A Message-ID is ASCII (RFC 5322); a received one that is not would be RFC 2047-encoded in our headers,
    # which no client threads on: left out.
    received = [mid for mid in db.session.scalars(sa.select(InboundEmail.message_id).where(
        InboundEmail.ticket_id == ticket.id, InboundEmail.status == "imported").order_by(InboundEmail.id))
        if mid.isascii()]
    chain = [received[0]] if received else [root_id(ticket.id)]
    chain += [mid for mid in received[-3:] if mid not in chain]
    headers = {"In-Reply-To": chain[-1], "References": " ".join(chain),
               "Reply-To": reply_to_address(ticket.organization_id)}
    if automatic:
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office answers to notifications
    return headers


def ticket_mail(ticket, *, kind: str, automatic: bool) -> dict:
    """The keyword arguments `platform.mail.notify` takes for a message about `ticket`."""
    return {"headers": thread_headers(ticket, automatic=automatic), "message_id": message_id_for(ticket.id, kind),
            "organization_id": ticket.organization_id}

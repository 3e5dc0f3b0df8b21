"""Helpdesk services: every write owns its transaction; reads return selects or rows."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time
from typing import Callable

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for

from app.accounts.models import STAFF_ROLES, Organization, User
from app.extensions import db
from app.platform import mail, storage, textsearch, trash
from app.platform.jobs import BackgroundTask, job_submit
from app.platform.models import SoftDeleteError, utcnow
from app.platform.tenancy import organization_cached
from app.tickets.attachments import DEFAULT_KINDS, DEFAULT_MAX_MB, KINDS, extension_mismatch, sniff
from app.tickets import outbound
from app.tickets.hooks import policy_for
from app.tickets.models import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    PRIORITIES,
    STATUSES,
    KnowledgeArticle,
    SLAPolicy,
    Ticket,
    TicketAttachment,
    TicketComment,
    TicketHistory,
)
from app.tickets.sla import compute_due
from app.platform.parsing import parse_id

# Where each status may go next; anything else is refused with the reason below.
TRANSITIONS = {
    "new": ("open", "pending", "resolved", "cancelled"),
    "open": ("pending", "resolved", "cancelled"),
    "pending": ("open", "resolved", "cancelled"),
    "resolved": ("open", "closed"),
    "closed": (),
    "cancelled": ("open",),
}
REFUSALS = {
    "closed": "A closed ticket is final. Open a new ticket instead.",
    "new": "A ticket can't go back to new once it has been worked on.",
}


class TicketError(ValueError):
    """A refusal the user can read, optionally tied to a form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _commit() -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


# --------------------------------------------------------------------------- settings
def settings_for(organization: Organization) -> dict:
    return {
        "max_mb": int(organization.setting("ticket_attachment_max_mb", DEFAULT_MAX_MB)),
        "kinds": list(organization.setting("ticket_attachment_kinds", list(DEFAULT_KINDS))),
        "retention_days": int(organization.setting("ticket_retention_days", organization.trash_retention_days)),
    }


def tickets_settings_update(*, organization: Organization, max_mb: int, kinds: list[str], retention_days: int) -> None:
    if not 1 <= max_mb <= 50:
        raise TicketError("The size limit must be between 1 and 50 MB.", "max_mb")
    if not 1 <= retention_days <= 3650:
        raise TicketError("Keep deleted tickets between 1 and 3650 days.", "retention_days")
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise TicketError("Choose at least one allowed file type.", "kinds")
    settings = dict(organization.settings or {})
    settings.update(ticket_attachment_max_mb=max_mb, ticket_attachment_kinds=list(kinds),
                    ticket_retention_days=retention_days)
    organization.settings = settings
    _commit()


# --------------------------------------------------------------------------- attachments
@dataclass
class Upload:
    name: str
    data: bytes
    content_type: str


def uploads_check(*, organization: Organization, files) -> list[Upload]:
    """Read and judge uploaded files before anything is saved; refuse the whole lot on one bad file."""
    settings = settings_for(organization)
    limit = settings["max_mb"] * 1024 * 1024
    uploads = []
    for file in files or []:
        if file is None or not getattr(file, "filename", ""):
            continue
        name = re.sub(r"[\x00-\x1f/\\]", "_", file.filename).strip()[:255] or "file"
        data = file.stream.read(limit + 1)
        if len(data) > limit:
            raise TicketError(f"{name} is larger than the {settings['max_mb']} MB limit.", "attachments")
        found = sniff(data, name)
        if found is None:
            raise TicketError(f"{name}: this kind of file is not accepted.", "attachments")
        content_type, kind = found
        if kind not in settings["kinds"]:
            raise TicketError(f"{name}: {KINDS[kind].lower()} are not accepted here.", "attachments")
        if extension_mismatch(kind, name):
            raise TicketError(f"{name}: the file's content ({content_type}) does not match its name.", "attachments")
        uploads.append(Upload(name=name, data=data, content_type=content_type))
    return uploads


def _store_uploads(ticket: Ticket, uploads: list[Upload], *, uploader: User, comment: TicketComment | None,
                   written: list[str]) -> None:
    for upload in uploads:
        path = f"tickets/{ticket.organization_id}/{ticket.id}/{secrets.token_hex(12)}"
        try:
            with storage.atomic_write(path) as handle:
                handle.write(upload.data)
        except storage.StorageFull as exc:  # said at the field, like any refused file; nothing is saved
            raise TicketError(f"{upload.name}: {exc}", "attachments") from None
        written.append(path)
        db.session.add(TicketAttachment(
            organization_id=ticket.organization_id, ticket=ticket, comment=comment, uploaded_by_id=uploader.id,
            storage_path=path, original_name=upload.name, content_type=upload.content_type, size=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest()))


def _commit_with_uploads(ticket: Ticket, uploads: list[Upload], *, uploader: User,
                         comment: TicketComment | None, before_commit: Callable[[], None] | None = None) -> None:
    """Flush, write the files, commit; on any failure roll back and remove the files written (nothing half-saved).

    `before_commit` runs once the rows have ids, inside the transaction: the mail it writes to the outbox
    is committed with the ticket or reply, or not at all.
    """
    written: list[str] = []
    try:
        db.session.flush()  # the ticket's id names the files' folder
        _store_uploads(ticket, uploads, uploader=uploader, comment=comment, written=written)
        if before_commit is not None:
            before_commit()
        db.session.commit()
    except Exception:
        db.session.rollback()
        for path in written:
            storage.delete(path)
        raise


def attach_problem(ticket: Ticket, user: User) -> str | None:
    """Why `user` can't add files to `ticket` now; None when they can (staff, or the ticket's customer)."""
    if user.role not in STAFF_ROLES and ticket.customer_id != user.id:
        return "You can only add files to your own tickets."
    if ticket.merged_into_id:
        return "This ticket was merged into another one; add the files there."
    if ticket.status in FINAL_STATUSES:
        return f"This ticket is {ticket.status}; files can no longer be added."
    return None


def ticket_attach(*, ticket: Ticket, actor: User, files) -> list[Upload]:
    """Files added to the ticket on their own, without a reply: public, like the files it was opened with.

    The same checks and storage as files on replies; a refused file refuses them all. Files from
    the customer on a pending or resolved ticket reopen it, as their reply would.
    """
    problem = attach_problem(ticket, actor)
    if problem:
        raise TicketError(problem, "attachments")
    uploads = uploads_check(organization=db.session.get(Organization, ticket.organization_id), files=files)
    if not uploads:
        raise TicketError("Choose at least one file to attach.", "attachments")
    _lock(ticket)
    problem = attach_problem(ticket, actor)  # closed or merged meanwhile
    if problem:
        raise TicketError(problem, "attachments")
    ticket._actor_id = actor.id
    ticket.updated_at = utcnow()
    if actor.id == ticket.customer_id and ticket.status in ("pending", "resolved"):
        ticket.status = "open"  # the customer's files answer the ticket, as a reply does: the clock runs again
    _commit_with_uploads(ticket, uploads, uploader=actor, comment=None)
    return uploads


def attachment_count_download(*, attachment: TicketAttachment) -> None:
    db.session.execute(sa.update(TicketAttachment).where(TicketAttachment.id == attachment.id)
                       .values(download_count=TicketAttachment.download_count + 1))
    _commit()


# --------------------------------------------------------------------------- tickets
def customer_by_email(*, organization_id: int, email: str) -> User:
    """The active customer of this organization with `email`, for a ticket an agent opens for them."""
    email = (email or "").strip().lower()
    if not email:
        raise TicketError("Enter the customer's email.", "customer")
    customer = db.session.scalar(sa.select(User).where(User.organization_id == organization_id,
                                                       sa.func.lower(User.email) == email))
    if customer is None or customer.role != "customer":
        raise TicketError(f"No customer of this organization has the email {email}. Invite them from Members first.",
                          "customer")
    if not customer.is_active:
        raise TicketError(f"{customer.display_name} is deactivated.", "customer")
    return customer


def ticket_create(*, organization: Organization, actor: User, customer: User, subject: str, description: str,
                  priority: str = "medium", files=None) -> Ticket:
    if customer.organization_id != organization.id or customer.role != "customer" or not customer.is_active:
        raise TicketError("Choose a customer of this organization.", "customer")
    uploads = uploads_check(organization=organization, files=files)
    ticket = Ticket(organization_id=organization.id, customer=customer, subject=(subject or "").strip(),
                    description=(description or "").strip(), priority=priority)
    ticket._actor_id = actor.id
    db.session.add(ticket)
    notify = None
    if actor.role in STAFF_ROLES and actor.id != customer.id:
        notify = lambda: _notify_opened_for(ticket, actor, uploads)  # noqa: E731
    _commit_with_uploads(ticket, uploads, uploader=actor, comment=None, before_commit=notify)
    return ticket


def _notify_opened_for(ticket: Ticket, actor: User, uploads: list[Upload]) -> None:
    """Tell the customer that staff opened a ticket for them (a phone call, a walk-in), as their
    preferences allow: they learn its number and where to follow it. Their own tickets need no mail."""
    files = f"\nAttached: {', '.join(u.name for u in uploads)} (download them on the ticket page)\n" if uploads else ""
    description = f"\n{ticket.description}\n" if ticket.description else ""
    mail.notify(ticket.customer, f"[#{ticket.ticket_number}] {ticket.subject}",
                f"{actor.display_name} opened ticket #{ticket.ticket_number} for you: {ticket.subject}\n"
                f"{description}{files}\n"
                f"Follow it and reply on the ticket page, or answer this email: {ticket_link(ticket)}\n",
                **outbound.ticket_mail(ticket, kind="opened", automatic=True))


def _lock(ticket: Ticket) -> None:
    """Lock the ticket's row and re-read it: two agents changing one ticket at once don't undo each other."""
    db.session.execute(sa.select(Ticket.id).where(Ticket.id == ticket.id).with_for_update())
    db.session.refresh(ticket)


def _set(ticket: Ticket, actor: User, **values) -> None:
    ticket._actor_id = actor.id
    for key, value in values.items():
        setattr(ticket, key, value)


def transition_problem(ticket: Ticket, status: str) -> str | None:
    if status not in STATUSES:
        return f"Unknown status {status!r}."
    if status == ticket.status:
        return f"The ticket is already {status}."
    if ticket.merged_into_id:
        return "This ticket was merged into another one; work on that ticket instead."
    if status not in TRANSITIONS[ticket.status]:
        if ticket.status in REFUSALS:
            return REFUSALS[ticket.status]
        if status in REFUSALS:
            return REFUSALS[status]
        allowed = ", ".join(TRANSITIONS[ticket.status]) or "nothing"
        return f"A {ticket.status} ticket can't become {status}; it can become: {allowed}."
    return None


def ticket_change_status(*, ticket: Ticket, actor: User, status: str) -> Ticket:
    _lock(ticket)
    problem = transition_problem(ticket, status)
    if problem:
        raise TicketError(problem, "status")
    _set(ticket, actor, status=status)
    _commit()
    return ticket


def ticket_change_priority(*, ticket: Ticket, actor: User, priority: str) -> Ticket:
    _lock(ticket)
    if priority not in PRIORITIES:
        raise TicketError(f"Priority must be one of: {', '.join(PRIORITIES)}.", "priority")
    if not ticket.is_open:
        raise TicketError(f"A {ticket.status} ticket's priority can no longer change.", "priority")
    _set(ticket, actor, priority=priority)
    _commit()
    return ticket


def ticket_change_subject(*, ticket: Ticket, actor: User, subject: str) -> Ticket:
    """Rename the ticket (staff only). The model's rules judge the subject as on a new ticket."""
    if actor.role not in STAFF_ROLES:
        raise TicketError("Only staff can change a ticket's subject.", "subject")
    _lock(ticket)
    if ticket.merged_into_id:
        raise TicketError("This ticket was merged into another one; work on that ticket instead.", "subject")
    _set(ticket, actor, subject=(subject or "").strip())
    _commit()
    return ticket


def open_ticket_count(agent: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
        Ticket.organization_id == agent.organization_id, Ticket.assigned_agent_id == agent.id,
        Ticket.status.in_(ACTIVE_STATUSES), Ticket.is_active.is_(True))) or 0


def assignment_problem(agent: User, ticket: Ticket) -> str | None:
    if agent.organization_id != ticket.organization_id or agent.role not in STAFF_ROLES or not agent.is_active:
        return "Choose an agent of this organization."
    if agent.availability_status in ("offline", "away"):
        return f"{agent.display_name} is {agent.availability_status} and can't take tickets now."
    if open_ticket_count(agent) >= agent.max_concurrent_tickets:
        return f"{agent.display_name} already has {agent.max_concurrent_tickets} open tickets (their limit)."
    return None


def names_only():
    """Loader options for users shown by name only: no organization, preferences or permissions loads."""
    return (sa.orm.lazyload(User.organization), sa.orm.lazyload(User.preferences), sa.orm.lazyload(User.permissions))


def assignable_agents(organization) -> tuple[sa.Row, ...]:
    """The assignee choices: id, display_name and availability_status of each active staff member.

    Cached per organization until a member changes (platform.tenancy.organization_cached).
    """
    def load() -> tuple[sa.Row, ...]:
        return tuple(db.session.execute(sa.select(User.id, User.display_name.label("display_name"),
                                                  User.availability_status).where(
            User.organization_id == organization.id, User.role.in_(STAFF_ROLES), User.is_active.is_(True))
            .order_by(User.full_name, User.email)))

    return organization_cached(organization, "assignable_agents", load)




def ticket_assign_from_form(*, ticket: Ticket, actor: User, agent_id: str) -> Ticket:
    """Assign the member the form named (empty: unassign); only a member of the ticket's organization."""
    agent = None
    if agent_id:
        agent = db.session.scalars(sa.select(User).where(
            User.id == (parse_id(agent_id) or -1),
            User.organization_id == ticket.organization_id)).first()
        if agent is None:
            raise TicketError("Choose an agent of this organization.", "assignee")
    return ticket_assign(ticket=ticket, actor=actor, agent=agent)


def ticket_assign(*, ticket: Ticket, actor: User, agent: User | None) -> Ticket:
    _lock(ticket)
    if agent is None:
        _set(ticket, actor, assigned_agent_id=None)
        _commit()
        return ticket
    if agent.id == ticket.assigned_agent_id:
        raise TicketError(f"The ticket is already assigned to {agent.display_name}.", "assignee")
    problem = assignment_problem(agent, ticket)
    if problem:
        raise TicketError(problem, "assignee")
    _set(ticket, actor, assigned_agent_id=agent.id)
    if ticket.status == "new":
        ticket.status = "open"
    if agent.id != actor.id:  # in the same transaction: the mail is sent if and only if the assignment is saved
        mail.notify(agent, f"[#{ticket.ticket_number}] assigned to you: {ticket.subject}",
                    f"{actor.display_name} assigned you ticket #{ticket.ticket_number}: {ticket.subject}\n\n"
                    f"{ticket_link(ticket)}\n", **outbound.ticket_mail(ticket, kind="assigned", automatic=True))
    _commit()
    return ticket


def ticket_link(ticket: Ticket) -> str:
    """The ticket page's full address for mail: from the request, else PUBLIC_BASE_URL (jobs, CLI)."""
    if has_request_context():
        return url_for("tickets.detail", ticket_id=ticket.id, _external=True)
    base = current_app.config.get("PUBLIC_BASE_URL") or "http://localhost:5000"
    return f"{base.rstrip('/')}/tickets/{ticket.id}"


def comment_add(*, ticket: Ticket, author: User, content: str, internal: bool = False, files=None) -> TicketComment:
    """A public reply or an internal note. Customers can only reply; an agent's first reply starts the clock data."""
    if author.role == "customer":
        if ticket.customer_id != author.id:
            raise TicketError("You can only reply to your own tickets.")
        internal = False
    _lock(ticket)
    if not ticket.takes_replies:
        raise TicketError(f"This ticket is {ticket.status}; replies are closed.", "content")
    organization = db.session.get(Organization, ticket.organization_id)
    uploads = uploads_check(organization=organization, files=files)
    comment = TicketComment(organization_id=ticket.organization_id, ticket=ticket, author_id=author.id,
                            comment_type="note" if internal else "reply", content=(content or "").strip())
    db.session.add(comment)
    now = utcnow()
    ticket._actor_id = author.id
    if not internal and author.role in STAFF_ROLES:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            ticket.time_to_first_response = max(0, int((now - ticket.created_at).total_seconds()))
            if ticket.first_response_due is not None and now > ticket.first_response_due:
                ticket.sla_breach = True
        if ticket.status == "new":
            ticket.status = "open"
    elif not internal and author.role == "customer" and ticket.status in ("pending", "resolved"):
        ticket.status = "open"  # the customer answered: the clock runs again
    ticket.updated_at = now
    _commit_with_uploads(ticket, uploads, uploader=author, comment=comment,
                         before_commit=lambda: _notify_reply(ticket, comment, uploads))
    return comment


def _notify_reply(ticket: Ticket, comment: TicketComment, uploads: list[Upload]) -> None:
    """Mail the other side of the conversation, as their notification preferences allow.

    A staff member's public reply goes to the customer; a customer's reply goes to the
    assigned agent (nobody is mailed for an unassigned ticket: it waits in the list).
    Internal notes are never mailed: they are for colleagues on the ticket page.
    """
    if comment.is_internal:
        return
    author = comment.author
    to_customer = author.role in STAFF_ROLES
    if to_customer:
        recipient, who = ticket.customer, f"{author.display_name} replied"
    else:
        recipient, who = ticket.assigned_agent, f"{author.display_name} (the customer) replied"
    if recipient is None or recipient.id == author.id or not recipient.is_active:
        return
    files = f"\nAttached: {', '.join(u.name for u in uploads)} (download them on the ticket page)\n" if uploads else ""
    answer = "Answer this email or on the ticket page" if to_customer else "Answer on the ticket page"
    # An agent's reply is a person's message (the customer answers it); the agent's copy is a notification.
    mail.notify(recipient, f"Re: [#{ticket.ticket_number}] {ticket.subject}",
                f"{who} on ticket #{ticket.ticket_number}:\n\n{comment.content}\n{files}\n"
                f"{answer}: {ticket_link(ticket)}\n",
                **outbound.ticket_mail(ticket, kind=f"c{comment.id}", automatic=not to_customer))


def parse_tags(text: str) -> list[str]:
    tags = []
    for raw in re.split(r"[,\n]", text or ""):
        tag = re.sub(r"\s+", "-", raw.strip().lower())[:40]
        if tag and tag not in tags:
            tags.append(tag)
    if len(tags) > 20:
        raise TicketError("Use at most 20 tags.", "tags")
    return tags


def fields_locked_reason(ticket: Ticket) -> str | None:
    """Why a ticket's tags and custom fields can't change: closed and cancelled tickets are kept as they ended."""
    if ticket.status == "closed":
        return "A closed ticket is final: its tags and custom fields can no longer change."
    if ticket.status == "cancelled":
        return "A cancelled ticket's tags and custom fields can't change; reopen the ticket first."
    return None


def _check_fields_unlocked(ticket: Ticket, field: str) -> None:
    _lock(ticket)  # the status is read under the lock: a ticket closed a moment ago is closed
    reason = fields_locked_reason(ticket)
    if reason:
        raise TicketError(reason, field)


def ticket_set_tags(*, ticket: Ticket, actor: User, text: str) -> Ticket:
    _check_fields_unlocked(ticket, "tags")
    _set(ticket, actor, tags=parse_tags(text))
    _commit()
    return ticket


def parse_custom_fields(text: str) -> dict:
    """`key: value` lines into a dict; refuses lines without a key."""
    fields: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise TicketError(f"Line {number}: write custom fields as 'name: value'.", "custom_fields")
        fields[key.strip()[:60]] = value.strip()[:500]
    if len(fields) > 30:
        raise TicketError("Use at most 30 custom fields.", "custom_fields")
    return fields


def ticket_set_custom_fields(*, ticket: Ticket, actor: User, text: str) -> Ticket:
    _check_fields_unlocked(ticket, "custom_fields")
    _set(ticket, actor, custom_fields=parse_custom_fields(text))
    _commit()
    return ticket


def ticket_merge(*, source: Ticket, target: Ticket, actor: User) -> Ticket:
    """Move the duplicate's comments and files into `target`; close the duplicate with a link to it.

    The customer's own words stay theirs and public: the duplicate's description becomes a
    reply by its customer on the surviving ticket. Colleagues get an internal note saying
    where it came from (the timeline's merge entry).
    """
    _merge_problem(source, target)
    db.session.execute(sa.update(TicketComment).where(TicketComment.ticket_id == source.id)
                       .values(ticket_id=target.id))
    db.session.execute(sa.update(TicketAttachment).where(TicketAttachment.ticket_id == source.id)
                       .values(ticket_id=target.id))
    db.session.expire(source)
    note = TicketComment(
        organization_id=target.organization_id, ticket_id=target.id, author_id=actor.id, comment_type="note",
        content=f"Ticket #{source.ticket_number} ({source.subject}) was merged into this ticket.")
    note._history = ("merged_in", f"#{source.ticket_number} {source.subject}")  # the target's timeline entry
    db.session.add(note)
    if source.description.strip():
        db.session.add(TicketComment(
            organization_id=target.organization_id, ticket_id=target.id, author_id=source.customer_id,
            comment_type="reply", content=f"{source.subject}\n\n{source.description}"))
    _set(target, actor, tags=list(dict.fromkeys(list(target.tags) + list(source.tags))))
    _set(source, actor, merged_into_id=target.id, status="closed")
    _commit()
    return target


def _merge_problem(source: Ticket, target: Ticket) -> None:
    if source.id == target.id:
        raise TicketError("A ticket can't be merged into itself.", "target")
    if source.organization_id != target.organization_id or not target.is_active:
        raise TicketError("No such ticket in this organization.", "target")
    if target.merged_into_id or target.status in FINAL_STATUSES:
        raise TicketError(f"Ticket #{target.ticket_number} is {target.status}; merge into an open ticket.", "target")
    if source.merged_into_id:
        raise TicketError("This ticket was already merged.", "target")
    if source.customer_id != target.customer_id:
        # The duplicate's replies would move into a ticket another customer reads.
        raise TicketError(f"Ticket #{target.ticket_number} belongs to another customer; only a duplicate of the "
                          "same customer's ticket can be merged into it.", "target")


def ticket_rate(*, ticket: Ticket, customer: User, score: int, comment: str = "") -> Ticket:
    if ticket.customer_id != customer.id:
        raise TicketError("Only the customer who opened the ticket can rate it.", "score")
    if ticket.merged_into_id:
        raise TicketError("This ticket was merged into another one; rate that ticket instead.", "score")
    if ticket.status not in ("resolved", "closed"):
        raise TicketError("You can rate a ticket once it is resolved.", "score")
    if score is None or not 1 <= int(score) <= 5:
        raise TicketError("Choose a rating from 1 to 5.", "score")
    _set(ticket, customer, customer_satisfaction_score=int(score), satisfaction_comment=(comment or "").strip()[:2000])
    _commit()
    return ticket


# --------------------------------------------------------------------------- trash
def ticket_delete(*, ticket: Ticket, actor: User, reason: str) -> Ticket:
    reason = (reason or "").strip()
    if not reason:
        raise TicketError("Say why the ticket is deleted (it is shown in the trash).", "reason")
    organization = db.session.get(Organization, ticket.organization_id)
    ticket._actor_id = actor.id
    try:
        ticket.soft_delete(user=actor, reason=reason, retention_days=settings_for(organization)["retention_days"],
                           metadata={"status": ticket.status, "ticket_number": ticket.ticket_number})
    except SoftDeleteError as exc:
        raise TicketError(str(exc)) from exc
    _commit()
    return ticket


def ticket_restore(*, ticket: Ticket, actor: User) -> Ticket:
    ticket._actor_id = actor.id
    try:
        ticket.restore(user=actor)
    except SoftDeleteError as exc:
        raise TicketError(str(exc)) from exc
    _commit()
    return ticket


def tickets_delete(*, organization_id: int, actor: User, ticket_ids: list[int], reason: str) -> list[int]:
    """Bulk move to the trash (SoftDeleteMixin.soft_delete_all): every chosen live ticket of this organization,
    each exactly as `ticket_delete` does one (reason, retention, its own metadata, hooks: history rows), in one
    transaction. Returns the ids moved; tickets already in the trash or of another organization are left alone."""
    reason = (reason or "").strip()
    if not reason:
        raise TicketError("Say why the tickets are deleted (it is shown in the trash).", "reason")
    organization = db.session.get(Organization, organization_id)
    chosen = sa.select(Ticket).where(Ticket.organization_id == organization_id, Ticket.id.in_(ticket_ids))

    def prepare(ticket: Ticket) -> dict:
        ticket._actor_id = actor.id
        return {"metadata": {"status": ticket.status, "ticket_number": ticket.ticket_number}}

    try:
        result = Ticket.soft_delete_all(chosen, user=actor, reason=reason, prepare=prepare,
                                        retention_days=settings_for(organization)["retention_days"])
    except SoftDeleteError as exc:
        db.session.rollback()
        raise TicketError(str(exc)) from exc
    _commit()
    return result.changed


def tickets_restore(*, organization_id: int, actor: User, ticket_ids: list[int]) -> int:
    """Bulk restore (SoftDeleteMixin.restore_all): every chosen deleted ticket of this organization, each with
    the restore hooks (history rows), in one transaction."""
    chosen = sa.select(Ticket).where(Ticket.organization_id == organization_id, Ticket.id.in_(ticket_ids))
    try:
        result = Ticket.restore_all(chosen, user=actor, prepare=lambda ticket: setattr(ticket, "_actor_id", actor.id))
    except SoftDeleteError as exc:
        db.session.rollback()
        raise TicketError(str(exc)) from exc
    _commit()
    return len(result.changed)


TRASH_EMPTY_WORD = "EMPTY"


def tickets_trash_empty(*, organization_id: int, actor: User, confirmation: str, batch_size: int = 200) -> int:
    """Remove every ticket in this organization's trash for good, now (the `purge_trash` permission).

    The user types EMPTY to confirm. Files go with the tickets (the before/after_delete
    hooks); batches keep each transaction short on a large trash.
    """
    if not actor.has_permission("purge_trash"):
        raise TicketError("You need the 'Purge the trash now' permission to empty the ticket trash.")
    if (confirmation or "").strip().upper() != TRASH_EMPTY_WORD:
        raise TicketError(f"Type {TRASH_EMPTY_WORD} to confirm: the tickets and their files are removed for good.",
                          "confirmation")
    return trash.delete_in_batches(sa.select(Ticket).where(
        Ticket.organization_id == organization_id, Ticket.is_active.is_(False)).order_by(Ticket.id), batch_size)


def tickets_purge_expired(now: datetime | None = None, batch_size: int = 200) -> int:
    """Hard-delete tickets whose time in the trash is over (periodic). Files go with them (hooks)."""
    now = now or utcnow()
    return trash.delete_in_batches(sa.select(Ticket).where(
        Ticket.is_active.is_(False), Ticket.auto_delete_at.is_not(None), Ticket.auto_delete_at <= now), batch_size)


# --------------------------------------------------------------------------- SLA
def sla_flag_breaches(now: datetime | None = None) -> int:
    """Flag open tickets past a due time (periodic). Pending tickets are paused, so never flagged."""
    now = now or utcnow()
    overdue = sa.or_(sa.and_(Ticket.first_responded_at.is_(None), Ticket.first_response_due < now),
                     Ticket.resolution_due < now)
    ids = list(db.session.scalars(sa.select(Ticket.id).where(
        Ticket.sla_breach.is_(False), Ticket.is_active.is_(True), Ticket.status.in_(("new", "open")), overdue)))
    for ticket in db.session.scalars(sa.select(Ticket).where(Ticket.id.in_(ids))):
        ticket.sla_breach = True
    _commit()
    return len(ids)


def _parse_time(value: str | None) -> time | None:
    if not value:
        return None
    if isinstance(value, time):
        return value
    try:
        hours, minutes = value.split(":")[:2]
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise TicketError("Write times as HH:MM.", "business_start") from exc


# What a policy edit changes for tickets that already have due times: their targets or their calendar.
SLA_TARGET_FIELDS = tuple(f"{p}_{kind}_minutes" for p in PRIORITIES for kind in ("first_response", "resolution"))
SLA_CALENDAR_FIELDS = ("business_hours_only", "business_days", "business_start", "business_end", "timezone")
SLA_RECOMPUTE_KIND = "tickets-sla-recompute"
SLA_RECOMPUTE_BATCH = 500


@dataclass
class SLAPolicyChange:
    """A saved policy and, when open tickets' due times may move, the job recomputing them."""

    policy: SLAPolicy
    recompute: BackgroundTask | None = None


def _sla_relevant(policy: SLAPolicy) -> bool:
    """Whether the pending changes of `policy` can move a ticket's due times or policy.

    Targets and the default flag always can; the calendar only when business hours
    count before or after the change (the form always sends days and hours).
    """
    state = sa.inspect(policy)
    if state.pending or state.transient:
        return True

    def changed(name: str) -> bool:
        return state.attrs[name].history.has_changes()

    if any(changed(name) for name in SLA_TARGET_FIELDS + ("is_default",)):
        return True
    previous = state.attrs.business_hours_only.history.deleted
    calendar_counts = policy.business_hours_only or bool(previous and previous[0])
    return calendar_counts and any(changed(name) for name in SLA_CALENDAR_FIELDS)


def sla_policy_save(*, organization_id: int, actor: User, policy: SLAPolicy | None = None,
                    data: dict) -> SLAPolicyChange:
    """Create or update a policy from form data; `is_default` moves the default flag to this policy.

    A change of targets, calendar or default (and a new policy) starts the recompute of
    open tickets' due times (`sla_recompute_start`).
    """
    policy = policy or SLAPolicy(organization_id=organization_id)
    for key, value in data.items():
        if key in ("business_start", "business_end"):
            value = _parse_time(value)
        setattr(policy, key, value)
    policy.name = (policy.name or "").strip()
    relevant = _sla_relevant(policy)
    db.session.add(policy)
    try:
        db.session.flush()
        if policy.is_default:
            db.session.execute(sa.update(SLAPolicy).where(SLAPolicy.organization_id == organization_id,
                                                          SLAPolicy.id != policy.id).values(is_default=False))
        db.session.commit()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise TicketError("An active policy with this name already exists.", "name") from exc
    except Exception:
        db.session.rollback()
        raise
    return SLAPolicyChange(policy, sla_recompute_start(policy=policy, actor=actor) if relevant else None)


def sla_policy_set_active(*, policy: SLAPolicy, actor: User, active: bool) -> SLAPolicyChange:
    """(De)activate a policy and recompute: its open tickets move to the default, or get it if it is."""
    if policy.is_active == active:
        return SLAPolicyChange(policy)
    policy.is_active = active
    if not active:
        policy.is_default = False
    try:
        db.session.commit()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise TicketError("An active policy with this name already exists; rename one first.", "name") from exc
    return SLAPolicyChange(policy, sla_recompute_start(policy=policy, actor=actor))


def sla_recompute_start(*, policy: SLAPolicy, actor: User) -> BackgroundTask:
    """Queue the recompute of due times after `policy` changed (a job: it can touch many tickets)."""
    task = BackgroundTask(organization_id=policy.organization_id, kind=SLA_RECOMPUTE_KIND,
                          title=f"Recompute due times after a change of {policy.name}",
                          params={"policy_id": policy.id}, requested_by_id=actor.id)
    return job_submit(task)


def _sla_scope(organization_id: int, policy_id: int):
    """Open tickets (new, open, pending; in the trash too, for their restore) that a change of
    policy `policy_id` concerns: those on it, and those with no active policy, which take
    the policy new tickets get."""
    active_policies = sa.select(SLAPolicy.id).where(SLAPolicy.organization_id == organization_id,
                                                    SLAPolicy.is_active.is_(True))
    return sa.and_(Ticket.organization_id == organization_id, Ticket.status.in_(ACTIVE_STATUSES),
                   sa.or_(Ticket.sla_policy_id == policy_id, Ticket.sla_policy_id.is_(None),
                          Ticket.sla_policy_id.not_in(active_policies)))


def sla_recompute_run(task: BackgroundTask, progress) -> dict:
    """The job: re-apply the organization's policies to the open tickets the change concerns.

    A ticket keeps its policy while that policy is active, else it takes the policy new
    tickets get (the default, else the first active one by name), or none. Its due times
    are computed again from its creation in that policy's calendar, plus the time it has
    already spent paused while pending (a ticket pending now adds this pause when it
    resumes, as always). A breach already flagged stays flagged: it happened. Batches of
    SLA_RECOMPUTE_BATCH tickets, each locked and committed on its own.
    """
    organization_id, policy_id = task.organization_id, int(task.params["policy_id"])
    ids = list(db.session.scalars(sa.select(Ticket.id).where(_sla_scope(organization_id, policy_id))
                                  .order_by(Ticket.id)))
    db.session.commit()
    updated = 0
    for start in range(0, len(ids), SLA_RECOMPUTE_BATCH):
        chunk = ids[start:start + SLA_RECOMPUTE_BATCH]
        updated += _sla_recompute_batch(organization_id, policy_id, chunk, actor_id=task.requested_by_id)
        done = start + len(chunk)
        progress(100 * done / len(ids), f"Checked {done:,} of {len(ids):,} open tickets; {updated:,} updated")
    task.result = {"updated": updated, "checked": len(ids)}
    return task.result


def _sla_recompute_batch(organization_id: int, policy_id: int, ticket_ids: list[int], *, actor_id: int | None) -> int:
    """Recompute one batch in the caller's transaction; returns how many tickets changed."""
    tickets = Ticket.__table__.c
    # Lock the rows first, then read the policies: a recompute for a later edit, or an agent
    # changing one of these tickets, waits for this batch and then sees its result.
    rows = db.session.execute(
        sa.select(tickets.id, tickets.priority, tickets.created_at, tickets.sla_paused_seconds, tickets.sla_policy_id,
                  tickets.first_response_due, tickets.resolution_due)
        .where(tickets.id.in_(ticket_ids), _sla_scope(organization_id, policy_id)).with_for_update()).all()
    policies = {p.id: p for p in db.session.scalars(
        sa.select(SLAPolicy).where(SLAPolicy.organization_id == organization_id, SLAPolicy.is_active.is_(True))
        .execution_options(populate_existing=True))}
    fallback = policy_for(db.session, organization_id)
    updates, history = [], []
    now = utcnow()
    for row in rows:
        policy = policies.get(row.sla_policy_id) or fallback
        new_policy_id = policy.id if policy else None
        first, resolution = compute_due(row, policy)
        if (new_policy_id, first, resolution) == (row.sla_policy_id, row.first_response_due, row.resolution_due):
            continue
        updates.append({"b_id": row.id, "b_policy": new_policy_id, "b_first": first, "b_resolution": resolution})
        moved = [("first_response_due", _iso(row.first_response_due), _iso(first)),
                 ("resolution_due", _iso(row.resolution_due), _iso(resolution))]
        if new_policy_id != row.sla_policy_id:
            moved.insert(0, ("sla_policy_id", _policy_name(row.sla_policy_id), policy.name if policy else ""))
        history += [{"organization_id": organization_id, "ticket_id": row.id, "actor_id": actor_id, "created_at": now,
                     "event": "changed", "internal": True, "comment_id": None, "field": field,
                     "old_value": old, "new_value": new} for field, old, new in moved if old != new]
    if updates:
        db.session.execute(
            sa.update(Ticket.__table__).where(tickets.id == sa.bindparam("b_id")).values(
                sla_policy_id=sa.bindparam("b_policy", type_=tickets.sla_policy_id.type),
                first_response_due=sa.bindparam("b_first", type_=tickets.first_response_due.type),
                resolution_due=sa.bindparam("b_resolution", type_=tickets.resolution_due.type),
                # Not a change anyone made to the ticket: its "updated" time (and the list's order) stays.
                updated_at=tickets.updated_at),
            updates)
    if history:
        db.session.execute(sa.insert(TicketHistory.__table__), history)
    return len(updates)


def sla_recomputes_for(user: User, limit: int = 3) -> list[BackgroundTask]:
    """The latest due-time recomputes of the user's organization that the user may follow."""
    rows = db.session.scalars(sa.select(BackgroundTask).where(
        BackgroundTask.organization_id == user.organization_id, BackgroundTask.kind == SLA_RECOMPUTE_KIND)
        .order_by(BackgroundTask.created_at.desc(), BackgroundTask.id.desc()).limit(20))
    return [row for row in rows if row.visible_to(user)][:limit]


def _policy_name(policy_id: int | None) -> str:
    policy = db.session.get(SLAPolicy, policy_id) if policy_id else None
    return policy.name if policy else ""


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


# --------------------------------------------------------------------------- knowledge base
def article_save(*, organization_id: int, author: User, article: KnowledgeArticle | None = None, title: str,
                 content: str, is_published: bool, category: str = "") -> KnowledgeArticle:
    article = article or KnowledgeArticle(organization_id=organization_id, author_id=author.id)
    article.title = (title or "").strip()
    article.content = (content or "").strip()
    article.category = " ".join((category or "").split())[:80]
    article.is_published = is_published
    db.session.add(article)
    _commit()
    return article


def article_delete(*, article: KnowledgeArticle) -> None:
    db.session.delete(article)
    _commit()


def article_categories(*, organization_id: int, include_drafts: bool = False) -> list[tuple[str, int]]:
    """The categories in use with their article counts (what the reader may see), by name."""
    stmt = (sa.select(KnowledgeArticle.category, sa.func.count()).where(
        KnowledgeArticle.organization_id == organization_id, KnowledgeArticle.category != "")
        .group_by(KnowledgeArticle.category).order_by(KnowledgeArticle.category))
    if not include_drafts:
        stmt = stmt.where(KnowledgeArticle.is_published.is_(True))
    return [(name, count) for name, count in db.session.execute(stmt)]


# --------------------------------------------------------------------------- reads
def like_pattern(text: str) -> str:
    """`text` as an ILIKE pattern matching it anywhere, its wildcards escaped (the platform's helper)."""
    return textsearch.like_pattern(text)


def visible_comments(ticket: Ticket, user: User) -> list[TicketComment]:
    stmt = sa.select(TicketComment).where(TicketComment.ticket_id == ticket.id).order_by(TicketComment.id)
    if user.role == "customer":
        stmt = stmt.where(TicketComment.comment_type == "reply")
    return list(db.session.scalars(stmt))


HISTORY_LIMIT = 200


def visible_history(ticket: Ticket, user: User, limit: int = HISTORY_LIMIT) -> list[TicketHistory]:
    """The ticket's timeline, newest first; customers get the public entries only."""
    stmt = (sa.select(TicketHistory).where(TicketHistory.ticket_id == ticket.id)
            .options(sa.orm.joinedload(TicketHistory.actor).options(*names_only()))
            .order_by(TicketHistory.created_at.desc(), TicketHistory.id.desc()).limit(limit))
    if user.role not in STAFF_ROLES:
        stmt = stmt.where(TicketHistory.internal.is_(False))
    return list(db.session.scalars(stmt))


def visible_attachments(ticket: Ticket, user: User) -> list[TicketAttachment]:
    stmt = sa.select(TicketAttachment).where(TicketAttachment.ticket_id == ticket.id).order_by(TicketAttachment.id)
    if user.role == "customer":
        stmt = stmt.outerjoin(TicketComment, TicketAttachment.comment_id == TicketComment.id).where(
            sa.or_(TicketAttachment.comment_id.is_(None), TicketComment.comment_type == "reply"))
    return list(db.session.scalars(stmt))


def can_see_attachment(attachment: TicketAttachment, user: User) -> bool:
    if attachment.organization_id != user.organization_id:
        return False
    if user.role in STAFF_ROLES:
        return attachment.ticket.is_active
    return (attachment.ticket.customer_id == user.id and attachment.ticket.is_active
            and not attachment.is_internal)


def article_query(*, organization_id: int, q: str = "", include_drafts: bool = False,
                  category: str = "") -> sa.Select:
    stmt = sa.select(KnowledgeArticle).where(KnowledgeArticle.organization_id == organization_id)
    if not include_drafts:
        stmt = stmt.where(KnowledgeArticle.is_published.is_(True))
    if category:
        stmt = stmt.where(KnowledgeArticle.category == category)
    if q.strip():
        stmt = stmt.where(textsearch.contains_any([KnowledgeArticle.title, KnowledgeArticle.content], q))
    return stmt.order_by(KnowledgeArticle.updated_at.desc(), KnowledgeArticle.id.desc())




# Undo of a delete (the flash's Undo button, platform/undo.py) restores through the service: history keeps the actor.
from app.platform.undo import register_restore, register_restore_many  # noqa: E402

register_restore(Ticket, lambda *, row, user: ticket_restore(ticket=row, actor=user))
register_restore_many(Ticket, lambda *, ids, user: tickets_restore(organization_id=user.organization_id, actor=user,
                                                                   ticket_ids=ids))

"""The email channel's inbound side: one RFC 5322 message in, a ticket or a reply out (or a recorded refusal).

`inbound_import(organization=..., raw=...)` is the one entry point, used by the IMAP fetch
(app.tickets.mailboxes) and by `flask tickets-inbound` (a message piped by Postfix/Exim).
Each message ends in one transaction that writes its `InboundEmail` row (unique per
organization and Message-ID) with the ticket or reply it made: a message fetched again
after a crash finds its row and is not imported twice.

Never a loop: automatic mail (Auto-Submitted, Precedence bulk/junk/list/auto_reply,
X-Auto-Response-Suppress, X-Autoreply), delivery reports and bounces, and Cairn's own
messages are recorded as ignored and answered by nobody.
"""
from __future__ import annotations

import email
import email.policy
import hashlib
import html
import io
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

import nh3
import sqlalchemy as sa
from email_reply_parser import EmailReplyParser
from flask import current_app
from werkzeug.datastructures import FileStorage

from app.accounts.models import Organization, User
from app.extensions import db
from app.platform import storage
from app.platform.models import utcnow
from app.tickets import outbound
from app.tickets.models import InboundEmail, Mailbox, Ticket, TicketComment

SUBJECT_NUMBER = re.compile(r"\[#(\d{1,9})\]")
AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
MAX_SUBJECT = 200


@dataclass
class ParsedEmail:
    """What the import needs from one message, read with the standard library's modern policy."""

    message_id: str
    from_address: str
    from_name: str
    subject: str
    body: str  # the new text (quoted history and signature cut)
    full_body: str  # the whole text, as sent
    references: list[str]
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    automatic: str = ""  # why it is automatic mail (empty: a person wrote it)
    problem: str = ""  # why it can't be read (empty: it can)


@dataclass
class InboundResult:
    status: str  # imported, ignored, held, rejected, duplicate
    reason: str
    record: InboundEmail | None = None

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"


# --------------------------------------------------------------------------- parsing
def parse(raw: bytes) -> ParsedEmail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    message_id = _clean_id(_header(message, "Message-ID")) or f"<sha256-{hashlib.sha256(raw).hexdigest()}@cairn.missing>"
    name, address = parseaddr(_header(message, "From"))
    subject = " ".join(_header(message, "Subject").split())
    references = [_clean_id(i) for i in re.findall(r"<[^<>\s]+>", " ".join(
        (_header(message, "In-Reply-To"), _header(message, "References"))))]
    parsed = ParsedEmail(message_id=message_id, from_address=address.strip().lower(), from_name=name.strip(),
                         subject=subject, body="", full_body="", references=[r for r in references if r])
    parsed.automatic = automatic_reason(message, parsed.from_address)
    if not parsed.from_address or "@" not in parsed.from_address:
        parsed.problem = "The message has no sender address (From) to answer."
        return parsed
    try:
        text = _text_of(message)
        parsed.attachments = _attachments_of(message)
    except Exception as exc:  # a broken MIME structure the parser could not walk
        parsed.problem = f"The message's MIME structure can't be read ({type(exc).__name__}: {exc})."
        return parsed
    if text is None:
        defects = ", ".join(sorted({type(d).__name__ for d in _all_defects(message)})) or "no text part"
        parsed.problem = f"The message has no readable text ({defects})."
        return parsed
    parsed.full_body = text.strip()
    parsed.body = (EmailReplyParser.parse_reply(parsed.full_body) or parsed.full_body).strip()
    return parsed


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy can't parse: treat as absent
        return ""
    return str(value) if value is not None else ""


def _clean_id(value: str) -> str:
    value = (value or "").strip()
    found = re.search(r"<[^<>\s]+>", value)
    return found.group(0)[:512] if found else ""


def _all_defects(message: EmailMessage) -> list:
    found = list(message.defects)
    if message.is_multipart():
        for part in message.walk():
            if part is not message:
                found.extend(part.defects)
    return found


def _text_of(message: EmailMessage) -> str | None:
    """The plain text, else the HTML turned into safe text (nh3 strips every tag and script)."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        if message.is_multipart() or message.get_content_maintype() != "text":
            return None
        body = message
    content = body.get_content()
    if body.get_content_subtype() == "html":
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>", "\n", content)
        content = html.unescape(nh3.clean(content, tags=set()))
    return content.replace("\r\n", "\n")


def _attachments_of(message: EmailMessage) -> list[tuple[str, bytes]]:
    files = []
    for part in message.iter_attachments():
        if part.get_content_maintype() == "multipart":
            continue
        payload = part.get_payload(decode=True) or b""
        files.append((part.get_filename() or "attachment", payload))
    return files


def automatic_reason(message: EmailMessage, from_address: str) -> str:
    """Why this message was sent by a machine (never to be answered), or "" when a person wrote it."""
    auto_submitted = _header(message, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"automatic mail (Auto-Submitted: {auto_submitted})"
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return f"automatic mail (Precedence: {precedence})"
    if _header(message, "X-Auto-Response-Suppress") or _header(message, "X-Autoreply") \
            or _header(message, "X-Autorespond"):
        return "automatic mail (an auto-reply header)"
    if message.get_content_type() == "multipart/report" or \
            any(part.get_content_type() in ("message/delivery-status", "message/disposition-notification")
                for part in message.walk()):
        return "a delivery status report (bounce)"
    local = from_address.partition("@")[0]
    if local in ("mailer-daemon", "postmaster") or _header(message, "Return-Path").strip() == "<>":
        return "a bounce (from the mail system)"
    if outbound.is_own_message(_clean_id(_header(message, "Message-ID")), from_address):
        return "a message Cairn sent itself"
    return ""


# --------------------------------------------------------------------------- importing
def inbound_import(*, organization: Organization, raw: bytes, mailbox: Mailbox | None = None) -> InboundResult:
    """Record one message and make what it asks for: a reply on its ticket, a new ticket, or a held message."""
    parsed = parse(raw)
    existing = _existing(organization.id, parsed.message_id)
    if existing is not None:
        return InboundResult("duplicate", f"already received ({existing.status})", existing)
    record = InboundEmail(organization_id=organization.id, mailbox_id=mailbox.id if mailbox else None,
                          message_id=parsed.message_id, from_address=parsed.from_address[:320],
                          from_name=parsed.from_name[:200], subject=parsed.subject[:998], size=len(raw), status="")
    try:
        _store_original(record, raw)
        result = _decide(organization, mailbox, parsed, record)
        record.status, record.reason = result.status, result.reason[:2000]
        db.session.add(record)
        if mailbox is not None and result.status == "imported":
            mailbox.imported_count = (mailbox.imported_count or 0) + 1
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()  # another fetch recorded the same Message-ID a moment ago
        _remove_original(record)
        existing = _existing(organization.id, parsed.message_id)
        return InboundResult("duplicate", "already received", existing)
    except Exception:
        db.session.rollback()
        _remove_original(record)
        raise
    result.record = record
    return result


def _existing(organization_id: int, message_id: str) -> InboundEmail | None:
    return db.session.scalars(sa.select(InboundEmail).where(InboundEmail.organization_id == organization_id,
                                                            InboundEmail.message_id == message_id)).first()


def _store_original(record: InboundEmail, raw: bytes) -> None:
    path = f"tickets/{record.organization_id}/inbound/{hashlib.sha256(raw).hexdigest()[:24]}-{utcnow():%Y%m%d%H%M%S%f}.eml"
    with storage.atomic_write(path) as handle:
        handle.write(raw)
    record.raw_path = path


def _remove_original(record: InboundEmail) -> None:
    if record.raw_path:
        try:
            storage.delete(record.raw_path)
        except storage.StorageError:
            pass


def _decide(organization: Organization, mailbox: Mailbox | None, parsed: ParsedEmail,
            record: InboundEmail) -> InboundResult:
    if parsed.automatic:
        return InboundResult("ignored", f"Not answered: {parsed.automatic}.")
    if parsed.problem:
        return InboundResult("rejected", parsed.problem)
    sender = _sender(organization.id, parsed.from_address)
    ticket = _thread_ticket(organization.id, parsed, sender)
    if ticket is not None:
        return _add_reply(ticket, sender, parsed, record)
    if sender is None:
        allowed = mailbox.allow_new_customers if mailbox is not None else True
        if not allowed:
            return InboundResult("held", f"{parsed.from_address} is not a customer yet; an agent can accept the "
                                         "message (which creates the customer) or discard it.")
        if _email_elsewhere(parsed.from_address):
            return InboundResult("held", f"{parsed.from_address} has an account in another organization; an agent "
                                         "decides what to do with the message.")
        sender = customer_create_from_email(organization=organization, address=parsed.from_address,
                                            name=parsed.from_name)
    elif sender.role != "customer" or not sender.is_active:
        return InboundResult("held", f"{parsed.from_address} is not an active customer; an agent decides.")
    return _open_ticket(organization, sender, parsed, record)


def _sender(organization_id: int, address: str) -> User | None:
    return db.session.scalars(sa.select(User).where(User.organization_id == organization_id,
                                                    sa.func.lower(User.email) == address)).first()


def _email_elsewhere(address: str) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)
                             .where(sa.func.lower(User.email) == address)) > 0


def _thread_ticket(organization_id: int, parsed: ParsedEmail, sender: User | None) -> Ticket | None:
    """The ticket this message answers: by In-Reply-To/References, then by [#number] in the subject.

    Only a ticket of this organization whose customer is the sender: a forged header
    can't put words on someone else's ticket.
    """
    if sender is None:
        return None
    candidates: list[int] = []
    for reference in reversed(parsed.references):
        ticket_id = outbound.ticket_id_from_message_id(reference)
        if ticket_id is not None:
            candidates.append(ticket_id)
            continue
        earlier = db.session.scalar(sa.select(InboundEmail.ticket_id).where(
            InboundEmail.organization_id == organization_id, InboundEmail.message_id == reference,
            InboundEmail.ticket_id.is_not(None)))
        if earlier:
            candidates.append(earlier)
    for ticket_id in candidates:
        ticket = db.session.get(Ticket, ticket_id)
        if ticket and ticket.organization_id == organization_id and ticket.customer_id == sender.id \
                and ticket.is_active:
            return _surviving(ticket)
    number = SUBJECT_NUMBER.search(parsed.subject)
    if number:
        ticket = db.session.scalars(sa.select(Ticket).where(
            Ticket.organization_id == organization_id, Ticket.ticket_number == int(number.group(1)),
            Ticket.customer_id == sender.id, Ticket.is_active.is_(True))).first()
        if ticket is not None:
            return _surviving(ticket)
    return None


def _surviving(ticket: Ticket) -> Ticket:
    """A reply to a merged ticket goes to the ticket it was merged into."""
    seen = set()
    while ticket.merged_into_id and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = db.session.get(Ticket, ticket.merged_into_id)
    return ticket


def customer_create_from_email(*, organization: Organization, address: str, name: str) -> User:
    """A customer for someone who wrote in: no password yet (they can ask for one, or keep writing)."""
    customer = User(organization_id=organization.id, email=address, full_name=(name or "")[:120], role="customer",
                    availability_status="offline")
    db.session.add(customer)
    db.session.flush()
    return customer


def _files(parsed: ParsedEmail, organization: Organization) -> tuple[list, list[str]]:
    """The attachments that pass the upload checks, and a sentence for each one refused."""
    from app.tickets.services import TicketError, uploads_check

    accepted, refused = [], []
    for name, data in parsed.attachments:
        try:
            accepted += uploads_check(organization=organization,
                                      files=[FileStorage(stream=io.BytesIO(data), filename=name)])
        except TicketError as exc:
            refused.append(str(exc))
    return accepted, refused


def _open_ticket(organization: Organization, customer: User, parsed: ParsedEmail,
                 record: InboundEmail) -> InboundResult:
    from app.tickets.services import _store_uploads

    uploads, refused = _files(parsed, organization)
    subject = SUBJECT_NUMBER.sub("", parsed.subject).strip()[:MAX_SUBJECT] or "(no subject)"
    ticket = Ticket(organization_id=organization.id, customer=customer, subject=subject,
                    description=parsed.full_body or "(no text)")
    ticket._actor_id = customer.id
    db.session.add(ticket)
    db.session.flush()
    written: list[str] = []
    try:
        _store_uploads(ticket, uploads, uploader=customer, comment=None, written=written)
        _note_refused(ticket, refused)
        record.ticket_id = ticket.id
        db.session.flush()
    except Exception:
        for path in written:
            storage.delete(path)
        raise
    return InboundResult("imported", f"Opened ticket #{ticket.ticket_number}." + _refused_text(refused))


def _add_reply(ticket: Ticket, customer: User, parsed: ParsedEmail, record: InboundEmail) -> InboundResult:
    from app.tickets.services import _lock, _store_uploads

    organization = db.session.get(Organization, ticket.organization_id)
    _lock(ticket)
    if not ticket.takes_replies:
        return InboundResult("held", f"Ticket #{ticket.ticket_number} is {ticket.status}; an agent decides whether "
                                     "to open a new ticket from this message.")
    uploads, refused = _files(parsed, organization)
    comment = TicketComment(organization_id=ticket.organization_id, ticket=ticket, author_id=customer.id,
                            comment_type="reply", content=parsed.body or parsed.full_body or "(no text)")
    db.session.add(comment)
    ticket._actor_id = customer.id
    ticket.updated_at = utcnow()
    if ticket.status in ("pending", "resolved"):
        ticket.status = "open"  # the customer answered: the clock runs again
    db.session.flush()
    written: list[str] = []
    try:
        _store_uploads(ticket, uploads, uploader=customer, comment=comment, written=written)
        _note_refused(ticket, refused)
        record.ticket_id, record.comment_id = ticket.id, comment.id
        _notify_agent(ticket, comment)
        db.session.flush()
    except Exception:
        for path in written:
            storage.delete(path)
        raise
    return InboundResult("imported", f"Added a reply to ticket #{ticket.ticket_number}." + _refused_text(refused))


def _notify_agent(ticket: Ticket, comment: TicketComment) -> None:
    from app.tickets.services import _notify_reply

    _notify_reply(ticket, comment, [])


def _note_refused(ticket: Ticket, refused: list[str]) -> None:
    if refused:
        db.session.add(TicketComment(
            organization_id=ticket.organization_id, ticket_id=ticket.id, author_id=None, comment_type="note",
            content="Attachments of the email that were not accepted:\n" + "\n".join(f"- {r}" for r in refused)))


def _refused_text(refused: list[str]) -> str:
    return f" Not accepted: {'; '.join(refused)}" if refused else ""


# --------------------------------------------------------------------------- held messages
def held_messages(organization_id: int) -> sa.Select:
    return (sa.select(InboundEmail).where(InboundEmail.organization_id == organization_id,
                                          InboundEmail.status == "held")
            .order_by(InboundEmail.created_at.desc(), InboundEmail.id.desc()))


def recent_messages(organization_id: int, limit: int = 20) -> list[InboundEmail]:
    return list(db.session.scalars(sa.select(InboundEmail).where(InboundEmail.organization_id == organization_id)
                                   .order_by(InboundEmail.id.desc()).limit(limit)))


def held_accept(*, record: InboundEmail, actor: User) -> InboundResult:
    """An agent accepts a held message: its sender becomes a customer (if needed) and it opens a ticket."""
    if record.status != "held":
        raise ValueError("This message was already handled.")
    organization = db.session.get(Organization, record.organization_id)
    try:
        raw = storage.resolve(record.raw_path).read_bytes()
    except (storage.StorageError, OSError) as exc:
        raise ValueError("The original message is no longer stored.") from exc
    parsed = parse(raw)
    sender = _sender(organization.id, parsed.from_address)
    if sender is None:
        if _email_elsewhere(parsed.from_address):
            raise ValueError(f"{parsed.from_address} has an account in another organization; it can't be a "
                             "customer here too.")
        sender = customer_create_from_email(organization=organization, address=parsed.from_address,
                                            name=parsed.from_name)
    elif sender.role != "customer" or not sender.is_active:
        raise ValueError(f"{parsed.from_address} is not an active customer of this organization.")
    result = _open_ticket(organization, sender, parsed, record)
    record.status, record.reason = "imported", f"Accepted by {actor.display_name}. {result.reason}"
    db.session.commit()
    result.record = record
    return result


def held_discard(*, record: InboundEmail, actor: User) -> None:
    if record.status != "held":
        raise ValueError("This message was already handled.")
    record.status, record.reason = "discarded", f"Discarded by {actor.display_name}."
    db.session.commit()


def organization_for_address(address: str) -> tuple[Organization, Mailbox] | None:
    """The organization whose mailbox has this address (for `flask tickets-inbound ADDRESS`)."""
    mailbox = db.session.scalars(sa.select(Mailbox).where(sa.func.lower(Mailbox.email_address) ==
                                                          (address or "").strip().lower())).first()
    if mailbox is None:
        return None
    return db.session.get(Organization, mailbox.organization_id), mailbox


def first_address(value: str) -> str:
    found = getaddresses([value or ""])
    return found[0][1].lower() if found else ""


def reply_to_address(organization_id: int) -> str:
    """The address customers answer to: the organization's first active mailbox, else the sender's."""
    address = db.session.scalar(sa.select(Mailbox.email_address).where(
        Mailbox.organization_id == organization_id, Mailbox.is_active.is_(True)).order_by(Mailbox.id).limit(1))
    return address or parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]

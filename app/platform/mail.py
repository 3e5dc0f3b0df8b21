"""Outgoing mail through an outbox: written with the change that caused it, sent by a worker.

`notify(user, subject, body, category=...)` honours the recipient's preferences:
`propagation` mail needs `propagation_notifications`, everything else needs
`email_notifications`. Transactional mail the user asked for (an invitation)
uses `category="required"` and is always sent.

Why an outbox: `notify` adds a `mail_outbox` row to the caller's session, so the
message is committed with the ticket reply (or whatever caused it) or not at all.
After the commit a delivery job is enqueued; if Redis is down then, or the
process dies between the commit and the enqueue, the periodic sweep finds the
due row. The worker claims a row with one conditional UPDATE (pending ->
sending), so two deliveries of one row never both send it; an SMTP failure puts
it back to pending with an exponential backoff, and after MAIL_MAX_ATTEMPTS it
is failed for an operator to see (`flask mail-outbox`). A worker killed while
talking to the SMTP server leaves the row "sending"; the sweep retries it after
MAIL_SENDING_STALE_SECONDS, with the same Message-ID, so a receiver that did get
the first copy can tell the second one is the same message.

With no MAIL_SERVER the message is written to the log instead (and counts as
sent), so `make run` works without a mail server.
"""
from __future__ import annotations

import logging
import re
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Optional

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.platform.models import TimestampMixin, UTCDateTime, json_dict_column, json_list_column, utcnow

log = logging.getLogger("cairn.mail")

CATEGORIES = ("required", "email", "propagation")
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
OUTBOX_STATUSES = (PENDING, SENDING, SENT, FAILED)
# Headers a caller may set (the helpdesk's threading and auto-reply headers); the rest are ours.
CALLER_HEADERS = frozenset({"in-reply-to", "references", "reply-to", "auto-submitted", "precedence",
                            "x-auto-response-suppress", "list-id", "list-unsubscribe"})
_PENDING_IDS = "cairn_mail_outbox_ids"


class OutboxMessage(TimestampMixin, db.Model):
    """One outgoing message and its delivery state. Rows are the truth; RQ only carries "send row N"."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="check_mail_outbox_status"),
        sa.Index("idx_mail_outbox_due", "status", "next_attempt_at"),
        sa.Index("idx_mail_outbox_message_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("organizations.id", ondelete="SET NULL"),
                                                           index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="email")
    recipient: Mapped[str] = mapped_column(sa.String(320), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(998), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    html: Mapped[Optional[str]] = mapped_column(sa.Text)
    headers: Mapped[dict] = json_dict_column()
    # Files under STORAGE_DIR, by reference: [{"path", "filename", "content_type", "size", "sha256"}] (`attachment`).
    attachments: Mapped[list] = json_list_column(server_default="[]")
    message_id: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=PENDING)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_error: Mapped[Optional[str]] = mapped_column(sa.Text)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------- writing
def wants_mail(user, category: str) -> bool:
    if category == "required":
        return True
    prefs = getattr(user, "preferences", None)
    if prefs is None:
        return True
    if category == "propagation":
        return bool(prefs.propagation_notifications)
    return bool(prefs.email_notifications)


def notify(user, subject: str, body: str, *, category: str = "email", to_address: str | None = None,
           headers: dict | None = None, message_id: str | None = None, html: str | None = None,
           organization_id: int | None = None, attachments: list[dict] | None = None) -> bool:
    """Put a message to `user` (or to `to_address`, someone without an account) in the outbox.

    The row joins the caller's transaction: it is sent only if the caller
    commits. Returns whether a message was written (False: the user's
    preferences turn this category off). `headers` may carry In-Reply-To,
    References, Reply-To, Auto-Submitted and the like; `message_id` (with its
    angle brackets) keeps a stable Message-ID for threading, else one is made
    here and stored, so a retry sends the same one. `attachments` are
    references to stored files made with `attachment()`.
    """
    if category not in CATEGORIES:
        raise ValueError(f"Unknown mail category {category!r}")
    if user is None and not to_address:
        raise ValueError("notify needs a user or a to_address")
    if user is not None and not wants_mail(user, category):
        log.info("not mailing %s (%s notifications off): %s", user.email, category, subject)
        return False
    unknown = sorted(name for name in (headers or {}) if name.lower() not in CALLER_HEADERS)
    if unknown:
        raise ValueError(f"notify may not set these headers: {', '.join(unknown)}")
    db.session.add(OutboxMessage(
        organization_id=organization_id if organization_id is not None else getattr(user, "organization_id", None),
        user_id=getattr(user, "id", None), category=category, recipient=to_address or user.email,
        subject=subject, body=body, html=html, headers=dict(headers or {}), attachments=list(attachments or []),
        message_id=message_id or new_message_id(), status=PENDING, next_attempt_at=utcnow(),
    ))
    return True


def attachment(relative_path: str, *, filename: str, content_type: str, size: int, sha256: str) -> dict:
    """A file under STORAGE_DIR for `notify(attachments=...)`: stored by reference, checked when sent.

    References, not bytes: the file is already stored (atomically, with its
    size and sha256 recorded), a message often goes to several recipients (a
    row each), and a few megabytes per row would bloat the outbox table.
    """
    return {"path": relative_path, "filename": filename, "content_type": content_type, "size": int(size),
            "sha256": sha256}


ATTACHMENT_GONE_NOTE = ("The attached file ({filename}) is no longer available (it expired or was deleted), "
                        "so this message comes without it.")


def new_message_id() -> str:
    """A Message-ID on the sender's domain, e.g. <...@cairn.example.com>."""
    domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2] or "cairn.localhost"
    return make_msgid(domain=domain)


@sa.event.listens_for(OutboxMessage, "after_insert")
def _remember_inserted(mapper, connection, target: OutboxMessage) -> None:
    session = sa.orm.object_session(target)
    if session is not None:
        session.info.setdefault(_PENDING_IDS, []).append(target.id)


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _enqueue_committed(session) -> None:
    ids = session.info.pop(_PENDING_IDS, None)
    if ids:
        enqueue_deliveries(ids)


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _forget_rolled_back(session) -> None:
    session.info.pop(_PENDING_IDS, None)


def enqueue_deliveries(ids: list[int], delay_seconds: float = 0) -> int:
    """Ask a worker to send these rows. Never raises: a row not enqueued is found by the sweep."""
    from app.platform.jobs import get_queue

    enqueued = 0
    try:
        queue = get_queue("mail")
        for outbox_id in ids:
            if delay_seconds > 0:
                queue.enqueue_in(timedelta(seconds=delay_seconds), "app.platform.mail.outbox_deliver", outbox_id,
                                 result_ttl=600, failure_ttl=7 * 86400)
            else:
                queue.enqueue_call("app.platform.mail.outbox_deliver", args=(outbox_id,), result_ttl=600,
                                   failure_ttl=7 * 86400)
            enqueued += 1
    except Exception:  # Redis down: the rows are committed; the sweep enqueues them when it is back
        log.exception("could not enqueue %d outgoing message(s); the mail sweep will send them", len(ids) - enqueued)
    return enqueued


# --------------------------------------------------------------------------- delivering
def outbox_deliver(outbox_id: int, now: datetime | None = None) -> str | None:
    """The worker's job: claim row `outbox_id`, send it, record the outcome. Returns the new status.

    None when there was nothing to do (another delivery has it, it was sent,
    or its next attempt is not due yet).
    """
    try:
        if not _claim(outbox_id, now or utcnow()):
            return None
        message = db.session.get(OutboxMessage, outbox_id)
        try:
            _send(build_message(message))
        except Exception as exc:
            return _record_failure(message, exc)
        _finish(outbox_id, status=SENT, sent_at=utcnow(), last_error=None)
        return SENT
    finally:
        db.session.remove()


def _claim(outbox_id: int, now: datetime) -> bool:
    """pending (and due) -> sending, in one conditional UPDATE: exactly one delivery wins."""
    claimed = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now)
        .values(status=SENDING, attempts=OutboxMessage.attempts + 1, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    return claimed


def _finish(outbox_id: int, **values) -> None:
    db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.id == outbox_id, OutboxMessage.status == SENDING)
        .values(updated_at=utcnow(), **values).execution_options(synchronize_session=False)
    )
    db.session.commit()


def _record_failure(message: OutboxMessage, exc: Exception) -> str:
    """Back to pending with an exponential backoff, or failed for good (a permanent refusal, or out of tries)."""
    config = current_app.config
    error = f"{type(exc).__name__}: {exc}"[:2000]
    permanent = _is_permanent(exc)
    if permanent or message.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        log.error("mail #%s to %s failed for good after %d attempt(s): %s", message.id, message.recipient,
                  message.attempts, error)
        _finish(message.id, status=FAILED, last_error=error)
        return FAILED
    delay = retry_delay(message.attempts)
    log.warning("mail #%s to %s failed (attempt %d), retrying in %ss: %s", message.id, message.recipient,
                message.attempts, delay, error)
    _finish(message.id, status=PENDING, last_error=error, next_attempt_at=utcnow() + timedelta(seconds=delay))
    enqueue_deliveries([message.id], delay_seconds=delay)
    return PENDING


def retry_delay(attempts: int) -> int:
    """Seconds before the next try after `attempts` failed ones: BASE, 2*BASE, 4*BASE..., at most an hour."""
    base = current_app.config["MAIL_RETRY_BASE_SECONDS"]
    return int(min(3600, base * 2 ** max(0, attempts - 1)))


def _is_permanent(exc: Exception) -> bool:
    """An SMTP 5xx answer (no such mailbox, refused) will not change on a retry; anything else may."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600 and not isinstance(exc, smtplib.SMTPAuthenticationError)
    return False


def build_message(row: OutboxMessage) -> EmailMessage:
    files, missing = _read_attachments(row.attachments or [])
    body = row.body
    for reference in missing:
        body += "\n\n" + ATTACHMENT_GONE_NOTE.format(filename=reference["filename"])
    message = _plain_message(row.recipient, row.subject, body)
    message["Message-ID"] = row.message_id
    for name, value in (row.headers or {}).items():
        message[name] = value
    if row.html:
        message.add_alternative(row.html, subtype="html")
    for reference, data in files:
        maintype, _, subtype = reference["content_type"].split(";")[0].strip().partition("/")
        # Attached files are Cairn's own (exports), text ones in UTF-8; a text part that names no charset is
        # US-ASCII (RFC 2046), so a reader would decode a CSV's accents and byte-order mark as garbage.
        params = {"charset": "utf-8"} if maintype == "text" else None
        message.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                               filename=reference["filename"], params=params)
    return message


def _read_attachments(references: list[dict]) -> tuple[list[tuple[dict, bytes]], list[dict]]:
    """(the files that are still what was recorded, with their bytes; the references that are not)."""
    import hashlib

    from app.platform import storage

    files, missing = [], []
    for reference in references:
        try:
            data = storage.resolve(reference["path"]).read_bytes()
        except (OSError, storage.StorageError):
            data = None
        if data is None or len(data) != reference["size"] or hashlib.sha256(data).hexdigest() != reference["sha256"]:
            log.warning("mail attachment %s is gone or changed; sending without it", reference["path"])
            missing.append(reference)
        else:
            files.append((reference, data))
    return files, missing


# What str.splitlines() breaks on. The email package refuses a header holding any of them (ValueError), so one
# in a subject (a ticket's subject with a pasted U+2028, a schedule's name) failed every delivery of the message
# for good. A subject is one line: each run becomes a space.
_LINE_BREAKS = re.compile("[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text)


def _plain_message(to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = one_line(subject)
    message.set_content(body)
    return message


def deliver(to: str, subject: str, body: str) -> None:
    """Send one message now, bypassing the outbox (raises on failure)."""
    _send(_plain_message(to, subject, body))


def _send(message: EmailMessage) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        log.warning("MAIL_SERVER not set; mail to %s not sent:\nSubject: %s\n\n%s", message["To"],
                    message["Subject"], message.get_body(("plain",)).get_content())
        return
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=15) as smtp:
        if config.get("MAIL_USE_TLS"):
            # smtplib's default context checks neither the certificate nor the host
            # name: the password and the mail would go to anyone in the middle.
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


# --------------------------------------------------------------------------- sweeping and operating
def outbox_sweep(now: datetime | None = None) -> dict[str, int]:
    """Periodic: retry rows whose worker died mid-send, and enqueue every due pending row.

    This is what delivers a message whose enqueue was lost (a crash right after
    the commit, Redis down then) and a retry whose delayed job was lost.
    """
    now = now or utcnow()
    config = current_app.config
    stale = now - timedelta(seconds=config["MAIL_SENDING_STALE_SECONDS"])
    stuck = (OutboxMessage.status == SENDING, OutboxMessage.claimed_at < stale)
    interrupted = "The worker sending this message stopped before it finished."
    out_of_tries = db.session.execute(
        sa.update(OutboxMessage).where(*stuck, OutboxMessage.attempts >= config["MAIL_MAX_ATTEMPTS"])
        .values(status=FAILED, last_error=interrupted, updated_at=now).execution_options(synchronize_session=False)
    ).rowcount
    requeued = db.session.execute(
        sa.update(OutboxMessage).where(*stuck)
        .values(status=PENDING, next_attempt_at=now, last_error=interrupted, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    due = list(db.session.scalars(
        sa.select(OutboxMessage.id).where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(500)
    ))
    db.session.rollback()
    return {"requeued": requeued, "failed": out_of_tries, "enqueued": enqueue_deliveries(due)}


def outbox_retry(ids: list[int] | None = None) -> int:
    """An operator's retry: failed rows (all, or these) go back to pending with fresh attempts."""
    conditions = [OutboxMessage.status == FAILED]
    if ids is not None:
        conditions.append(OutboxMessage.id.in_(ids))
    retried = list(db.session.scalars(sa.select(OutboxMessage.id).where(*conditions)))
    if retried:
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.id.in_(retried), OutboxMessage.status == FAILED)
            .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    enqueue_deliveries(retried)
    return len(retried)


def outbox_counts() -> dict[str, int]:
    rows = db.session.execute(sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status))
    counts = dict.fromkeys(OUTBOX_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


from app.platform.jobs import register_periodic  # noqa: E402  (jobs imports no feature; mail is platform)

register_periodic("mail-outbox", 60, "app.platform.mail.outbox_sweep")

"""Support mailboxes: their settings (the password sealed at rest) and the IMAP fetch the worker runs.

The fetch reads unseen messages without marking them (BODY.PEEK), imports each in its own
transaction, and only then flags it \\Seen on the server. A crash between the fetch and
the commit leaves the message unseen: the next fetch imports it. A crash after the commit
and before the flag leaves it unseen too, and the next fetch finds its Message-ID already
recorded and only flags it. A login or connection failure is kept on the mailbox row
(`last_error`), which its settings page shows.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import socket
import ssl

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import Organization, User
from app.extensions import db
from app.platform.models import utcnow
from app.tickets.models import MAILBOX_SECURITY, Mailbox

log = logging.getLogger("cairn.tickets.mail")
FETCH_BATCH = 50
IMAP_TIMEOUT = 30


class MailboxError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------- the password at rest
def _fernet():
    """Fernet keyed from SECRET_KEY (its own derivation), as the projects' git push tokens are."""
    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"cairn-tickets-mailbox-password:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_password(password: str) -> str:
    return _fernet().encrypt(password.encode()).decode() if password else ""


def open_password(sealed: str) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(sealed.encode()).decode() if sealed else ""
    except InvalidToken:
        raise MailboxError("The saved password can't be read any more (the server's secret key changed); "
                           "enter it again.") from None


# --------------------------------------------------------------------------- settings
def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def mailbox_save(*, organization: Organization, actor: User, mailbox: Mailbox | None = None, data: dict) -> Mailbox:
    """Create or update a mailbox. An empty password keeps the saved one."""
    if actor.role not in ("admin", "manager"):
        raise MailboxError("Only managers connect mailboxes.")
    address = (data.get("email_address") or "").strip().lower()
    if "@" not in address:
        raise MailboxError("Enter the mailbox's email address.", "email_address")
    host = (data.get("imap_host") or "").strip()
    if not host:
        raise MailboxError("Enter the IMAP server's host name.", "imap_host")
    security = data.get("security") or "ssl"
    if security not in MAILBOX_SECURITY:
        raise MailboxError("Choose how to connect.", "security")
    if security == "none" and not _is_loopback(host):
        raise MailboxError("Without TLS the password would cross the network in clear: use TLS (port 993) or "
                           "STARTTLS. Plain IMAP is only for a server on this machine.", "security")
    mailbox = mailbox or Mailbox(organization_id=organization.id)
    mailbox.name = (data.get("name") or "").strip()[:120] or address
    mailbox.email_address, mailbox.imap_host = address, host
    mailbox.imap_port = int(data.get("imap_port") or (993 if security == "ssl" else 143))
    mailbox.security = security
    mailbox.username = (data.get("username") or "").strip() or address
    mailbox.folder = (data.get("folder") or "").strip() or "INBOX"
    mailbox.allow_new_customers = bool(data.get("allow_new_customers"))
    mailbox.is_active = bool(data.get("is_active", True))
    if data.get("password"):
        mailbox.password_sealed = seal_password(data["password"])
        mailbox.last_error = ""  # a new password deserves a fresh try
    if not mailbox.password_sealed:
        raise MailboxError("Enter the mailbox's password.", "password")
    db.session.add(mailbox)
    try:
        db.session.commit()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise MailboxError("This organization already has a mailbox with this address.", "email_address") from exc
    return mailbox


def mailbox_delete(*, mailbox: Mailbox) -> None:
    db.session.delete(mailbox)
    db.session.commit()


# --------------------------------------------------------------------------- fetching
def _connect(mailbox: Mailbox):
    from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

    if mailbox.security == "ssl":
        client = MailBox(mailbox.imap_host, mailbox.imap_port, timeout=IMAP_TIMEOUT,
                         ssl_context=ssl.create_default_context())
    elif mailbox.security == "starttls":
        client = MailBoxStartTls(mailbox.imap_host, mailbox.imap_port, timeout=IMAP_TIMEOUT,
                                 ssl_context=ssl.create_default_context())
    else:
        client = MailBoxUnencrypted(mailbox.imap_host, mailbox.imap_port, timeout=IMAP_TIMEOUT)
    return client.login(mailbox.username, open_password(mailbox.password_sealed), initial_folder=mailbox.folder)


def mailbox_fetch(mailbox_id: int) -> dict:
    """Fetch one mailbox's unseen messages and import them; the outcome is kept on the mailbox row."""
    from imap_tools import AND

    from app.tickets.inbound import inbound_import

    mailbox = db.session.get(Mailbox, mailbox_id)
    if mailbox is None or not mailbox.is_active:
        return {"skipped": True}
    organization = db.session.get(Organization, mailbox.organization_id)
    counts = {"imported": 0, "ignored": 0, "held": 0, "rejected": 0, "duplicate": 0}
    try:
        with _connect(mailbox) as client:
            uids = list(client.uids(AND(seen=False)))[:FETCH_BATCH * 20]
            for start in range(0, len(uids), FETCH_BATCH):
                chunk = uids[start:start + FETCH_BATCH]
                for message in client.fetch(AND(uid=chunk), mark_seen=False, bulk=True):
                    result = inbound_import(organization=organization, raw=message.obj.as_bytes(), mailbox=mailbox)
                    counts[result.status] += 1
                    _flag_seen(client, message.uid)
    except Exception as exc:  # login refused, server gone, TLS failure: shown on the mailbox's page
        db.session.rollback()
        _record_outcome(mailbox_id, error=_readable(exc))
        log.warning("fetching mailbox %s failed: %s", mailbox_id, exc)
        return {**counts, "error": _readable(exc)}
    _record_outcome(mailbox_id, error="")
    return counts


def _flag_seen(client, uid: str) -> None:
    """Mark one imported message read on the server (after its commit: see the module's docstring)."""
    from imap_tools import MailMessageFlags

    client.flag(uid, MailMessageFlags.SEEN, True)


def _readable(exc: Exception) -> str:
    from imap_tools.errors import MailboxLoginError

    if isinstance(exc, MailboxLoginError):
        return "The server refused the user name or password (login failed)."
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "The server did not answer in time."
    if isinstance(exc, ssl.SSLError):
        return f"The TLS connection failed: {exc}"
    if isinstance(exc, OSError):
        return f"Could not connect to the server: {exc}"
    return f"{type(exc).__name__}: {exc}"[:500]


def _record_outcome(mailbox_id: int, *, error: str) -> None:
    now = utcnow()
    values = {"last_fetch_at": now, "last_error": error}
    if error:
        values["last_error_at"] = now
    db.session.execute(sa.update(Mailbox).where(Mailbox.id == mailbox_id).values(**values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def fetch_all_mailboxes() -> int:
    """Periodic: enqueue a fetch of every active mailbox (each its own job, so one slow server delays no other)."""
    from app.platform.jobs import get_queue

    ids = list(db.session.scalars(sa.select(Mailbox.id).where(Mailbox.is_active.is_(True))
                                  .join(Organization, Organization.id == Mailbox.organization_id)
                                  .where(Organization.is_active.is_(True))))
    db.session.commit()
    for mailbox_id in ids:
        get_queue("default").enqueue_call("app.tickets.jobs.fetch_mailbox", args=(mailbox_id,), result_ttl=600,
                                          job_id=f"tickets-mailbox-{mailbox_id}-{int(utcnow().timestamp() // 60)}")
    return len(ids)

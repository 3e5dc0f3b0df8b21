"""The helpdesk's email channel against a real IMAP server (Dovecot) and a real SMTP server (aiosmtpd).

A customer's email opens a ticket, the agent's reply arrives by SMTP threaded, the customer's
answer lands on the same ticket; automatic mail and bounces are ignored; a crash between the
fetch and the commit imports nothing twice; a wrong password shows on the mailbox's page;
a 10 MB attachment and a malformed message give a clear result.
"""
from __future__ import annotations

import email
import email.policy
import subprocess
import sys

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.platform import mail, storage
from app.tickets import inbound, mailboxes
from app.tickets.models import InboundEmail, Mailbox, Ticket, TicketAttachment, TicketComment
from tests.conftest import ROOT, require, worker_env
from tests.helpers import reload
from tests.platform.test_mail import Inbox, _start_smtp
from tests.tickets.conftest import PDF, text
from tests.tickets.imap_server import Dovecot, available

SUPPORT, PASSWORD = "support@example.test", "s3cret-imap"


@pytest.fixture(scope="module")
def imap():
    require(available() is None, available() or "")
    server = Dovecot({SUPPORT: PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture()
def smtp(app, monkeypatch):
    """aiosmtpd on 127.0.0.1; outgoing mail is sent from here (outbox_deliver), not by a worker."""
    inbox = Inbox()
    controller = _start_smtp(inbox)
    for key, value in {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": controller.port, "MAIL_USE_TLS": False,
                       "MAIL_USERNAME": ""}.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setattr(mail, "enqueue_deliveries", lambda ids, delay_seconds=0: len(ids))
    yield inbox
    controller.stop()


def _send_outbox(inbox: Inbox, expected: int) -> list:
    ids = db.session.scalars(sa.select(mail.OutboxMessage.id).where(mail.OutboxMessage.status == mail.PENDING)
                             .order_by(mail.OutboxMessage.id)).all()
    for outbox_id in ids:
        assert mail.outbox_deliver(outbox_id) == mail.SENT
    return inbox.wait_for(expected)


def _connect(people, login, imap, **changes) -> Mailbox:
    data = {"name": "Support", "email_address": SUPPORT, "imap_host": imap.host, "imap_port": str(imap.port),
            "security": "none", "username": SUPPORT, "password": PASSWORD, "folder": "INBOX",
            "allow_new_customers": "y", "is_active": "y", **changes}
    data = {k: v for k, v in data.items() if v is not None}
    saved = login(people["manager"]).form_post("/tickets/mailboxes", data, page="/tickets/mailboxes")
    assert saved.status_code == 302, text(saved)
    return db.session.scalars(sa.select(Mailbox)).one()


def _email(*, sender="Zoe Client <zoe@client.example>", subject="Printer jammed", body="The printer jams on page 2.",
           message_id="<m1@client.example>", extra: str = "") -> bytes:
    headers = f"From: {sender}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n" \
              f"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n{extra}"
    return (headers + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


def _fetch(mailbox: Mailbox) -> dict:
    result = mailboxes.mailbox_fetch(mailbox.id)
    db.session.expire_all()
    return result


def test_a_whole_conversation_by_email(people, login, imap, smtp):
    mailbox = _connect(people, login, imap)
    assert PASSWORD not in mailbox.password_sealed and mailboxes.open_password(mailbox.password_sealed) == PASSWORD

    imap.append(SUPPORT, PASSWORD, _email())
    assert _fetch(mailbox)["imported"] == 1
    ticket = db.session.scalars(sa.select(Ticket)).one()
    zoe = db.session.scalars(sa.select(User).where(User.email == "zoe@client.example")).one()
    assert (ticket.customer_id, ticket.subject, zoe.role, zoe.full_name) == (zoe.id, "Printer jammed", "customer",
                                                                            "Zoe Client")
    assert "jams on page 2" in ticket.description and imap.unseen(SUPPORT, PASSWORD) == 0
    # Sending mail below ends the session (outbox_deliver): keep the ids.
    ticket_id, number, mailbox_id = ticket.id, ticket.ticket_number, mailbox.id

    agent = login(people["agent"])
    agent.form_post(f"/tickets/{ticket_id}/comments", {"content": "Please open tray 2 and remove the paper."},
                    page=f"/tickets/{ticket_id}")
    [sent] = _send_outbox(smtp, 1)
    mailbox = db.session.get(Mailbox, mailbox_id)
    assert sent["To"] == "zoe@client.example" and f"[#{number}]" in sent["Subject"]
    assert sent["In-Reply-To"] == "<m1@client.example>" and "<m1@client.example>" in sent["References"]
    assert sent["Reply-To"] == SUPPORT and sent["Message-ID"].startswith(f"<cairn.t{ticket_id}.")
    assert sent["Auto-Submitted"] is None  # a person's reply, not automatic mail
    assert "remove the paper" in sent.get_content()

    answer = _email(subject=f"Re: {sent['Subject']}", message_id="<m2@client.example>",
                    extra=f"In-Reply-To: {sent['Message-ID']}\r\nReferences: <m1@client.example> {sent['Message-ID']}\r\n",
                    body="It works now, thanks!\n\nOn Sat, Dec 5, 2026 at 10:05 AM Support <support@example.test> wrote:\n"
                         "> Please open tray 2 and remove the paper.\n")
    imap.append(SUPPORT, PASSWORD, answer)
    assert _fetch(mailbox)["imported"] == 1
    replies = db.session.scalars(sa.select(TicketComment).where(TicketComment.ticket_id == ticket_id)
                                 .order_by(TicketComment.id)).all()
    assert [c.content for c in replies][-1] == "It works now, thanks!"  # the quoted history is cut
    record = db.session.scalars(sa.select(InboundEmail).where(InboundEmail.message_id == "<m2@client.example>")).one()
    assert b"> Please open tray 2" in storage.resolve(record.raw_path).read_bytes()  # the original is kept

    # No In-Reply-To: the ticket number in the subject finds the ticket (only the ticket's own customer's).
    imap.append(SUPPORT, PASSWORD, _email(subject=f"[#{number}] one more thing",
                                          message_id="<m3@client.example>", body="Also the toner."))
    imap.append(SUPPORT, PASSWORD, _email(sender="mallory@evil.example", subject=f"[#{number}] hi",
                                          message_id="<m4@evil.example>", body="Injected"))
    _fetch(mailbox)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TicketComment)
                             .where(TicketComment.ticket_id == ticket_id, TicketComment.content == "Also the toner."))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 2  # Mallory got a ticket of her own
    staff_page = text(agent.get(f"/tickets/{ticket_id}"))
    assert "It works now, thanks!" in staff_page and "Injected" not in staff_page


def test_automatic_mail_bounces_and_our_own_messages_are_never_answered(people, login, imap, smtp, app):
    mailbox = _connect(people, login, imap)
    messages = {
        "<a1@x>": _email(message_id="<a1@x>", subject="Out of office", extra="Auto-Submitted: auto-replied\r\n"),
        "<a2@x>": _email(message_id="<a2@x>", subject="Newsletter", extra="Precedence: bulk\r\n"),
        "<a3@x>": _email(message_id="<a3@x>", subject="Away", extra="X-Auto-Response-Suppress: All\r\n"),
        "<a4@x>": (f"From: MAILER-DAEMON@mx.example\r\nTo: {SUPPORT}\r\nSubject: Undelivered Mail\r\n"
                   "Message-ID: <a4@x>\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
                   "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
                   "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
                   "Final-Recipient: rfc822; zoe@client.example\r\nAction: failed\r\nStatus: 5.1.1\r\n--B--\r\n").encode(),
        "<cairn.t1.c1.abcdef@cairn.localhost>": _email(message_id="<cairn.t1.c1.abcdef@cairn.localhost>",
                                                       sender=app.config["MAIL_DEFAULT_SENDER"]),
    }
    for raw in messages.values():
        imap.append(SUPPORT, PASSWORD, raw)
    assert _fetch(mailbox)["ignored"] == len(messages)
    rows = {r.message_id: r for r in db.session.scalars(sa.select(InboundEmail))}
    assert set(rows) == set(messages) and {r.status for r in rows.values()} == {"ignored"}
    assert "Auto-Submitted" in rows["<a1@x>"].reason and "bounce" in rows["<a4@x>"].reason
    assert "Cairn sent itself" in rows["<cairn.t1.c1.abcdef@cairn.localhost>"].reason
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(mail.OutboxMessage)) == 0  # nobody answered


def test_a_crash_between_fetch_and_commit_imports_nothing_twice(people, login, imap, smtp, monkeypatch):
    mailbox = _connect(people, login, imap)
    for number in (1, 2, 3):
        imap.append(SUPPORT, PASSWORD, _email(message_id=f"<c{number}@client.example>", subject=f"Problem {number}"))
    real_open = inbound._open_ticket
    calls = []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemError("worker killed mid-import")
        return real_open(*args, **kwargs)

    monkeypatch.setattr(inbound, "_open_ticket", crash_on_second)
    result = _fetch(mailbox)
    assert result["imported"] == 1 and "worker killed" in result["error"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1
    assert imap.unseen(SUPPORT, PASSWORD) == 2  # the crashed one (and the one after it) wait on the server

    # The next crash comes after the commit and before the message is flagged read on the server.
    monkeypatch.setattr(inbound, "_open_ticket", real_open)
    monkeypatch.setattr(mailboxes, "_flag_seen", lambda client, uid: (_ for _ in ()).throw(OSError("connection lost")))
    _fetch(mailbox)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 2
    assert imap.unseen(SUPPORT, PASSWORD) == 2

    monkeypatch.undo()
    monkeypatch.setattr(mail, "enqueue_deliveries", lambda ids, delay_seconds=0: len(ids))
    result = _fetch(mailbox)
    assert imap.unseen(SUPPORT, PASSWORD) == 0 and "error" not in result
    subjects = sorted(db.session.scalars(sa.select(Ticket.subject)))
    assert subjects == ["Problem 1", "Problem 2", "Problem 3"]  # each once
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundEmail)) == 3


def test_a_wrong_password_shows_on_the_mailbox_settings_page(people, login, imap):
    mailbox = _connect(people, login, imap, password="not-the-password")
    result = _fetch(mailbox)
    assert "login failed" in result["error"]
    page = text(login(people["manager"]).get("/tickets/mailboxes"))
    assert "Last fetch failed" in page and "refused the user name or password" in page
    assert "not-the-password" not in page and PASSWORD not in page
    # Plain IMAP to another machine is refused: the password would cross the network in clear.
    refused = login(people["manager"]).form_post("/tickets/mailboxes", {
        "email_address": "other@example.test", "imap_host": "imap.example.com", "imap_port": "143",
        "security": "none", "password": "x"}, page="/tickets/mailboxes")
    assert refused.status_code == 422 and "in clear" in text(refused)


def test_a_10_mb_attachment_and_a_malformed_message_give_a_clear_result(people, app):
    organization = people["org"]
    big = PDF + b"0" * (10 * 1024 * 1024 + 1)
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    message["From"], message["To"], message["Subject"] = "zoe@client.example", SUPPORT, "Scan attached"
    message["Message-ID"] = "<big@client.example>"
    message.set_content("Here is the scan.")
    message.add_attachment(big, maintype="application", subtype="pdf", filename="scan.pdf")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="small.pdf")
    result = inbound.inbound_import(organization=organization, raw=message.as_bytes())
    assert result.status == "imported" and "scan.pdf is larger than the 10 MB limit" in result.reason
    ticket = db.session.scalars(sa.select(Ticket)).one()
    assert [a.original_name for a in db.session.scalars(sa.select(TicketAttachment))] == ["small.pdf"]
    note = db.session.scalars(sa.select(TicketComment).where(TicketComment.ticket_id == ticket.id)).one()
    assert note.is_internal and "scan.pdf is larger than the 10 MB limit" in note.content

    broken = (b"From: zoe@client.example\r\nSubject: broken\r\nMessage-ID: <broken@client.example>\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n--nothing here\r\n\xff\xfe garbage\r\n")
    rejected = inbound.inbound_import(organization=organization, raw=broken)
    assert rejected.status == "rejected" and "no readable text" in rejected.reason
    anonymous = inbound.inbound_import(organization=organization, raw=b"Subject: who?\r\n\r\nhello\r\n")
    assert anonymous.status == "rejected" and "no sender address" in anonymous.reason
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 1


def test_new_senders_wait_for_an_agent_when_the_mailbox_says_so(people, login, imap, smtp):
    mailbox = _connect(people, login, imap, allow_new_customers=None)
    assert not mailbox.allow_new_customers
    imap.append(SUPPORT, PASSWORD, _email(sender="New Person <new@client.example>", message_id="<h1@client.example>"))
    imap.append(SUPPORT, PASSWORD, _email(sender=people["customer"].email, message_id="<h2@client.example>",
                                          subject="From a known customer"))
    _fetch(mailbox)
    assert [t.subject for t in db.session.scalars(sa.select(Ticket))] == ["From a known customer"]
    held = db.session.scalars(sa.select(InboundEmail).where(InboundEmail.status == "held")).one()
    agent = login(people["agent"])
    assert "new@client.example" in text(agent.get("/tickets/inbound"))
    accepted = agent.form_post(f"/tickets/inbound/{held.id}/accept", page="/tickets/inbound")
    assert accepted.status_code == 302
    ticket = db.session.scalars(sa.select(Ticket).where(Ticket.subject == "Printer jammed")).one()
    assert ticket.customer.email == "new@client.example" and reload(InboundEmail, held.id).status == "imported"


def test_automatic_notifications_say_so_and_thread_on_the_ticket(people, login, make_ticket, smtp):
    ticket = make_ticket(people["customer"])
    ticket_id, number = ticket.id, ticket.ticket_number
    login(people["manager"]).form_post(f"/tickets/{ticket_id}/assignee", {"assignee": str(people["agent"].id)},
                                       page=f"/tickets/{ticket_id}")
    [assigned] = _send_outbox(smtp, 1)
    assert assigned["Auto-Submitted"] == "auto-generated" and f"[#{number}]" in assigned["Subject"]
    assert assigned["References"] == f"<cairn.t{ticket_id}.root.0@cairn.localhost>"


def test_flask_tickets_inbound_reads_a_message_from_standard_input(people, login, imap, app, backend):
    _connect(people, login, imap)
    db.session.commit()
    env = worker_env(backend)
    run = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi.py", "tickets-inbound", SUPPORT],
                         input=_email(message_id="<pipe@client.example>", subject="Piped in"), cwd=ROOT, env=env,
                         capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode()
    assert b"imported: Opened ticket #1." in run.stdout
    again = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi.py", "tickets-inbound", SUPPORT],
                           input=_email(message_id="<pipe@client.example>", subject="Piped in"), cwd=ROOT, env=env,
                           capture_output=True, timeout=60)
    assert again.returncode == 0 and b"duplicate" in again.stdout
    nobody = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi.py", "tickets-inbound", "x@nowhere.test"],
                            input=b"", cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert nobody.returncode == 67
    db.session.expire_all()
    assert [t.subject for t in db.session.scalars(sa.select(Ticket))] == ["Piped in"]


def test_the_worker_fetches_every_active_mailbox(people, login, imap, run_jobs):
    mailbox = _connect(people, login, imap)
    imap.append(SUPPORT, PASSWORD, _email(message_id="<worker@client.example>", subject="Fetched by the worker"))
    assert mailboxes.fetch_all_mailboxes() == 1  # the periodic task: one job per active mailbox
    run_jobs()
    db.session.expire_all()
    assert [t.subject for t in db.session.scalars(sa.select(Ticket))] == ["Fetched by the worker"]
    assert reload(Mailbox, mailbox.id).last_fetch_at is not None and imap.unseen(SUPPORT, PASSWORD) == 0

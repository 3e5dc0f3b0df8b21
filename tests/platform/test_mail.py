"""platform.mail against a real SMTP server (aiosmtpd on 127.0.0.1), sent by the real job runner.

Embedded backend: jobs run in this process with the app's config. Redis
backend: a real `flask worker` process sends the mail; it reads MAIL_* from
its environment when it starts, so this module runs the worker with its
SMTP server's address (see `mail_worker`).
"""
from __future__ import annotations

import email
import email.policy
import logging
import socket
import ssl
import subprocess
import threading
import time
import types

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.platform import mail
from tests.conftest import require
from tests.helpers import stop_process_group

HOST = "127.0.0.1"


# --------------------------------------------------------------------------- SMTP server
class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self._changed = threading.Condition()
        self.refuse_next = 0  # answer this many messages with a temporary failure (451) first
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):
        with self._changed:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 Mail server busy, try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.received.append((list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self._changed:
            self.received.clear()
            self.refuse_next = self.refused = 0

    def wait_for(self, count: int, timeout: float = 20.0) -> list[email.message.EmailMessage]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.received) >= count, timeout)
            return [message for _, message in self.received]

    @property
    def subjects(self) -> list[str]:
        with self._changed:
            return [message["Subject"] for _, message in self.received]


def _body(message) -> str:
    """The text body as the sender wrote it (SMTP carries CRLF line ends)."""
    return message.get_content().replace("\r\n", "\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _start_smtp(handler, **kwargs):
    try:
        from aiosmtpd.controller import Controller
    except ImportError:  # pragma: no cover - it is in requirements-dev.txt
        Controller = None
    require(Controller is not None, "aiosmtpd is not installed")
    last_error: Exception | None = None
    for _attempt in range(5):  # another process may take the free port before we bind it
        controller = Controller(handler, hostname=HOST, port=_free_port(), **kwargs)
        try:
            controller.start()
            return controller
        except Exception as exc:  # pragma: no cover - port race
            last_error = exc
    raise RuntimeError(f"could not start the SMTP server: {last_error}")


@pytest.fixture(scope="module")
def smtp_server():
    inbox = Inbox()
    controller = _start_smtp(inbox)
    yield types.SimpleNamespace(host=HOST, port=controller.port, inbox=inbox)
    controller.stop()


@pytest.fixture()
def inbox(smtp_server) -> Inbox:
    smtp_server.inbox.clear()
    return smtp_server.inbox


# Retries at once (no backoff wait) and three tries in all, here and in the worker process.
WORKER_MAIL_SETTINGS = {"MAIL_RETRY_BASE_SECONDS": "0", "MAIL_MAX_ATTEMPTS": "3"}


@pytest.fixture()
def mail_config(app, smtp_server, monkeypatch):
    """Point the app (and so the embedded job runner) at the test SMTP server."""
    for key, value in {"MAIL_SERVER": smtp_server.host, "MAIL_PORT": smtp_server.port, "MAIL_USE_TLS": False,
                       "MAIL_USERNAME": "", "MAIL_PASSWORD": "",
                       **{k: int(v) for k, v in WORKER_MAIL_SETTINGS.items()}}.items():
        monkeypatch.setitem(app.config, key, value)
    return app.config


# --------------------------------------------------------------------------- worker


def _wait_until_idle(app, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Wait until a new worker has drained the queues before tests use the database."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    connection = app.extensions["cairn_redis"]
    deadline = time.time() + timeout
    idle_checks = 0
    while idle_checks < 3 and time.time() < deadline:
        assert proc.poll() is None, "the mail worker process died"
        busy = sum(Queue(name, connection=connection).count + StartedJobRegistry(name, connection=connection).count
                   for name in app.config["RQ_QUEUES"])
        idle_checks = idle_checks + 1 if busy == 0 else 0
        time.sleep(0.1)


@pytest.fixture(scope="module")
def mail_worker(app, backend, smtp_server):
    """Redis backend: run the shared worker process with MAIL_* pointing at this module's SMTP server.

    The worker reads its config from the environment when it starts, and any
    worker on the Redis database may take the mail job, so the shared one is
    replaced for this module, and put back (a plain one, idle) afterwards.
    """
    if not backend["redis"]:
        yield None
        return
    from tests import conftest

    previous = conftest._WORKERS.pop("main", None)
    had_worker = previous is not None and previous.poll() is None
    stop_process_group(previous)
    proc = conftest.start_worker(backend, MAIL_SERVER=smtp_server.host, MAIL_PORT=str(smtp_server.port),
                                 MAIL_USE_TLS="false", MAIL_USERNAME="", **WORKER_MAIL_SETTINGS)
    conftest._WORKERS["main"] = proc
    _wait_until_idle(app, proc)
    yield proc
    if conftest._WORKERS.get("main") is proc:
        del conftest._WORKERS["main"]
    stop_process_group(proc)
    if had_worker and "main" not in conftest._WORKERS:
        # Start-up periodic jobs of a new worker would otherwise run during the next test.
        replacement = conftest.start_worker(backend)
        conftest._WORKERS["main"] = replacement
        _wait_until_idle(app, replacement)


@pytest.fixture()
def run_mail_jobs(mail_worker, mail_config, run_jobs):
    return run_jobs


def _mail_queue_length(app) -> int:
    from rq import Queue

    return Queue("mail", connection=app.extensions["cairn_redis"]).count


# --------------------------------------------------------------------------- deliver
def test_deliver_sends_the_message(app_ctx, mail_config, inbox):
    body = "Hello Ada,\n\nyour export is ready: caf\u00e9 \u2713\n"
    mail.deliver("ada@example.com", "Gr\u00fc\u00dfe \u2014 your export is ready", body)

    messages = inbox.wait_for(1)
    assert len(messages) == 1
    recipients, message = inbox.received[0]
    assert recipients == ["ada@example.com"]
    assert message["To"] == "ada@example.com"
    assert message["From"] == app_ctx.config["MAIL_DEFAULT_SENDER"]
    assert message["Subject"] == "Gr\u00fc\u00dfe \u2014 your export is ready"
    assert _body(message) == body


def test_deliver_without_mail_server_logs_instead(app_ctx, monkeypatch, caplog, inbox):
    monkeypatch.setitem(app_ctx.config, "MAIL_SERVER", "")

    def no_smtp(*args, **kwargs):
        raise AssertionError("no SMTP connection may be opened without MAIL_SERVER")

    monkeypatch.setattr(mail.smtplib, "SMTP", no_smtp)
    with caplog.at_level(logging.WARNING, logger="cairn.mail"):
        assert mail.deliver("ada@example.com", "Your report", "It is ready.") is None

    logged = [r for r in caplog.records if r.name == "cairn.mail"]
    assert logged, "the message should be written to the log"
    text = logged[-1].getMessage()
    assert "ada@example.com" in text and "Your report" in text and "It is ready." in text
    assert inbox.received == []


def test_deliver_raises_when_the_server_is_unreachable(app_ctx, mail_config, monkeypatch):
    """A failure must reach RQ (so the job is recorded failed), not vanish."""
    monkeypatch.setitem(app_ctx.config, "MAIL_PORT", _free_port())
    with pytest.raises(OSError):
        mail.deliver("ada@example.com", "Your report", "It is ready.")


# --------------------------------------------------------------------------- STARTTLS
@pytest.fixture()
def tls_server(tmp_path):
    import shutil

    require(shutil.which("openssl") is not None, "openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    tls_inbox = Inbox()
    controller = _start_smtp(tls_inbox, tls_context=context, require_starttls=True)
    yield types.SimpleNamespace(port=controller.port, inbox=tls_inbox, cert=cert)
    controller.stop()


def test_starttls_refuses_an_untrusted_certificate(app_ctx, mail_config, monkeypatch, tls_server):
    monkeypatch.setitem(app_ctx.config, "MAIL_PORT", tls_server.port)
    monkeypatch.setitem(app_ctx.config, "MAIL_USE_TLS", True)
    with pytest.raises(ssl.SSLCertVerificationError):
        mail.deliver("ada@example.com", "Secret", "Not for the man in the middle.")
    assert tls_server.inbox.received == []


def test_starttls_delivers_to_a_trusted_server(app_ctx, mail_config, monkeypatch, tls_server):
    monkeypatch.setitem(app_ctx.config, "MAIL_PORT", tls_server.port)
    monkeypatch.setitem(app_ctx.config, "MAIL_USE_TLS", True)
    trusting = types.SimpleNamespace(create_default_context=lambda: ssl.create_default_context(cafile=str(tls_server.cert)))
    monkeypatch.setattr(mail, "ssl", trusting)

    mail.deliver("ada@example.com", "Over TLS", "Encrypted on the way.")

    messages = tls_server.inbox.wait_for(1)
    assert [m["Subject"] for m in messages] == ["Over TLS"]


# --------------------------------------------------------------------------- notify
def _set_preferences(user, **values) -> None:
    for key, value in values.items():
        setattr(user.preferences, key, value)
    db.session.commit()


def test_notify_delivers_once_its_caller_commits(app_ctx, make_user, org, inbox, run_mail_jobs):
    user = make_user(org, "agent", "agent@acme.example.com")

    assert mail.notify(user, "Ticket #12 was assigned to you", "Open it from your queue.") is True
    db.session.commit()
    run_mail_jobs()

    messages = inbox.wait_for(1)
    assert [(m["To"], m["Subject"], _body(m)) for m in messages] == [
        ("agent@acme.example.com", "Ticket #12 was assigned to you", "Open it from your queue.\n")
    ]


def test_email_notifications_off_queues_nothing_for_email(app_ctx, make_user, org, inbox, run_mail_jobs):
    user = make_user(org, "agent", "quiet@acme.example.com")
    _set_preferences(user, email_notifications=False)

    assert mail.notify(user, "suppressed: email", "-", category="email") is False
    assert _mail_queue_length(app_ctx) == 0
    # Other categories still go; messages are delivered in order, so the last one
    # arriving means anything wrongly queued before it would have arrived too.
    assert mail.notify(user, "sent: propagation", "-", category="propagation") is True
    assert mail.notify(user, "sent: required", "-", category="required") is True
    db.session.commit()
    run_mail_jobs()

    inbox.wait_for(2)
    assert inbox.subjects == ["sent: propagation", "sent: required"]


def test_propagation_notifications_off_queues_nothing_for_propagation(app_ctx, make_user, org, inbox,
                                                                     run_mail_jobs):
    user = make_user(org, "agent", "busy@acme.example.com")
    _set_preferences(user, propagation_notifications=False)

    assert mail.notify(user, "suppressed: propagation", "-", category="propagation") is False
    assert _mail_queue_length(app_ctx) == 0
    assert mail.notify(user, "sent: email", "-", category="email") is True
    db.session.commit()
    run_mail_jobs()

    inbox.wait_for(1)
    assert inbox.subjects == ["sent: email"]


def test_required_mail_is_sent_whatever_the_preferences(app_ctx, make_user, org, inbox, run_mail_jobs):
    user = make_user(org, "customer", "nomail@acme.example.com")
    _set_preferences(user, email_notifications=False, propagation_notifications=False)

    assert mail.notify(user, "suppressed: email", "-") is False
    assert mail.notify(user, "suppressed: propagation", "-", category="propagation") is False
    assert mail.notify(user, "Your invitation", "Choose a password.", category="required") is True
    db.session.commit()
    run_mail_jobs()

    inbox.wait_for(1)
    assert inbox.subjects == ["Your invitation"]
    assert inbox.received[0][0] == ["nomail@acme.example.com"]


def test_preferences_are_read_from_the_saved_row(app_ctx, make_user, org):
    """The switch a user saves is what notify sees (not a stale default)."""
    from app.accounts.models import UserPreferences

    user = make_user(org, "agent", "saved@acme.example.com")
    _set_preferences(user, email_notifications=False)
    db.session.expire_all()
    saved = db.session.scalar(sa.select(UserPreferences).where(UserPreferences.user_id == user.id))
    assert saved.email_notifications is False
    assert mail.wants_mail(user, "email") is False
    assert mail.wants_mail(user, "propagation") is True
    assert mail.wants_mail(user, "required") is True


def test_notify_rejects_an_unknown_category(app_ctx, make_user, org):
    user = make_user(org, "agent", "typo@acme.example.com")
    with pytest.raises(ValueError):
        mail.notify(user, "Hello", "-", category="newsletter")
    assert _mail_queue_length(app_ctx) == 0


# --------------------------------------------------------------------------- the outbox
def _outbox_rows() -> list:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(mail.OutboxMessage).order_by(mail.OutboxMessage.id)))


def test_a_rolled_back_change_mails_nothing(app_ctx, make_user, org, inbox, run_mail_jobs):
    """The message is part of the caller's transaction: no commit, no mail (not even by the sweep)."""
    user = make_user(org, "agent", "agent@acme.example.com")
    assert mail.notify(user, "never sent", "-") is True
    db.session.rollback()
    mail.outbox_sweep()
    run_mail_jobs()

    assert _outbox_rows() == []
    assert inbox.received == []


def test_mail_is_delivered_exactly_once_across_smtp_failures(app_ctx, make_user, org, inbox, run_mail_jobs):
    """The SMTP server refuses the first two tries (451): the third delivers, with the stored Message-ID,
    and neither a sweep afterwards nor a duplicate delivery job sends it again."""
    user = make_user(org, "agent", "agent@acme.example.com")
    inbox.refuse_next = 2
    mail.notify(user, "Your export is ready", "Download it from Exports.")
    db.session.commit()
    run_mail_jobs()
    messages = inbox.wait_for(1)

    [row] = _outbox_rows()
    assert (row.status, row.attempts, inbox.refused) == ("sent", 3, 2)
    assert [m["Message-ID"] for m in messages] == [row.message_id]
    mail.outbox_sweep()
    mail.enqueue_deliveries([row.id])  # a duplicate job for the same row
    run_mail_jobs()
    time.sleep(0.3)
    assert len(inbox.received) == 1


def test_mail_committed_while_redis_is_down_is_sent_by_the_sweep(app_ctx, make_user, org, inbox, run_mail_jobs,
                                                                 monkeypatch, caplog):
    """A crash or an outage between the commit and the enqueue: the row waits, the sweep sends it."""
    from app.platform import jobs

    def redis_down(name="default"):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    user = make_user(org, "agent", "agent@acme.example.com")
    with monkeypatch.context() as patched, caplog.at_level(logging.ERROR, logger="cairn.mail"):
        patched.setattr(jobs, "get_queue", redis_down)
        mail.notify(user, "Saved while Redis was down", "-")
        db.session.commit()  # does not raise: the change is saved
    assert "the mail sweep will send" in caplog.text
    run_mail_jobs()
    assert inbox.received == [] and _outbox_rows()[0].status == "pending"

    assert mail.outbox_sweep()["enqueued"] == 1
    run_mail_jobs()
    assert inbox.wait_for(1) and inbox.subjects == ["Saved while Redis was down"]
    assert _outbox_rows()[0].status == "sent"


def test_a_message_whose_worker_died_mid_send_is_sent_again_by_the_sweep(app_ctx, make_user, org, inbox,
                                                                         run_mail_jobs):
    from datetime import timedelta

    from app.platform.models import utcnow

    user = make_user(org, "agent", "agent@acme.example.com")
    mail.notify(user, "Interrupted", "-")
    db.session.commit()
    [row] = _outbox_rows()
    stuck = utcnow() - timedelta(seconds=app_ctx.config["MAIL_SENDING_STALE_SECONDS"] + 5)
    db.session.execute(sa.update(mail.OutboxMessage).values(status="sending", attempts=1, claimed_at=stuck))
    db.session.commit()
    run_mail_jobs()  # the after-commit job finds the row "sending": it does nothing
    assert inbox.received == []

    assert mail.outbox_sweep()["requeued"] == 1
    run_mail_jobs()
    assert inbox.wait_for(1) and _outbox_rows()[0].status == "sent"


def test_concurrent_deliveries_of_one_row_send_it_once(app, app_ctx, make_user, org, inbox, mail_config):
    user = make_user(org, "agent", "agent@acme.example.com")
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(mail, "enqueue_deliveries", lambda ids, delay_seconds=0: 0)  # only these threads deliver
        mail.notify(user, "Once", "-")
        db.session.commit()
    [row] = _outbox_rows()
    results: list = []
    barrier = threading.Barrier(4)

    def deliver():
        with app.app_context():
            barrier.wait()
            results.append(mail.outbox_deliver(row.id))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results, key=str) == [None, None, None, "sent"]
    inbox.wait_for(1)
    time.sleep(0.3)
    assert len(inbox.received) == 1


def test_failed_mail_is_shown_to_the_operator_and_can_be_retried(app, app_ctx, make_user, org, inbox,
                                                                 run_mail_jobs):
    user = make_user(org, "agent", "agent@acme.example.com")
    inbox.refuse_next = 3  # as many as MAIL_MAX_ATTEMPTS
    mail.notify(user, "Stuck report", "-")
    db.session.commit()
    run_mail_jobs()
    [row] = _outbox_rows()
    assert (row.status, row.attempts) == ("failed", 3) and "451" in row.last_error

    runner = app.test_cli_runner()
    shown = runner.invoke(args=["mail-outbox"])
    assert shown.exit_code == 0, shown.output
    assert "failed: 1" in shown.output and f"#{row.id} failed" in shown.output and "451" in shown.output
    retried = runner.invoke(args=["mail-outbox", "--retry-failed"])
    assert "1 failed message(s) queued again" in retried.output
    run_mail_jobs()
    assert inbox.wait_for(1) and _outbox_rows()[0].status == "sent"


def test_a_permanent_refusal_fails_at_once(app_ctx, make_user, org, mail_config, monkeypatch):
    import smtplib

    user = make_user(org, "agent", "gone@acme.example.com")
    mail.notify(user, "Bounce", "-")
    db.session.commit()
    [row] = _outbox_rows()

    def refuse(message):
        raise smtplib.SMTPRecipientsRefused({"gone@acme.example.com": (550, b"5.1.1 No such user")})

    monkeypatch.setattr(mail, "_send", refuse)
    assert mail.outbox_deliver(row.id) == "failed"
    assert _outbox_rows()[0].attempts == 1


def test_helpdesk_mail_to_an_address_with_threading_headers(app_ctx, inbox, run_mail_jobs):
    """What the helpdesk's email channel needs: a recipient without an account, a stable Message-ID,
    In-Reply-To/References for threading, Reply-To and Auto-Submitted."""
    headers = {"In-Reply-To": "<first@mail.example.com>", "References": "<first@mail.example.com>",
               "Reply-To": "support+t12@cairn.example.com", "Auto-Submitted": "auto-replied"}
    assert mail.notify(None, "Re: [#12] Printer", "We are on it.", to_address="someone@outside.example.com",
                       headers=headers, message_id="<t12-c3@cairn.example.com>", category="required",
                       html="<p>We are on it.</p>") is True
    db.session.commit()
    run_mail_jobs()

    [message] = inbox.wait_for(1)
    assert inbox.received[0][0] == ["someone@outside.example.com"]
    assert message["Message-ID"] == "<t12-c3@cairn.example.com>"
    assert {name: message[name] for name in headers} == headers
    assert message.get_body(("html",)).get_content().strip() == "<p>We are on it.</p>"
    with pytest.raises(ValueError):
        mail.notify(None, "x", "y", to_address="a@example.com", headers={"From": "boss@example.com"})


@pytest.mark.parametrize("subject", ["VPN\ndrops", "VPN\r\ndrops", "VPN\u2028drops", "VPN\u2029drops", "VPN\x85drops",
                                     "VPN\x0bdrops", "VPN\x1cdrops"])
def test_a_line_break_in_a_subject_is_sent_as_a_space(app_ctx, make_user, org, inbox, run_mail_jobs, subject):
    # A ticket's subject can hold one (U+2028 pasted into the form): the email package refuses such a header,
    # and the message failed on every attempt.
    user = make_user(org, "agent", "agent@acme.example.com")
    mail.notify(user, f"[#1] {subject}", "Open it from your queue.")
    db.session.commit()
    run_mail_jobs()

    [message] = inbox.wait_for(1)
    assert message["Subject"] == "[#1] VPN drops"
    assert db.session.scalars(sa.select(mail.OutboxMessage.status)).all() == [mail.SENT]

"""Outgoing mail over SMTP (settings from the environment), sent by a worker.

`notify(user, subject, body, category=...)` honours the recipient's preferences:
`propagation` mail needs `propagation_notifications`, everything else needs
`email_notifications`. Transactional mail the user asked for (an invitation)
uses `category="required"` and is always sent. With no MAIL_SERVER the message
is written to the log instead, so `make run` works without a mail server.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger("cairn.mail")

CATEGORIES = ("required", "email", "propagation")


def wants_mail(user, category: str) -> bool:
    if category == "required":
        return True
    prefs = getattr(user, "preferences", None)
    if prefs is None:
        return True
    if category == "propagation":
        return bool(prefs.propagation_notifications)
    return bool(prefs.email_notifications)


def notify(user, subject: str, body: str, *, category: str = "email") -> bool:
    """Queue a message to `user` if their preferences allow it. Returns whether it was queued."""
    if category not in CATEGORIES:
        raise ValueError(f"Unknown mail category {category!r}")
    if not wants_mail(user, category):
        log.info("not mailing %s (%s notifications off): %s", user.email, category, subject)
        return False
    from app.platform.jobs import get_queue

    get_queue("mail").enqueue_call(
        "app.platform.mail.deliver", args=(user.email, subject, body), result_ttl=600, failure_ttl=7 * 86400
    )
    return True


def deliver(to: str, subject: str, body: str) -> None:
    """Send one message now (runs in the worker; raises so RQ records failures)."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if not config.get("MAIL_SERVER"):
        log.warning("MAIL_SERVER not set; mail to %s not sent:\nSubject: %s\n\n%s", to, subject, body)
        return
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=15) as smtp:
        if config.get("MAIL_USE_TLS"):
            # smtplib's default context checks neither the certificate nor the host
            # name: the password and the mail would go to anyone in the middle.
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)

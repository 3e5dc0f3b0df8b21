"""Exports' background work: the export job kind, periodic tasks and scheduled mail."""
from __future__ import annotations

import logging
import smtplib
import ssl
import time
from email.message import EmailMessage

from flask import current_app, url_for

from app.exports import services
from app.exports.models import ExportRequest
from app.exports.writers import CONTENT_TYPES
from app.extensions import db
from app.platform import storage
from app.platform.jobs import JobKind, register_job_kind, register_periodic

log = logging.getLogger("cairn.exports")


def _detail_url(row: ExportRequest) -> str | None:
    try:
        return url_for("exports.request_detail", request_id=row.id)
    except RuntimeError:
        return None


register_job_kind(JobKind(
    name="export",
    model=ExportRequest,
    handler=services.export_run,
    result_template="exports/_request_result.html",
    title=lambda row: f"Export: {row.title}",
    detail_url=_detail_url,
    on_reconciled_failure=services.export_reconciled_failure,
))

register_periodic("exports-expire", 3600, "app.exports.services.exports_expire")
register_periodic("exports-schedules", 60, "app.exports.services.schedules_run_due")
register_periodic("exports-usage-rollup", 900, "app.exports.services.usage_rollup")


def deliver_scheduled_export(request_id: int, wait_seconds: float = 60.0) -> str:
    """Mail a scheduled export's recipients once its row says completed (never before).

    The export job enqueues this before the platform commits the row as
    completed, so it waits for that commit (a few moments at most).
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        db.session.expire_all()
        request = db.session.get(ExportRequest, request_id)
        if request is None or request.status in ("failed", "expired"):
            return "nothing to send"
        if request.status == "completed":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"export #{request_id} never completed; nothing sent")
        db.session.rollback()
        time.sleep(0.2)
    schedule = request.schedule
    if schedule is None:
        return "no schedule"
    message = _message(request, schedule)
    allowed = services.allowed_recipients(schedule.user)  # as of now: a member who left gets nothing more
    recipients = [r for r in schedule.email_recipients if r.lower() in allowed]
    for recipient in recipients:
        del message["To"]
        message["To"] = recipient
        _send(message)
    return f"sent to {len(recipients)}"


def _message(request: ExportRequest, schedule) -> EmailMessage:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    # No user text in the subject: the name and title are the owner's words, and a subject is what a spammer
    # would want to choose. The body names the schedule for the members it goes to.
    message["Subject"] = f"Cairn: scheduled export #{request.id.hex[-8:]} is ready"
    lines = [f"Your scheduled export \"{schedule.name}\" is ready: {request.row_count:,} rows, "
             f"{request.format_label}, {request.file_size:,} bytes.", ""]
    attach = schedule.attach_file and request.file_size <= config.get("EXPORTS_ATTACHMENT_MAX_BYTES", 5 << 20)
    if schedule.include_download_link or (schedule.attach_file and not attach):
        base = config.get("PUBLIC_BASE_URL") or "http://localhost:5000"
        lines.append(f"Download it (sign in as {request.requested_by.email}) before "
                     f"{request.expires_at:%Y-%m-%d %H:%M} UTC: {base.rstrip('/')}/exports/requests/{request.id}")
    if schedule.attach_file and not attach:
        lines.append("The file is too large to attach; use the link above.")
    lines += ["", f"SHA-256: {request.file_sha256}"]
    message.set_content("\n".join(lines))
    if attach:
        maintype, _, subtype = CONTENT_TYPES[request.format].split(";")[0].partition("/")
        with open(storage.resolve(request.file_path), "rb") as handle:
            message.add_attachment(handle.read(), maintype=maintype, subtype=subtype,
                                   filename=services.download_filename(request))
    return message


def _send(message: EmailMessage) -> None:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        log.warning("MAIL_SERVER not set; scheduled export mail to %s not sent: %s", message["To"],
                    message["Subject"])
        return
    with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=15) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)

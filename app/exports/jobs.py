"""Exports' background work: the export job kind, periodic tasks and scheduled mail."""
from __future__ import annotations

import logging
import time

from flask import url_for

from app.exports import services
from app.exports.models import ExportRequest
from app.extensions import db
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
    """Queue a scheduled export's mail in the outbox once its row says completed (never before).

    Kept for deliveries enqueued before the outbox carried export mail (the
    export handler now writes the messages with the row's success); queueing
    the same export again adds nothing (`services.scheduled_mail_queue`).
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
    if request.schedule is None:
        return "no schedule"
    added = services.scheduled_mail_queue(request, request.schedule)
    db.session.commit()
    return f"queued {added}"

"""Helpdesk background work: SLA breaches every minute, the trash purge hourly, and the recompute of
open tickets' due times after an SLA policy changes (a job kind with its status panel on the SLA page)."""
from __future__ import annotations

from flask import url_for

from app.platform.jobs import BackgroundTask, JobKind, register_job_kind, register_periodic


def flag_sla_breaches() -> int:
    from app.tickets.services import sla_flag_breaches

    return sla_flag_breaches()


def purge_deleted_tickets() -> int:
    from app.tickets.services import tickets_purge_expired

    return tickets_purge_expired()


def recompute_due_times(row: BackgroundTask, progress) -> dict:
    from app.tickets.services import sla_recompute_run

    return sla_recompute_run(row, progress)


def fetch_mailboxes() -> int:
    from app.tickets.mailboxes import fetch_all_mailboxes

    return fetch_all_mailboxes()


def fetch_mailbox(mailbox_id: int) -> dict:
    from app.tickets.mailboxes import mailbox_fetch

    return mailbox_fetch(mailbox_id)


register_periodic("tickets-mailboxes", 60, "app.tickets.jobs.fetch_mailboxes")
register_periodic("tickets-sla-breaches", 60, "app.tickets.jobs.flag_sla_breaches")
register_periodic("tickets-purge", 3600, "app.tickets.jobs.purge_deleted_tickets")
# Not "expensive": a manager's policy change should reach the tickets without waiting behind exports.
register_job_kind(JobKind(
    name="tickets-sla-recompute", model=BackgroundTask, handler=recompute_due_times, expensive=False,
    result_template="tickets/_sla_recompute_result.html",
    title=lambda row: row.title or "Recompute SLA due times", detail_url=lambda row: url_for("tickets.sla")))


def bulk_change(row: BackgroundTask, progress) -> dict:
    from app.tickets.bulk import bulk_run

    return bulk_run(row, progress)


register_job_kind(JobKind(
    name="tickets-bulk", model=BackgroundTask, handler=bulk_change, expensive=False,
    result_template="tickets/_bulk_result.html",
    title=lambda row: row.title or "Change tickets", detail_url=lambda row: url_for("tickets.index")))

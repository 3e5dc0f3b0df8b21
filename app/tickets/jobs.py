"""Periodic helpdesk work: flag SLA breaches every minute, purge tickets whose trash time is over."""
from __future__ import annotations

from app.platform.jobs import register_periodic


def flag_sla_breaches() -> int:
    from app.tickets.services import sla_flag_breaches

    return sla_flag_breaches()


def purge_deleted_tickets() -> int:
    from app.tickets.services import tickets_purge_expired

    return tickets_purge_expired()


register_periodic("tickets-sla-breaches", 60, "app.tickets.jobs.flag_sla_breaches")
register_periodic("tickets-purge", 3600, "app.tickets.jobs.purge_deleted_tickets")

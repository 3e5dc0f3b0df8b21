"""Bulk actions on the ticket list: many tickets (chosen, or every one matching the filters) changed as one job.

The job applies the same service each single change uses (status, priority, assignee, tags),
ticket by ticket, so every rule, history row and notification is the same as by hand; a ticket a
rule refuses is skipped and counted with its reason. "Move to trash" uses the platform's bulk soft
delete (`Ticket.soft_delete_all` through services.tickets_delete): the same hooks, metadata, retention
and history rows as one ticket's delete, one transaction per chunk; done at once, it has an Undo. Small selections run at once; larger ones run
in the background with the job panel on the list page.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.platform.jobs import BackgroundTask, job_submit
from app.tickets.listing import ticket_list_conditions
from app.tickets.models import PRIORITIES, STATUSES, Ticket

BULK_KIND = "tickets-bulk"
ACTIONS = {"status": "Set status", "priority": "Set priority", "assignee": "Assign", "add_tags": "Add tags",
           "remove_tags": "Remove tags", "trash": "Move to trash"}
INLINE_LIMIT = 20  # up to this many chosen tickets change at once, in the request
MAX_TICKETS = 10_000


class BulkError(ValueError):
    pass


def _check(action: str, value: str) -> None:
    if action not in ACTIONS:
        raise BulkError("Choose what to do with the tickets.")
    if action == "status" and value not in STATUSES:
        raise BulkError("Choose the status to set.")
    if action == "priority" and value not in PRIORITIES:
        raise BulkError("Choose the priority to set.")
    if action in ("add_tags", "remove_tags") and not value.strip():
        raise BulkError("Type the tags.")
    if action == "trash" and not value.strip():
        raise BulkError("Say why the tickets are deleted (it is shown in the trash).")


def selected_ids(*, actor: User, ticket_ids: list[int] | None, filters=None) -> list[int]:
    """The chosen tickets of this organization, or every live one the filters match (at most MAX_TICKETS)."""
    if filters is not None:
        conditions = ticket_list_conditions(user=actor, filters=filters)
    else:
        conditions = [Ticket.organization_id == actor.organization_id, Ticket.is_active.is_(True),
                      Ticket.id.in_(ticket_ids or [])]
    return list(db.session.scalars(sa.select(Ticket.id).where(*conditions).order_by(Ticket.id).limit(MAX_TICKETS)))


def bulk_start(*, actor: User, action: str, value: str, ticket_ids: list[int]) -> dict | BackgroundTask:
    """Apply now (a small selection: returns the counts) or queue the job (returns its row)."""
    _check(action, value)
    if not ticket_ids:
        raise BulkError("Choose at least one ticket.")
    if len(ticket_ids) <= INLINE_LIMIT:
        return bulk_apply(actor=actor, action=action, value=value, ticket_ids=ticket_ids)
    task = BackgroundTask(organization_id=actor.organization_id, kind=BULK_KIND,
                          title=f"{ACTIONS[action]} on {len(ticket_ids):,} tickets",
                          params={"action": action, "value": value, "ticket_ids": ticket_ids},
                          requested_by_id=actor.id)
    return job_submit(task)


TRASH_CHUNK = 500  # tickets moved to the trash per transaction (and per progress report) in the job


def _bulk_trash(*, actor: User, reason: str, ticket_ids: list[int], progress=None) -> dict:
    """Move to trash with the platform's bulk soft delete (services.tickets_delete: each ticket's own hooks,
    metadata, retention and history row, as one by hand), a chunk per transaction."""
    from app.tickets.services import tickets_delete

    moved: list[int] = []
    for start in range(0, len(ticket_ids), TRASH_CHUNK):
        moved += tickets_delete(organization_id=actor.organization_id, actor=actor, reason=reason,
                                ticket_ids=ticket_ids[start:start + TRASH_CHUNK])
        done = min(start + TRASH_CHUNK, len(ticket_ids))
        if progress is not None:
            progress(100 * done / len(ticket_ids), f"{done:,} of {len(ticket_ids):,} tickets; {len(moved):,} changed")
    return {"changed": len(moved), "skipped": len(ticket_ids) - len(moved), "reasons": [],
            "action": ACTIONS["trash"], "changed_ids": moved}


def bulk_apply(*, actor: User, action: str, value: str, ticket_ids: list[int], progress=None) -> dict:
    from app.tickets.services import TicketError

    if action == "trash":
        return _bulk_trash(actor=actor, reason=value, ticket_ids=ticket_ids, progress=progress)
    changed, skipped, reasons = 0, 0, []
    for index, ticket_id in enumerate(ticket_ids, 1):
        ticket = db.session.get(Ticket, ticket_id)
        if ticket is None or ticket.organization_id != actor.organization_id or not ticket.is_active:
            skipped += 1
            continue
        try:
            _apply_one(ticket, actor, action, value)
            changed += 1
        except TicketError as exc:
            db.session.rollback()
            skipped += 1
            if len(reasons) < 10:
                reasons.append(f"#{ticket.ticket_number}: {exc}")
        if progress is not None and (index % 25 == 0 or index == len(ticket_ids)):
            progress(100 * index / len(ticket_ids), f"{index:,} of {len(ticket_ids):,} tickets; {changed:,} changed")
    return {"changed": changed, "skipped": skipped, "reasons": reasons, "action": ACTIONS[action]}


def _apply_one(ticket: Ticket, actor: User, action: str, value: str) -> None:
    from app.tickets import services

    if action == "status":
        if ticket.status != value:
            services.ticket_change_status(ticket=ticket, actor=actor, status=value)
    elif action == "priority":
        if ticket.priority != value:
            services.ticket_change_priority(ticket=ticket, actor=actor, priority=value)
    elif action == "assignee":
        if str(ticket.assigned_agent_id or "") != value:
            services.ticket_assign_from_form(ticket=ticket, actor=actor, agent_id=value)
    elif action in ("add_tags", "remove_tags"):
        wanted = services.parse_tags(value)
        tags = list(ticket.tags)
        tags = tags + [t for t in wanted if t not in tags] if action == "add_tags" else \
            [t for t in tags if t not in wanted]
        if tags != list(ticket.tags):
            services.ticket_set_tags(ticket=ticket, actor=actor, text=", ".join(tags))


def bulk_run(task: BackgroundTask, progress) -> dict:
    """The job: the requester's change on each ticket of the selection, frozen when it was submitted."""
    actor = db.session.get(User, task.requested_by_id)
    params = task.params
    result = bulk_apply(actor=actor, action=params["action"], value=params.get("value", ""),
                        ticket_ids=[int(i) for i in params["ticket_ids"]], progress=progress)
    result.pop("changed_ids", None)  # the panel shows counts; thousands of ids don't belong on the row
    task.result = result
    return result


def bulk_tasks_for(user: User, limit: int = 3) -> list[BackgroundTask]:
    rows = db.session.scalars(sa.select(BackgroundTask).where(
        BackgroundTask.organization_id == user.organization_id, BackgroundTask.kind == BULK_KIND)
        .order_by(BackgroundTask.created_at.desc(), BackgroundTask.id.desc()).limit(20))
    return [row for row in rows if row.visible_to(user)][:limit]

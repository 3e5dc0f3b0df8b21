"""Trash: soft delete with a reason, restore, bulk restore, purge after the retention time."""
from datetime import timedelta

import time_machine

from app.extensions import db
from app.platform import storage
from app.platform.models import utcnow
from app.tickets import services
from app.tickets.models import Ticket, TicketAttachment, TicketComment
from tests.helpers import reload
from tests.tickets.conftest import PNG, text


def test_delete_needs_a_reason_and_shows_in_the_trash(people, login, make_ticket):
    ticket = make_ticket(people["customer"], subject="Spam ticket")
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    refused = agent.form_post(f"/tickets/{ticket.id}/delete", {"reason": ""}, page=page)
    assert refused.status_code == 422 and reload(Ticket, ticket.id).is_active
    assert agent.form_post(f"/tickets/{ticket.id}/delete", {"reason": "spam"}, page=page).status_code == 302
    assert agent.get(page).status_code == 404
    assert "Spam ticket" not in text(agent.get("/tickets/"))
    trash = text(agent.get("/tickets/trash"))
    assert "Spam ticket" in trash and "spam" in trash and "Alice Agent" in trash
    row = reload(Ticket, ticket.id)
    assert row.auto_delete_at is not None and row.deletion_metadata["ticket_number"] == ticket.ticket_number


def test_restore_and_bulk_restore(people, login, make_ticket):
    tickets = [make_ticket(people["customer"], subject=f"T{i}") for i in range(3)]
    for t in tickets:
        services.ticket_delete(ticket=reload(Ticket, t.id), actor=people["agent"], reason="cleanup")
    agent = login(people["agent"])
    one = agent.form_post(f"/tickets/{tickets[0].id}/restore", page="/tickets/trash")
    assert one.status_code == 302 and reload(Ticket, tickets[0].id).is_active
    bulk = agent.form_post("/tickets/trash/restore", {"ticket_ids": [str(tickets[1].id), str(tickets[2].id)]},
                           page="/tickets/trash")
    assert bulk.status_code == 302
    assert all(reload(Ticket, t.id).is_active for t in tickets)
    assert "2 tickets restored." in text(agent.get("/tickets/trash"))


def test_purge_removes_tickets_past_retention_with_their_files(people, login, make_ticket, app):
    keep = make_ticket(people["customer"], subject="Keep")
    old = make_ticket(people["customer"], subject="Old")
    services.comment_add(ticket=old, author=people["agent"], content="file", files=[_file(PNG, "a.png")])
    path = db.session.scalars(db.select(TicketAttachment.storage_path)).one()
    assert storage.resolve(path).exists()
    services.ticket_delete(ticket=reload(Ticket, old.id), actor=people["agent"], reason="old")
    assert services.tickets_purge_expired() == 0
    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        from app.tickets.jobs import purge_deleted_tickets

        assert purge_deleted_tickets() == 1
    db.session.expire_all()
    assert db.session.get(Ticket, old.id) is None and db.session.get(Ticket, keep.id) is not None
    assert db.session.scalar(db.select(db.func.count()).select_from(TicketComment)) == 0
    assert not storage.resolve(path).exists()


def _file(data, name):
    from werkzeug.datastructures import FileStorage
    import io

    return FileStorage(io.BytesIO(data), filename=name)


def test_purge_runs_as_a_periodic_job(app):
    from app.platform.jobs import periodic_tasks

    assert periodic_tasks["tickets-purge"].function == "app.tickets.jobs.purge_deleted_tickets"
    assert periodic_tasks["tickets-sla-breaches"].interval_seconds == 60


def test_platform_purge_leaves_tickets_to_their_own_job(app_ctx):
    from app.platform.trash import purgeable_models

    assert Ticket not in purgeable_models()

"""The ticket list's "Move to trash" bulk action uses the platform's bulk soft delete: every chosen ticket gets
what one ticket's delete gives it (reason, retention, its own metadata, a history row by the agent), and the
flash message's Undo brings them all back; another organization's tickets are never touched."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.platform import models as platform_models
from app.tickets.models import Ticket, TicketHistory
from tests.helpers import reload
from tests.tickets.conftest import text

UNDO_FORM = re.compile(r'action="/undo".*?name="token" value="([^"]+)"', re.S)


def _history(ticket_id: int, event: str) -> list[TicketHistory]:
    return list(db.session.scalars(sa.select(TicketHistory).where(TicketHistory.ticket_id == ticket_id,
                                                                  TicketHistory.event == event)))


def test_move_to_trash_is_one_bulk_soft_delete_with_undo(people, login, make_ticket, monkeypatch):
    calls = []
    real = platform_models.SoftDeleteMixin.soft_delete_all.__func__

    def spy(cls, statement, **kwargs):
        calls.append(cls)
        return real(cls, statement, **kwargs)

    monkeypatch.setattr(Ticket, "soft_delete_all", classmethod(spy))
    chosen = [make_ticket(people["customer"], subject=f"Spam {n}") for n in range(3)]
    keep = make_ticket(people["customer"], subject="Keep me")
    agent = login(people["agent"])
    response = agent.form_post("/tickets/bulk", {"ticket_ids": [str(t.id) for t in chosen], "action": "trash",
                                                 "value_trash": "spam wave"})
    assert response.status_code == 302 and calls == [Ticket]  # one bulk call for the whole selection
    page = agent.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 tickets moved to the trash." in page
    token = UNDO_FORM.search(page).group(1)

    db.session.expire_all()
    for ticket in chosen:
        row = db.session.get(Ticket, ticket.id)
        assert not row.is_active and row.delete_reason == "spam wave" and row.deleted_by_id == people["agent"].id
        assert row.deletion_metadata == {"status": ticket.status, "ticket_number": ticket.ticket_number}
        assert row.auto_delete_at is not None  # the organization's retention, as for one delete
        [entry] = _history(ticket.id, "deleted")
        assert entry.actor_id == people["agent"].id and entry.new_value == "spam wave"
    assert reload(Ticket, keep.id).is_active
    trash = text(agent.get("/tickets/trash"))
    assert all(f"Spam {n}" in trash for n in range(3)) and "Keep me" not in trash

    undone = agent.form_post("/undo", {"token": token, "next": "/tickets/"})
    assert undone.status_code == 302
    assert "Undone: 3 are back." in text(agent.get("/tickets/"))
    db.session.expire_all()
    for ticket in chosen:
        assert db.session.get(Ticket, ticket.id).is_active
        assert len(_history(ticket.id, "restored")) == 1


def test_bulk_trash_skips_tickets_already_there_and_other_organizations(people, login, make_ticket):
    mine = [make_ticket(people["customer"], subject=f"Mine {n}") for n in range(2)]
    agent = login(people["agent"])
    agent.form_post("/tickets/bulk", {"ticket_ids": [str(mine[0].id)], "action": "trash", "value_trash": "first"})
    again = agent.form_post("/tickets/bulk", {"ticket_ids": [str(t.id) for t in mine], "action": "trash",
                                              "value_trash": "second"})
    assert "1 ticket moved to the trash." in text(agent.get(again.headers["Location"]))
    assert reload(Ticket, mine[0].id).delete_reason == "first"  # not deleted twice
    outsider = login(people["outsider"])
    other = outsider.form_post("/tickets/bulk", {"ticket_ids": [str(mine[1].id)], "action": "trash",
                                                 "value_trash": "x"})
    assert other.status_code == 302 and reload(Ticket, mine[1].id).delete_reason == "second"
    no_reason = agent.form_post("/tickets/bulk", {"ticket_ids": [str(mine[1].id)], "action": "trash",
                                                  "value_trash": " "})
    assert "Say why the tickets are deleted" in text(agent.get(no_reason.headers["Location"]))


def test_an_undo_token_restores_only_its_own_organizations_rows(people, login, make_ticket):
    ticket = make_ticket(people["customer"], subject="Mine")
    agent = login(people["agent"])
    response = agent.form_post("/tickets/bulk", {"ticket_ids": [str(ticket.id)], "action": "trash",
                                                 "value_trash": "gone"})
    token = UNDO_FORM.search(agent.get(response.headers["Location"]).get_data(as_text=True)).group(1)
    outsider = login(people["outsider"])
    assert outsider.form_post("/undo", {"token": token}).status_code == 404
    assert not reload(Ticket, ticket.id).is_active

"""Edits on an existing ticket, through the ticket page: renaming it, adding files without a reply,
the mail a customer gets when staff open a ticket for them, and closed tickets' frozen tags and fields."""
from pathlib import Path

import pytest

from app.extensions import db
from app.tickets import services
from app.tickets.models import Ticket, TicketAttachment, TicketHistory
from tests.helpers import reload
from tests.tickets.conftest import PDF, PNG, text, upload

HX = {"HX-Request": "true"}
CAROL = "carol@customer.example.com"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff"


def _history(ticket_id: int, **where) -> list[TicketHistory]:
    db.session.expire_all()
    stmt = db.select(TicketHistory).where(TicketHistory.ticket_id == ticket_id).order_by(TicketHistory.id)
    return [h for h in db.session.scalars(stmt) if all(getattr(h, k) == v for k, v in where.items())]


def _stored_files(app) -> set[Path]:
    root = Path(app.config["STORAGE_DIR"]) / "tickets"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _set_status(ticket: Ticket, status: str) -> Ticket:
    db.session.execute(db.update(Ticket).where(Ticket.id == ticket.id).values(status=status))
    db.session.commit()
    return reload(Ticket, ticket.id)


# --------------------------------------------------------------------------- 1. the subject
def test_agent_renames_a_ticket_inline_and_the_history_says_from_what_to_what(people, login, make_ticket):
    ticket = make_ticket(people["customer"], subject="Printer on fire")
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    assert "Edit subject" in text(agent.get(page))
    response = agent.form_post(f"/tickets/{ticket.id}/subject", {"subject": "  Printer on fire in room 4  "},
                               page=page, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "ticket-changed"
    fragment = text(response)
    assert 'id="ticket-subject"' in fragment and f"#{ticket.ticket_number} Printer on fire in room 4" in fragment
    assert "<title>" in fragment  # htmx retitles the browser tab
    assert reload(Ticket, ticket.id).subject == "Printer on fire in room 4"
    [entry] = _history(ticket.id, field="subject")
    assert (entry.old_value, entry.new_value, entry.actor_id, entry.internal) == (
        "Printer on fire", "Printer on fire in room 4", people["agent"].id, False)
    # The customer's timeline shows the public change.
    timeline = text(login(people["customer"]).get(page))
    assert "changed subject from Printer on fire to Printer on fire in room 4" in " ".join(
        timeline.replace("<em>", "").replace("</em>", "").split())


def test_renaming_without_javascript_redirects_with_a_message(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    manager = login(people["manager"])
    response = manager.form_post(f"/tickets/{ticket.id}/subject", {"subject": "Toner empty"},
                                 page=f"/tickets/{ticket.id}")
    assert response.status_code == 302
    page = text(manager.get(response.headers["Location"]))
    assert "Subject changed." in page and "Toner empty" in page


@pytest.mark.parametrize("typed, message", [
    ("   ", "Subject is required."),
    ("x" * 201, "Subject must be at most 200 characters."),
])
def test_a_bad_subject_is_refused_under_the_input_and_nothing_changes(people, login, make_ticket, typed, message):
    ticket = make_ticket(people["customer"], subject="Original subject")
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    response = agent.form_post(f"/tickets/{ticket.id}/subject", {"subject": typed}, page=page, headers=HX)
    assert response.status_code == 422
    fragment = text(response)
    assert f'<p class="error" id="subject-error">{message}</p>' in fragment
    assert "<details class=\"subject-edit\" open>" in fragment  # the form stays open with what was typed
    assert reload(Ticket, ticket.id).subject == "Original subject"
    assert _history(ticket.id, field="subject") == []
    # Without JavaScript: the whole page, the error at the input, the typed text kept.
    full = agent.form_post(f"/tickets/{ticket.id}/subject", {"subject": typed}, page=page)
    assert full.status_code == 422 and message in text(full) and "Conversation" in text(full)


def test_a_subject_of_exactly_the_models_limit_is_accepted(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    agent = login(people["agent"])
    response = agent.form_post(f"/tickets/{ticket.id}/subject", {"subject": " " + "y" * 200 + " "},
                               page=f"/tickets/{ticket.id}", headers=HX)
    assert response.status_code == 200 and reload(Ticket, ticket.id).subject == "y" * 200
    assert 'maxlength="200"' in text(response)


def test_customers_cannot_rename_and_see_no_control(people, login, make_ticket, app):
    ticket = make_ticket(people["customer"], subject="Mine")
    customer = login(people["customer"])
    page = text(customer.get(f"/tickets/{ticket.id}"))
    assert "Edit subject" not in page and f"/tickets/{ticket.id}/subject" not in page
    response = customer.form_post(f"/tickets/{ticket.id}/subject", {"subject": "Hacked"},
                                  page=f"/tickets/{ticket.id}", headers=HX)
    assert response.status_code == 403
    outsider = login(people["outsider"])  # staff of another organization: no such ticket
    assert outsider.form_post(f"/tickets/{ticket.id}/subject", {"subject": "Hacked"}).status_code == 404
    assert reload(Ticket, ticket.id).subject == "Mine"
    with app.test_request_context(), pytest.raises(services.TicketError):
        services.ticket_change_subject(ticket=reload(Ticket, ticket.id), actor=people["customer"], subject="Hacked")


def test_a_merged_ticket_is_not_renamed(people, login, make_ticket):
    original = make_ticket(people["customer"], subject="Original")
    duplicate = make_ticket(people["customer"], subject="Duplicate")
    services.ticket_merge(source=duplicate, target=original, actor=people["agent"])
    agent = login(people["agent"])
    assert "Edit subject" not in text(agent.get(f"/tickets/{duplicate.id}"))
    response = agent.form_post(f"/tickets/{duplicate.id}/subject", {"subject": "Renamed"},
                               page=f"/tickets/{duplicate.id}", headers=HX)
    assert response.status_code == 422 and "merged into another one" in text(response)
    assert reload(Ticket, duplicate.id).subject == "Duplicate"


# --------------------------------------------------------------------------- 2. files without a reply
def _attach(client, ticket, files, *, headers=None):
    return client.form_post(f"/tickets/{ticket.id}/attachments", {"attachments": files},
                            page=f"/tickets/{ticket.id}", headers=headers, content_type="multipart/form-data")


def test_customer_attaches_files_without_a_reply(people, login, make_ticket, app):
    ticket = make_ticket(people["customer"])
    customer = login(people["customer"])
    page = text(customer.get(f"/tickets/{ticket.id}"))
    assert 'id="ticket-files"' in page and "Attach files" in page
    response = _attach(customer, ticket, [upload(PNG, "shot.png"), upload(PDF, "invoice.pdf")])
    assert response.status_code == 302 and response.headers["Location"].endswith("#ticket-files")
    rows = db.session.scalars(db.select(TicketAttachment).order_by(TicketAttachment.id)).all()
    assert [(a.original_name, a.comment_id, a.uploaded_by_id) for a in rows] == [
        ("shot.png", None, people["customer"].id), ("invoice.pdf", None, people["customer"].id)]
    with app.app_context():
        from app.platform import storage
        assert all(storage.resolve(a.storage_path).read_bytes() == data for a, data in zip(rows, (PNG, PDF)))
    assert all(a.storage_path.startswith(f"tickets/{ticket.organization_id}/{ticket.id}/") for a in rows)
    entries = _history(ticket.id, event="attachment")
    assert [(h.new_value, h.internal, h.actor_id) for h in entries] == [
        ("shot.png", False, people["customer"].id), ("invoice.pdf", False, people["customer"].id)]
    shown = text(customer.get(response.headers["Location"]))
    assert "Attached shot.png, invoice.pdf." in shown and "attached <em>shot.png</em>" in shown
    assert customer.get(f"/tickets/attachments/{rows[0].id}").data == PNG


@pytest.mark.parametrize("status", ["pending", "resolved"])
def test_the_customers_files_reopen_a_waiting_ticket_as_a_reply_would(people, login, make_ticket, status):
    ticket = make_ticket(people["customer"])
    services.ticket_change_status(ticket=reload(Ticket, ticket.id), actor=people["agent"], status=status)
    assert (reload(Ticket, ticket.id).resolved_at is not None) == (status == "resolved")
    agent = login(people["agent"])
    assert _attach(agent, ticket, upload(PDF, "manual.pdf")).status_code == 302
    assert reload(Ticket, ticket.id).status == status  # staff files leave the status alone
    customer = login(people["customer"])
    assert _attach(customer, ticket, upload(PNG, "shot.png")).status_code == 302
    reopened = reload(Ticket, ticket.id)
    assert reopened.status == "open" and reopened.resolved_at is None
    assert [(h.old_value, h.new_value) for h in _history(ticket.id, field="status")][-1] == (status, "open")


def test_agent_attaches_over_htmx_and_the_customer_can_download(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    touched = ticket.updated_at
    agent = login(people["agent"])
    response = _attach(agent, ticket, upload(PDF, "manual.pdf"), headers=HX)
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "ticket-changed"
    fragment = text(response)
    assert fragment.lstrip().startswith("<section class=\"card\" id=\"ticket-files\"")
    assert "manual.pdf" in fragment and "Attached manual.pdf." in fragment
    attachment = db.session.scalars(db.select(TicketAttachment)).one()
    assert reload(Ticket, ticket.id).updated_at > touched  # the list shows it as recently active
    customer = login(people["customer"])
    assert "manual.pdf" in text(customer.get(f"/tickets/{ticket.id}"))
    assert customer.get(f"/tickets/attachments/{attachment.id}").status_code == 200


@pytest.mark.parametrize("files, message", [
    ([(EXE, "invoice.pdf")], "invoice.pdf: this kind of file is not accepted."),
    ([(PDF, "photo.png")], "photo.png: the file's content (application/pdf) does not match its name."),
    ([(PNG, "fine.png"), (EXE, "setup.txt")], "setup.txt: this kind of file is not accepted."),  # all or nothing
    ([], "Choose at least one file to attach."),
])
def test_a_refused_file_shows_at_the_input_and_nothing_is_saved(people, login, make_ticket, app, files, message):
    ticket = make_ticket(people["customer"])
    customer = login(people["customer"])
    before = _stored_files(app)
    for headers in (HX, None):
        response = _attach(customer, ticket, [upload(data, name) for data, name in files], headers=headers)
        assert response.status_code == 422
        html = text(response)
        # Under the file input, not somewhere else on the page.
        assert f'<p class="error" id="attach-files-error">{message}</p>' in html
        assert html.index('id="attach-files"') < html.index(message) < html.index("Attach files</button>")
    assert db.session.scalar(db.select(db.func.count()).select_from(TicketAttachment)) == 0
    assert _history(ticket.id, event="attachment") == []
    assert _stored_files(app) == before


def test_attachment_limits_come_from_the_organization_settings(people, login, make_ticket):
    manager = login(people["manager"])
    assert manager.form_post("/tickets/settings", {"max_mb": "1", "kinds": ["pdf"], "retention_days": "10"},
                             page="/tickets/sla").status_code == 302
    ticket = make_ticket(people["customer"])
    customer = login(people["customer"])
    too_big = _attach(customer, ticket, upload(b"%PDF-" + b"0" * (1024 * 1024), "big.pdf"))
    assert too_big.status_code == 422 and "larger than the 1 MB limit" in text(too_big)
    image = _attach(customer, ticket, upload(PNG, "shot.png"))
    assert image.status_code == 422 and "images (png, jpeg, gif, webp) are not accepted" in text(image).lower()
    assert _attach(customer, ticket, upload(PDF, "ok.pdf")).status_code == 302
    assert db.session.scalars(db.select(TicketAttachment.original_name)).all() == ["ok.pdf"]


def test_only_the_tickets_customer_and_staff_attach_and_not_once_it_is_closed(people, login, make_ticket):
    ticket = make_ticket(people["customer"])
    other = login(people["customer2"])
    assert _attach(other, ticket, upload(PNG, "x.png")).status_code == 404
    outsider = login(people["outsider"])
    assert _attach(outsider, ticket, upload(PNG, "x.png")).status_code == 404
    ticket = _set_status(ticket, "closed")
    customer = login(people["customer"])
    page = text(customer.get(f"/tickets/{ticket.id}"))
    assert "Attach files</button>" not in page and "This ticket is closed; files can no longer be added." in page
    refused = _attach(customer, ticket, upload(PNG, "late.png"))
    assert refused.status_code == 422 and "This ticket is closed; files can no longer be added." in text(refused)
    assert db.session.scalar(db.select(db.func.count()).select_from(TicketAttachment)) == 0


# --------------------------------------------------------------------------- 3. mail for a ticket opened on a customer's behalf
def test_customer_is_mailed_when_an_agent_opens_a_ticket_for_them(people, login, outbox):
    agent = login(people["agent"])
    response = agent.form_post("/tickets/new", {"customer": CAROL, "subject": "Phone call: VPN",
                                                "description": "Called at 9:00, VPN drops.", "priority": "high",
                                                "attachments": upload(PNG, "screenshot.png")},
                               page="/tickets/new", content_type="multipart/form-data")
    assert response.status_code == 302
    ticket = db.session.scalars(db.select(Ticket)).one()
    [(to, subject, body)] = outbox.to(CAROL)
    assert subject == f"[#{ticket.ticket_number}] Phone call: VPN"
    assert f"Alice Agent opened ticket #{ticket.ticket_number} for you: Phone call: VPN" in body
    assert "Called at 9:00, VPN drops." in body and "screenshot.png" in body
    assert f"http://localhost/tickets/{ticket.id}" in body
    assert outbox.to(people["agent"].email) == []


def test_no_mail_when_the_customer_opens_their_own_ticket_or_has_mail_off(people, login, outbox):
    customer = login(people["customer"])
    assert customer.form_post("/tickets/new", {"subject": "My own", "priority": "low"},
                              page="/tickets/new").status_code == 302
    assert outbox == []
    people["customer"].preferences.email_notifications = False
    db.session.commit()
    agent = login(people["agent"])
    assert agent.form_post("/tickets/new", {"customer": CAROL, "subject": "For Carol", "priority": "low"},
                           page="/tickets/new").status_code == 302
    assert db.session.scalar(db.select(db.func.count()).select_from(Ticket)) == 2
    assert outbox == []


def test_no_mail_when_the_ticket_is_refused(people, login, outbox):
    agent = login(people["agent"])
    response = agent.form_post("/tickets/new", {"customer": CAROL, "subject": "   ", "priority": "low"},
                               page="/tickets/new")
    assert response.status_code == 422 and outbox == []


# --------------------------------------------------------------------------- 4. frozen tags and custom fields
@pytest.mark.parametrize("status, reason", [
    ("closed", "A closed ticket is final: its tags and custom fields can no longer change."),
    ("cancelled", "A cancelled ticket's tags and custom fields can't change; reopen the ticket first."),
])
def test_closed_and_cancelled_tickets_keep_their_tags_and_fields(people, login, make_ticket, status, reason):
    ticket = make_ticket(people["customer"])
    services.ticket_set_tags(ticket=ticket, actor=people["agent"], text="billing")
    services.ticket_set_custom_fields(ticket=reload(Ticket, ticket.id), actor=people["agent"], text="order: 1")
    ticket = _set_status(reload(Ticket, ticket.id), status)
    entries_before = len(_history(ticket.id))
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    html = text(agent.get(page))
    assert reason in html
    assert 'name="tags" value="billing" placeholder="billing, login" disabled' in html
    assert "Save fields</button>" in html and 'placeholder="order: 1234" disabled' in html

    tags = agent.form_post(f"/tickets/{ticket.id}/tags", {"tags": "other"}, page=page, headers=HX)
    assert tags.status_code == 422
    fragment = text(tags)
    # The reason is shown at the tags form (between its input and the custom fields form).
    assert fragment.index('name="tags"') < fragment.index(f'<p class="error" role="alert">{reason}</p>') \
        < fragment.index('name="custom_fields"')
    fields = agent.form_post(f"/tickets/{ticket.id}/custom-fields", {"custom_fields": "order: 2"}, page=page,
                             headers=HX)
    assert fields.status_code == 422 and reason in text(fields)
    # Without JavaScript: back to the page with the reason.
    plain = agent.form_post(f"/tickets/{ticket.id}/tags", {"tags": "other"}, page=page)
    assert plain.status_code == 302 and reason in text(agent.get(plain.headers["Location"]))

    row = reload(Ticket, ticket.id)
    assert (row.tags, row.custom_fields) == (["billing"], {"order": "1"})
    assert len(_history(ticket.id)) == entries_before


def test_a_reopened_ticket_takes_tags_again_and_resolved_ones_still_do(people, login, make_ticket):
    ticket = _set_status(make_ticket(people["customer"]), "cancelled")
    agent = login(people["agent"])
    page = f"/tickets/{ticket.id}"
    assert agent.form_post(f"/tickets/{ticket.id}/status", {"status": "open"}, page=page,
                           headers=HX).status_code == 200
    assert agent.form_post(f"/tickets/{ticket.id}/tags", {"tags": "reopened"}, page=page,
                           headers=HX).status_code == 200
    services.ticket_change_status(ticket=reload(Ticket, ticket.id), actor=people["agent"], status="resolved")
    ok = agent.form_post(f"/tickets/{ticket.id}/custom-fields", {"custom_fields": "cause: cable"}, page=page,
                         headers=HX)
    assert ok.status_code == 200 and "disabled" not in text(ok).split('name="tags"')[1].split(">")[0]
    row = reload(Ticket, ticket.id)
    assert (row.tags, row.custom_fields) == (["reopened"], {"cause": "cable"})
    assert [h.field for h in _history(ticket.id, event="changed") if h.field in ("tags", "custom_fields")] == [
        "tags", "custom_fields"]

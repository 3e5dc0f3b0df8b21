"""Attachments: type judged on content, size and type limits from organization settings."""
from app.extensions import db
from app.tickets.attachments import sniff
from app.tickets.models import Ticket, TicketAttachment
from tests.tickets.conftest import PDF, PNG, text, upload


def _open(client, files, subject="With files"):
    return client.form_post("/tickets/new", {"subject": subject, "attachments": files}, page="/tickets/new",
                            content_type="multipart/form-data")


def test_sniff_reads_content_not_names():
    assert sniff(PNG, "x.txt")[1] == "image"
    assert sniff(PDF, "a.pdf") == ("application/pdf", "pdf")
    assert sniff(b"hello, world\n", "notes.txt") == ("text/plain", "text")
    assert sniff(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "setup.exe") is None
    assert sniff(b"PK\x03\x04rest", "report.docx")[1] == "archive"


def test_executable_renamed_to_pdf_is_refused_and_nothing_saved(people, login):
    customer = login(people["customer"])
    response = _open(customer, upload(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff", "invoice.pdf"))
    assert response.status_code == 422 and "this kind of file is not accepted" in text(response)
    assert db.session.scalar(db.select(db.func.count()).select_from(Ticket)) == 0


def test_content_that_contradicts_the_name_is_refused(people, login):
    customer = login(people["customer"])
    response = _open(customer, upload(PDF, "photo.png"))
    assert response.status_code == 422 and "does not match its name" in text(response)


def test_size_and_type_limits_come_from_settings(people, login):
    manager = login(people["manager"])
    response = manager.form_post("/tickets/settings", {"max_mb": "1", "kinds": ["pdf"], "retention_days": "10"},
                                 page="/tickets/sla")
    assert response.status_code == 302
    customer = login(people["customer"])
    too_big = _open(customer, upload(b"%PDF-" + b"0" * (1024 * 1024), "big.pdf"))
    assert too_big.status_code == 422 and "larger than the 1 MB limit" in text(too_big)
    image = _open(customer, upload(PNG, "shot.png"))
    assert image.status_code == 422 and "images" in text(image).lower() and "not accepted" in text(image)
    ok = _open(customer, upload(PDF, "fine.pdf"))
    assert ok.status_code == 302
    attachment = db.session.scalars(db.select(TicketAttachment)).one()
    assert (attachment.content_type, attachment.size, attachment.original_name) == ("application/pdf", len(PDF), "fine.pdf")


def test_bad_settings_are_refused(people, login):
    manager = login(people["manager"])
    response = manager.form_post("/tickets/settings", {"max_mb": "500", "kinds": [], "retention_days": "0"},
                                 page="/tickets/sla")
    assert response.status_code == 422

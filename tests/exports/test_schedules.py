"""Schedules: cron in time zones (DST), forms, exactly-once firing, mail to a real SMTP server, pausing."""
from __future__ import annotations

import io
import threading
import time
from datetime import datetime, timezone

import openpyxl
import pytest
import sqlalchemy as sa

from app.exports import cron, services
from app.exports.models import ExportRequest, ExportSchedule, ExportTemplate
from app.extensions import db
from app.platform import storage
from tests.exports.conftest import add_entries, storage_blocked
from tests.helpers import page_text, reload
from tests.platform.test_mail import inbox, mail_config, mail_worker, run_mail_jobs, smtp_server  # noqa: F401

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- cron
def test_next_run_is_computed_in_the_schedule_time_zone():
    # 09:00 in Paris is 08:00 UTC in winter, 07:00 UTC in summer.
    assert cron.next_run("0 9 * * *", "Europe/Paris", utc(2026, 1, 10, 12)) == utc(2026, 1, 11, 8)
    assert cron.next_run("0 9 * * *", "Europe/Paris", utc(2026, 7, 10, 12)) == utc(2026, 7, 11, 7)
    assert cron.next_run("0 9 * * 1-5", "UTC", utc(2026, 11, 21, 12)) == utc(2026, 11, 23, 9)  # Sat -> Mon


def test_dst_fall_back_runs_a_repeated_wall_time_once():
    # New York falls back on 2026-11-01: 01:30 happens at 05:30 and 06:30 UTC. Run at the first only.
    first = cron.next_run("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12))
    assert first == utc(2026, 11, 1, 5, 30)
    second = cron.next_run("30 1 * * *", "America/New_York", first)
    assert second == utc(2026, 11, 2, 6, 30)


def test_dst_spring_forward_runs_at_the_next_valid_time():
    # 02:30 does not exist in New York on 2026-03-08; the run happens once that day, after the jump.
    run = cron.next_run("30 2 * * *", "America/New_York", utc(2026, 3, 7, 12))
    assert utc(2026, 3, 8, 6) < run <= utc(2026, 3, 8, 8)
    assert cron.next_run("30 2 * * *", "America/New_York", run) == utc(2026, 3, 9, 6, 30)


def test_bad_patterns_and_zones_are_refused():
    with pytest.raises(cron.CronError) as exc:
        cron.check_pattern("61 * * * *")
    assert exc.value.field == "cron_pattern"
    with pytest.raises(cron.CronError):
        cron.check_pattern("* * * *")
    with pytest.raises(cron.CronError) as exc:
        cron.check_timezone("Mars/Olympus")
    assert exc.value.field == "timezone"
    assert cron.describe("0 9 * * 1-5", "Europe/Paris") == "At 09:00 AM, Monday through Friday (Europe/Paris)"


# --------------------------------------------------------------------------- pages
def _basic_template() -> ExportTemplate:
    return db.session.scalars(sa.select(ExportTemplate).where(
        ExportTemplate.name == "Basic Time Tracking Export")).one()


def _schedule_form(template, **extra):
    data = {"name": "Weekly hours", "template_id": str(template.id), "cron_pattern": "0 9 * * 1",
            "timezone": "Europe/Paris", "email_recipients": "admin@acme.example.com, Agent@acme.example.com",
            "include_download_link": "y"}
    data.update(extra)
    return data


def test_create_schedule_shows_words_and_next_run(people, login):
    client, auth = login(people["manager"])
    template = _basic_template()
    response = auth.post("/exports/schedules/new", _schedule_form(template), page="/exports/schedules/new")
    assert response.status_code == 302
    schedule = db.session.scalars(sa.select(ExportSchedule)).one()
    assert schedule.email_recipients == ["admin@acme.example.com", "agent@acme.example.com"]
    assert schedule.next_run > datetime.now(UTC) and schedule.next_run.weekday() == 0
    page = page_text(client.get("/exports/schedules"))
    assert "At 09:00 AM, only on Monday (Europe/Paris)" in page


@pytest.mark.parametrize("field,value,message", [
    ("cron_pattern", "every monday", "five fields"),
    ("cron_pattern", "0 12 31 4 *", "never runs"),
    ("timezone", "Paris", "Unknown time zone"),
    ("email_recipients", "not-an-email", "is not an email address"),
])
def test_bad_schedule_input_is_a_form_error(people, login, field, value, message):
    client, auth = login(people["manager"])
    response = auth.post("/exports/schedules/new", _schedule_form(_basic_template(), **{field: value}),
                         page="/exports/schedules/new")
    assert response.status_code == 422 and message in page_text(response)
    assert db.session.query(ExportSchedule).count() == 0


def test_other_peoples_schedules_are_404(people, login):
    client, auth = login(people["manager"])
    auth.post("/exports/schedules/new", _schedule_form(_basic_template()), page="/exports/schedules/new")
    schedule = db.session.scalars(sa.select(ExportSchedule)).one()
    for user in (people["agent"], people["other"]):
        other, _ = login(user)
        assert other.get(f"/exports/schedules/{schedule.id}/edit").status_code == 404


# --------------------------------------------------------------------------- firing
def _schedule(owner, *, template=None, next_run=None, **fields) -> ExportSchedule:
    template = template or _basic_template()
    fields.setdefault("email_recipients", ["admin@acme.example.com"])
    schedule = ExportSchedule(organization_id=owner.organization_id, user_id=owner.id, name="Nightly",
                              template_id=template.id, cron_pattern="0 * * * *", timezone="UTC",
                              next_run=next_run or utc(2026, 11, 20, 10), **fields)
    db.session.add(schedule)
    db.session.commit()
    return schedule


def test_a_due_slot_fires_once_and_next_run_moves_on(people, app_ctx):
    schedule = _schedule(people["agent"])
    now = utc(2026, 11, 20, 10, 0, 30)
    assert len(services.schedules_run_due(now=now)) == 1
    assert services.schedules_run_due(now=now) == []
    schedule = reload(ExportSchedule, schedule.id)
    assert schedule.next_run == utc(2026, 11, 20, 11) and schedule.last_run == now
    request = db.session.scalars(sa.select(ExportRequest)).one()
    assert request.is_scheduled and request.next_run == utc(2026, 11, 20, 10) and request.schedule_id == schedule.id


def test_two_workers_fire_a_slot_exactly_once(people, app):
    with app.app_context():
        schedule_id = _schedule(people["agent"]).id
    now = utc(2026, 11, 20, 10, 0, 30)
    barrier = threading.Barrier(2)
    results: list = []

    def worker():
        with app.app_context():
            barrier.wait()
            try:
                results.append(services.schedules_run_due(now=now))
            except Exception as exc:  # a lock timeout would be a failure to report, not to hide
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(r, list) for r in results), results
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportRequest).where(
            ExportRequest.schedule_id == schedule_id)) == 1
        db.session.remove()


def test_a_slot_fired_elsewhere_is_not_fired_again(people, app_ctx):
    """Unique (schedule, slot): a second insert for the same slot is refused by the database."""
    schedule = _schedule(people["agent"])
    services.schedules_run_due(now=utc(2026, 11, 20, 10, 1))
    schedule = reload(ExportSchedule, schedule.id)
    schedule.next_run = utc(2026, 11, 20, 10)  # as a second worker would still see it
    db.session.commit()
    assert services.schedules_run_due(now=utc(2026, 11, 20, 10, 1)) == []
    assert db.session.query(ExportRequest).count() == 1


def test_scheduled_export_is_mailed_with_attachment(people, app_ctx, run_mail_jobs, inbox):
    add_entries(people["agent"], 4, project="Apollo")
    template = db.session.scalars(sa.select(ExportTemplate).where(
        ExportTemplate.name == "Timesheet Workbook (Excel)")).one()
    schedule = _schedule(people["agent"], template=template, attach_file=True, include_download_link=True,
                         email_recipients=["admin@acme.example.com", "manager@acme.example.com"])
    services.schedules_run_due(now=utc(2026, 11, 20, 10, 0, 5))
    run_mail_jobs()
    messages = inbox.wait_for(2)
    request = db.session.scalars(sa.select(ExportRequest)).one()
    db.session.refresh(request)
    assert request.status == "completed", request.error_message
    assert sorted(m["To"] for m in messages) == ["admin@acme.example.com", "manager@acme.example.com"]
    message = messages[0]
    assert message["Subject"] == f"Cairn: scheduled export #{request.id.hex[-8:]} is ready"
    attachment = next(message.iter_attachments())
    assert attachment.get_filename().endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    assert len(list(book.worksheets[0].iter_rows())) == 5
    assert f"/exports/requests/{request.id}" in message.get_body(("plain",)).get_content()
    assert reload(ExportSchedule, schedule.id).run_count == 1


def test_a_mailed_csv_says_it_is_utf8(people, app_ctx, run_mail_jobs, inbox):
    """A text part without a charset is US-ASCII (RFC 2046): a mail reader decoded the CSV's accents, CJK and BOM
    as garbage."""
    add_entries(people["agent"], 2, project="Caf\u00e9", description="\u4e2d\u6587 \U0001F600")
    _schedule(people["agent"], attach_file=True, include_download_link=False)  # the built-in CSV template
    services.schedules_run_due(now=utc(2026, 11, 20, 10, 0, 5))
    run_mail_jobs()
    [message] = inbox.wait_for(1)
    request = db.session.scalars(sa.select(ExportRequest)).one()
    db.session.refresh(request)
    attachment = next(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv" and attachment.get_content_charset() == "utf-8"
    with open(storage.resolve(request.file_path), "rb") as handle:
        stored = handle.read()
    assert attachment.get_payload(decode=True) == stored
    assert attachment.get_content() == stored.decode("utf-8") and "Caf\u00e9" in attachment.get_content()


def test_scheduled_export_mail_goes_through_the_outbox_exactly_once(people, app_ctx, run_mail_jobs, inbox):
    """The SMTP server refuses the first two tries (451): each recipient still gets the message, with its
    attachment, exactly once; queueing the same export again (an old delivery job) adds nothing."""
    from app.exports import jobs as export_jobs
    from app.platform import mail

    add_entries(people["agent"], 3, project="Apollo")
    _schedule(people["agent"], attach_file=True, include_download_link=False,
              email_recipients=["admin@acme.example.com", "manager@acme.example.com"])
    inbox.refuse_next = 2
    services.schedules_run_due(now=utc(2026, 11, 20, 10, 0, 5))
    run_mail_jobs()
    messages = inbox.wait_for(2)
    request = db.session.scalars(sa.select(ExportRequest)).one()
    db.session.refresh(request)
    rows = db.session.scalars(sa.select(mail.OutboxMessage).order_by(mail.OutboxMessage.recipient)).all()
    assert [(r.recipient, r.status) for r in rows] == [("admin@acme.example.com", "sent"),
                                                        ("manager@acme.example.com", "sent")]
    assert sum(r.attempts for r in rows) == 4 and inbox.refused == 2
    assert rows[0].attachments == [{"path": request.file_path, "filename": services.download_filename(request),
                                    "content_type": rows[0].attachments[0]["content_type"],
                                    "size": request.file_size, "sha256": request.file_sha256}]
    assert sorted(m["To"] for m in messages) == ["admin@acme.example.com", "manager@acme.example.com"]
    attachment = next(messages[0].iter_attachments())
    with open(storage.resolve(request.file_path), "rb") as handle:
        assert attachment.get_payload(decode=True) == handle.read()  # the stored bytes, exactly

    assert export_jobs.deliver_scheduled_export(request.id) == "queued 0"
    mail.outbox_sweep()
    run_mail_jobs()
    time.sleep(0.3)
    assert len(inbox.received) == 2


def test_an_attachment_gone_before_sending_is_said_in_the_message(people, app_ctx, run_jobs):
    """The outbox holds a reference: a file that expired (or changed) before a late retry is not attached."""
    from app.platform import mail

    add_entries(people["agent"], 2)
    _schedule(people["agent"], attach_file=True, email_recipients=["admin@acme.example.com"])
    services.schedules_run_due(now=utc(2026, 11, 20, 10, 0, 5))
    run_jobs()
    request = db.session.scalars(sa.select(ExportRequest)).one()
    db.session.refresh(request)
    assert request.status == "completed"
    [row] = db.session.scalars(sa.select(mail.OutboxMessage)).all()
    assert len(list(mail.build_message(row).iter_attachments())) == 1
    storage.resolve(request.file_path).unlink()  # expired meanwhile
    message = mail.build_message(row)
    assert list(message.iter_attachments()) == []
    assert "is no longer available" in message.get_body(("plain",)).get_content()


def test_repeated_failures_pause_the_schedule_and_tell_the_owner(people, app, app_ctx, run_mail_jobs, inbox):
    add_entries(people["agent"], 2)
    schedule = _schedule(people["agent"])
    with storage_blocked(app, people["agent"].organization_id):
        for hour in (10, 11, 12):
            services.schedules_run_due(now=utc(2026, 11, 20, hour, 0, 5))
            run_mail_jobs()
    schedule = reload(ExportSchedule, schedule.id)
    assert schedule.failure_count == 3 and not schedule.is_active
    assert "Paused after 3 failures" in schedule.paused_reason
    messages = inbox.wait_for(1)
    assert any("Scheduled export paused: Nightly" == m["Subject"] for m in messages)
    assert services.schedules_run_due(now=utc(2026, 11, 20, 13, 0, 5)) == []


def test_a_deleted_organizations_schedules_wait_and_fire_once_it_is_restored(people, app_ctx):
    from app.accounts.models import Organization

    _schedule(people["agent"])
    now = utc(2026, 11, 20, 10, 0, 30)
    org = db.session.get(Organization, people["agent"].organization_id)
    org.soft_delete(reason="closing down")
    db.session.commit()
    assert services.schedules_run_due(now=now) == [] and db.session.scalar(
        sa.select(sa.func.count()).select_from(ExportRequest)) == 0
    reload(Organization, org.id).restore()
    db.session.commit()
    assert len(services.schedules_run_due(now=now)) == 1

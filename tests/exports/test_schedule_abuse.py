"""Scheduled exports are not a mail relay (issue 10, item 5): recipients are members of the organization or
addresses an admin verified, runs are at least 15 minutes apart, organizations have quotas, the subject holds
no user text, and customers schedule only when an admin allows it (and then only to themselves)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from app.exports import services
from app.exports.models import ExportRequest, ExportSchedule, ExportTemplate
from app.extensions import db
from tests.exports.conftest import add_entries
from tests.helpers import page_text
from tests.platform.test_mail import inbox, mail_config, mail_worker, run_mail_jobs, smtp_server  # noqa: F401

UTC = timezone.utc
NEW = "/exports/schedules/new"


def _template() -> ExportTemplate:
    return db.session.scalars(sa.select(ExportTemplate).where(
        ExportTemplate.name == "Basic Time Tracking Export")).one()


def _form(**extra) -> dict:
    data = {"name": "Weekly", "template_id": str(_template().id), "cron_pattern": "0 9 * * 1", "timezone": "UTC",
            "email_recipients": "manager@acme.example.com", "include_download_link": "y"}
    data.update(extra)
    return data


def _refused(auth, message: str, **extra) -> None:
    response = auth.post(NEW, _form(**extra), page=NEW)
    assert response.status_code == 422, response.status_code
    assert message in page_text(response)
    assert db.session.query(ExportSchedule).count() == 0


@pytest.mark.parametrize("recipient", ["victim@example.net", "admin@globex.example.com",
                                       "manager@acme.example.com, spam@example.org"])
def test_recipients_outside_the_organization_are_refused(people, login, recipient):
    client, auth = login(people["manager"])
    _refused(auth, "go to members of your organization only", email_recipients=recipient)


def test_an_address_an_admin_verified_is_accepted(people, login):
    client, auth = login(people["admin"])
    response = auth.post("/exports/settings", {"verified_recipients": "Accountant@Books.example.net\n"},
                         page="/exports/settings")
    assert response.status_code == 302
    client, auth = login(people["manager"])
    response = auth.post(NEW, _form(email_recipients="accountant@books.example.net, agent@acme.example.com"),
                         page=NEW)
    assert response.status_code == 302
    assert db.session.scalars(sa.select(ExportSchedule)).one().email_recipients == [
        "accountant@books.example.net", "agent@acme.example.com"]


def test_only_an_admin_changes_the_exports_settings(people, login):
    for role in ("manager", "agent", "customer"):
        client, auth = login(people[role])
        assert client.get("/exports/settings").status_code in (302, 403, 404)


@pytest.mark.parametrize("pattern", ["* * * * *", "*/5 * * * *", "0,10 9 * * 1", "*/14 * * * *", "0-3 * * * *"])
def test_patterns_running_more_often_than_every_15_minutes_are_refused(people, login, pattern):
    client, auth = login(people["manager"])
    _refused(auth, "schedules run at most every 15 minutes", cron_pattern=pattern)


def test_every_15_minutes_is_allowed(people, login):
    client, auth = login(people["manager"])
    assert auth.post(NEW, _form(cron_pattern="*/15 * * * *"), page=NEW).status_code == 302


def test_schedules_per_organization_are_limited(people, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORTS_SCHEDULES_PER_ORGANIZATION", 2)
    client, auth = login(people["manager"])
    for name in ("one", "two"):
        assert auth.post(NEW, _form(name=name), page=NEW).status_code == 302
    response = auth.post(NEW, _form(name="three"), page=NEW)
    assert response.status_code == 422 and "its limit" in page_text(response)
    assert db.session.query(ExportSchedule).count() == 2


def _due_schedule(owner, name="Nightly", **fields) -> ExportSchedule:
    fields.setdefault("email_recipients", [owner.email])
    schedule = ExportSchedule(organization_id=owner.organization_id, user_id=owner.id, name=name,
                              template_id=_template().id, cron_pattern="0 * * * *", timezone="UTC",
                              next_run=datetime(2026, 11, 20, 10, tzinfo=UTC), **fields)
    db.session.add(schedule)
    db.session.commit()
    return schedule


def test_scheduled_runs_per_organization_per_day_are_limited(people, app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORTS_SCHEDULED_RUNS_PER_DAY", 2)
    for i in range(3):
        _due_schedule(people["manager"], name=f"s{i}")
    services.schedules_run_due(now=datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC))
    assert db.session.query(ExportRequest).count() == 2
    skipped = [s for s in db.session.scalars(sa.select(ExportSchedule)) if s.run_count == 0 and not
               db.session.query(ExportRequest).filter_by(schedule_id=s.id).count()]
    assert len(skipped) == 1 and skipped[0].next_run > datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)


def test_the_subject_holds_no_user_text_and_only_current_members_get_mail(people, app_ctx, run_mail_jobs,  # noqa: F811
                                                                          inbox):  # noqa: F811
    add_entries(people["agent"], 2)
    schedule = _due_schedule(people["agent"], name="WIN A PRIZE http://spam.example",
                             email_recipients=["agent@acme.example.com", "manager@acme.example.com"],
                             include_download_link=True)
    people["manager"].is_active = False  # left the organization after the schedule was made
    db.session.commit()
    services.schedules_run_due(now=datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC))
    run_mail_jobs()
    messages = inbox.wait_for(1)
    request = db.session.scalars(sa.select(ExportRequest)).one()
    assert [m["To"] for m in messages] == ["agent@acme.example.com"]
    assert messages[0]["Subject"] == f"Cairn: scheduled export #{request.id.hex[-8:]} is ready"
    assert "PRIZE" not in messages[0]["Subject"] and "spam" not in messages[0]["Subject"]
    assert schedule.id == request.schedule_id


def test_customers_cannot_schedule_unless_an_admin_allows_it(people, login):
    client, auth = login(people["customer"])
    assert client.get(NEW).status_code == 403
    assert auth.post(NEW, _form(email_recipients="customer@acme.example.com"), page="/exports/schedules"
                     ).status_code == 403
    assert "New schedule" not in page_text(client.get("/exports/schedules"))
    assert db.session.query(ExportSchedule).count() == 0

    admin_client, admin_auth = login(people["admin"])
    assert admin_auth.post("/exports/settings", {"customers_may_schedule": "y", "verified_recipients": ""},
                           page="/exports/settings").status_code == 302
    client, auth = login(people["customer"])
    _refused(auth, "go to yourself only", email_recipients="manager@acme.example.com")
    assert auth.post(NEW, _form(email_recipients="customer@acme.example.com"), page=NEW).status_code == 302

    # The admin turns it off again: the customer's schedule no longer fires.
    assert admin_auth.post("/exports/settings", {"verified_recipients": ""}, page="/exports/settings"
                           ).status_code == 302
    schedule = db.session.scalars(sa.select(ExportSchedule)).one()
    schedule.next_run = datetime(2026, 11, 20, 10, tzinfo=UTC)
    db.session.commit()
    services.schedules_run_due(now=datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC))
    assert db.session.query(ExportRequest).count() == 0


def test_every_field_problem_shows_at_once(people, login):
    """A schedule with four mistakes shows four messages on the first try, each at its field (the service
    stopped at the first: no template, then the cron pattern, then the recipients...)."""
    client, auth = login(people["manager"])
    response = auth.post(NEW, _form(name="  ", template_id="", cron_pattern="61 * * * *", email_recipients="",
                                    include_download_link=""), page=NEW)
    assert response.status_code == 422
    text = page_text(response)
    for message in ("Give the schedule a name.", "Choose a template.", "Add at least one recipient.",
                    "Send a link, the file, or both."):
        assert message in text, message
    assert "The minute field \u201c61\u201d is not valid" in text  # the cron pattern's own message
    assert db.session.query(ExportSchedule).count() == 0

"""Every exports URL with an object id answers 404 to another organization (and never changes the object)."""
from __future__ import annotations

import sqlalchemy as sa

from app.exports import services
from app.exports.models import ExportRequest, ExportSchedule, ExportTemplate, TimeEntry
from app.extensions import db
from tests.exports.conftest import add_entries


def _acme_objects(people) -> dict[str, int]:
    admin = people["admin"]
    add_entries(admin, 1)
    actor = services.Actor(admin)
    template = services.template_create(actor=actor, name="Acme template", description="", format="csv",
                                        dataset="time_entries", fields=["date"], headers=None, default_filters=None,
                                        orientation="portrait")
    request = services.export_request_create(actor=actor, title="Acme export", format="csv",
                                             dataset="time_entries", fields=["date"], submit=False)
    db.session.commit()
    schedule = services.schedule_create(actor=actor, name="Acme schedule", template=template, cron_pattern="0 8 * * *",
                                        timezone_name="UTC", recipients=admin.email, include_download_link=True,
                                        attach_file=False)
    entry = db.session.scalars(sa.select(TimeEntry)).one()
    return {"entry_id": entry.id, "request_id": request.id, "template_id": template.id, "schedule_id": schedule.id}


def test_every_object_url_is_404_for_another_organization(app, people, login):
    ids = _acme_objects(people)
    client, auth = login(people["other"])
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("exports.") and r.arguments
             and r.arguments != {"token"}]  # /file/<token>: see test_links_are_bound_to_user_and_tenant...
    assert len(rules) >= 11
    for rule in rules:
        url = rule.build({name: ids[name] for name in rule.arguments})[1]
        if "GET" in rule.methods:
            assert client.get(url).status_code == 404, url
        if "POST" in rule.methods:
            assert auth.post(url, {"name": "x", "user_ids": [people["other"].id]},
                             page="/exports/").status_code == 404, url
    db.session.expire_all()
    assert db.session.get(TimeEntry, ids["entry_id"]) is not None
    assert db.session.get(ExportRequest, ids["request_id"]) is not None
    assert db.session.get(ExportTemplate, ids["template_id"]).shared_with == []
    assert db.session.get(ExportSchedule, ids["schedule_id"]).is_active

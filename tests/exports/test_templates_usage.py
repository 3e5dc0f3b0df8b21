"""Templates (private, organization, shared), the built-in ones, and usage stats with their page."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.exports import services
from app.exports.models import ExportAuditLog, ExportTemplate, ExportUsageStats
from app.extensions import db
from app.platform.models import utcnow
from tests.exports.conftest import add_entries
from tests.exports.test_exports import finished, start_export
from tests.helpers import page_text


def _create(auth, **extra):
    data = {"name": "My hours", "format": "pdf", "dataset": "time_entries", "fields": ["date", "project", "hours"],
            "header_hours": "Hours worked", "orientation": "landscape", "filter_project": "Apollo"}
    data.update(extra)
    return auth.post("/exports/templates/new", data, page="/exports/templates/new")


def test_builtin_templates_exist_after_migration(people, login):
    names = set(db.session.scalars(sa.select(ExportTemplate.name).where(ExportTemplate.organization_id.is_(None))))
    assert "Basic Time Tracking Export" in names
    basic = db.session.scalars(sa.select(ExportTemplate).where(
        ExportTemplate.name == "Basic Time Tracking Export")).one()
    assert basic.format == "csv" and basic.fields == ["date", "project", "task", "duration", "description"]
    client, _ = login(people["customer"])
    assert "Basic Time Tracking Export" in page_text(client.get("/exports/templates"))


def test_private_template_then_shared_then_public(people, login):
    client, auth = login(people["agent"])
    assert _create(auth).status_code == 302
    template = db.session.scalars(sa.select(ExportTemplate).where(ExportTemplate.name == "My hours")).one()
    assert template.headers == ["Date", "Project", "Hours worked"] and template.landscape
    assert template.default_filters == {"project": "Apollo"}
    manager, manager_auth = login(people["manager"])
    foreign, _ = login(people["other"])
    assert "My hours" not in page_text(manager.get("/exports/templates"))
    assert manager.get(f"/exports/new?template={template.id}").status_code == 404
    response = auth.post(f"/exports/templates/{template.id}/share", {"user_ids": [people["manager"].id]},
                         page=f"/exports/templates/{template.id}/edit")
    assert response.status_code == 302
    assert "My hours" in page_text(manager.get("/exports/templates"))
    assert manager.get(f"/exports/new?template={template.id}").status_code == 200
    assert manager.get(f"/exports/templates/{template.id}/edit").status_code == 403
    shared = db.session.scalars(sa.select(ExportAuditLog).where(ExportAuditLog.action == "shared")).one()
    assert shared.additional_data["shared_with"] == ["manager@acme.example.com"]
    customer, _ = login(people["customer"])
    assert "My hours" not in page_text(customer.get("/exports/templates"))
    data = {"name": "My hours", "format": "pdf", "fields": ["date"], "orientation": "portrait", "is_public": "y"}
    assert auth.post(f"/exports/templates/{template.id}/edit", data,
                     page=f"/exports/templates/{template.id}/edit").status_code == 302
    assert "My hours" in page_text(customer.get("/exports/templates"))
    assert "My hours" not in page_text(foreign.get("/exports/templates"))
    assert foreign.get(f"/exports/templates/{template.id}/edit").status_code == 404


def test_template_needs_a_name_and_fields(people, login):
    client, auth = login(people["agent"])
    response = _create(auth, name="", fields=[])
    assert response.status_code == 422 and "Give the template a name" in page_text(response)
    response = _create(auth, fields=[])
    assert response.status_code == 422 and "at least one field" in page_text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExportTemplate)
                             .where(ExportTemplate.organization_id.is_not(None))) == 0


def test_builtin_templates_cannot_be_edited_or_deleted(people, login):
    basic = db.session.scalars(sa.select(ExportTemplate).where(
        ExportTemplate.name == "Basic Time Tracking Export")).one()
    client, auth = login(people["admin"])
    assert client.get(f"/exports/templates/{basic.id}/edit").status_code == 403
    auth.post(f"/exports/templates/{basic.id}/delete", page="/exports/templates")
    assert db.session.get(ExportTemplate, basic.id) is not None


def test_usage_rollup_and_page(people, login, run_jobs):
    add_entries(people["agent"], 5)
    client, auth = login(people["agent"])
    start_export(auth, format="csv")
    finished(run_jobs)
    start_export(auth, format="json")
    finished(run_jobs)
    assert services.usage_rollup() == 1
    assert services.usage_rollup() == 1  # idempotent
    stats = db.session.scalars(sa.select(ExportUsageStats)).one()
    assert (stats.total_exports, stats.csv_exports, stats.json_exports, stats.failed_exports) == (2, 1, 1, 0)
    assert stats.total_records_exported == 10 and stats.total_file_size > 0
    assert stats.avg_processing_time is not None and stats.avg_processing_time < timedelta(minutes=5)
    assert stats.date == utcnow().date()
    page = page_text(client.get("/exports/usage"))
    assert '<meter min="0" max="2" value="2"' in page and "rows exported" in page
    other, _ = login(people["customer"])
    assert '<meter min="0" max="1" value="2"' not in page_text(other.get("/exports/usage"))

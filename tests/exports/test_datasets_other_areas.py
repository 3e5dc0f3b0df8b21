"""Other areas' datasets (tickets, projects): exported through the real service and job to CSV, read back,
holding only the rows the user's role and tenant can see in the UI."""
from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from app.exports import services
from app.exports.models import ExportRequest
from app.platform.jobs import SUCCEEDED
from app.extensions import db


def _export_csv(user, run_jobs, dataset, fields, **kwargs) -> list[dict]:
    row = services.export_request_create(actor=services.Actor(user), title=f"{dataset} export", format="csv",
                                         dataset=dataset, fields=fields, **kwargs)
    db.session.commit()
    request_id = row.id
    run_jobs()
    db.session.expire_all()
    row = db.session.get(ExportRequest, request_id)
    assert row.status == row.status_value(SUCCEEDED), (row.status, row.error_message)
    from app.platform import storage
    body = storage.resolve(row.file_path).read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def _ticket(customer, subject, priority="medium"):
    from app.tickets import services as tickets

    ticket = tickets.ticket_create(organization=customer.organization, actor=customer, customer=customer,
                                   subject=subject, description="It smokes.", priority=priority)
    db.session.commit()
    return ticket


def test_tickets_follow_role_and_tenant(people, make_user, run_jobs):
    second = make_user(people["acme"], "customer", "second@acme.example.com")
    outsider = make_user(people["globex"], "customer", "customer@globex.example.com")
    _ticket(people["customer"], "Mine one", "high")
    _ticket(people["customer"], "Mine two")
    _ticket(second, "Second's")
    _ticket(outsider, "Globex's")
    fields = ["number", "subject", "status", "priority", "customer", "assignee", "created_at", "sla_breached"]

    rows = _export_csv(people["customer"], run_jobs, "tickets", fields)
    assert sorted(r["Subject"] for r in rows) == ["Mine one", "Mine two"]
    assert {r["Customer email"] for r in rows} == {"customer@acme.example.com"}

    rows = _export_csv(people["agent"], run_jobs, "tickets", fields)
    assert sorted(r["Subject"] for r in rows) == ["Mine one", "Mine two", "Second's"]

    rows = _export_csv(people["manager"], run_jobs, "tickets", ["subject"], filters={"priority": "high"})
    assert [r["Subject"] for r in rows] == ["Mine one"]

    rows = _export_csv(people["other"], run_jobs, "tickets", ["subject"])
    assert [r["Subject"] for r in rows] == ["Globex's"]


def test_trashed_tickets_are_not_exported(people, run_jobs):
    from app.tickets.models import Ticket

    _ticket(people["customer"], "Kept")
    gone = _ticket(people["customer"], "Trashed")
    db.session.execute(sa.update(Ticket).where(Ticket.id == gone.id).values(is_active=False))
    db.session.commit()
    rows = _export_csv(people["admin"], run_jobs, "tickets", ["subject"])
    assert [r["Subject"] for r in rows] == ["Kept"]


def test_projects_only_the_owners(people, run_jobs):
    from app.projects import services as projects

    projects.project_create(owner=people["agent"], project_type="school", name="Agent's course",
                            course_name="Algebra", course_code="MA101", teacher_name="Ms Noether")
    projects.project_create(owner=people["admin"], project_type="self_study", name="Admin's study",
                            goal_description="Learn Go", study_frequency="daily", publish=True)
    projects.project_create(owner=people["other"], project_type="school", name="Globex course",
                            course_name="History", course_code="HI1", teacher_name="Mr Gibbon")
    db.session.commit()
    fields = ["name", "type", "course_name", "course_code", "teacher", "goal", "study_frequency", "state",
              "created_at"]

    rows = _export_csv(people["agent"], run_jobs, "projects", fields)
    assert [(r["Name"], r["Course code"], r["Teacher"], r["Draft/published"]) for r in rows] == [
        ("Agent's course", "MA101", "Ms Noether", "draft")]

    rows = _export_csv(people["admin"], run_jobs, "projects", fields)  # admins too: their own only
    assert [(r["Name"], r["Goal"], r["Draft/published"]) for r in rows] == [("Admin's study", "Learn Go", "published")]

    rows = _export_csv(people["other"], run_jobs, "projects", ["name"])
    assert [r["Name"] for r in rows] == ["Globex course"]

    assert _export_csv(people["manager"], run_jobs, "projects", ["name"]) == []


def _name(workspace, value, *, rule=None, field=None, active=True, dimensions=None):
    from app.rules.models import GeneratedName

    row = GeneratedName(organization_id=workspace.organization_id, workspace_id=workspace.id, value=value,
                        normalized=value, reversed_value=value[::-1], dimension_values=dimensions or {},
                        rule_id=rule.id if rule else None, field_id=field.id if field else None, is_active=active)
    db.session.add(row)
    db.session.commit()
    return row


def _export_names_via_pages(app, user, run_jobs, fields, workspace=None) -> list[dict]:
    """Through the exports page, so the workspace comes from the user's session, then the job, then the CSV."""
    from tests.helpers import signed_in

    client, auth = signed_in(app, user)
    if workspace is not None:
        response = auth.post("/workspaces/switch", {"workspace_id": workspace.id, "next": "/exports/new"},
                             page="/exports/new")
        assert response.status_code == 302
    response = auth.post("/exports/new", {"title": "Names", "format": "csv", "dataset": "names",
                                          "selected_fields": fields, "template_id": ""},
                         page="/exports/new?dataset=names")
    assert response.status_code == 302, response.status_code
    run_jobs()
    db.session.expire_all()
    row = db.session.scalars(sa.select(ExportRequest).order_by(ExportRequest.id.desc())).first()
    assert row.dataset == "names" and row.status == row.status_value(SUCCEEDED), (row.status, row.error_message)
    from app.platform import storage
    body = storage.resolve(row.file_path).read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_names_are_staff_only_and_limited_to_the_current_workspace(app, people, run_jobs):
    from app.accounts.models import Workspace
    from tests.factories import workspace_of
    from tests.rules.conftest import build_naming

    general = workspace_of(people["acme"])
    other = Workspace(organization_id=people["acme"].id, name="Other", slug="other")
    db.session.add(other)
    db.session.commit()
    naming = build_naming(general)
    db.session.commit()
    _name(general, "dev-web-weu-001", rule=naming.rule, field=naming.field, dimensions={"environment": "dev"})
    _name(general, "dev-web-weu-002", rule=naming.rule, field=naming.field, active=False)
    _name(other, "other-ws-name")
    _name(workspace_of(people["globex"]), "globex-name")
    fields = ["value", "rule", "field", "dimensions", "state", "created_at"]

    rows = _export_names_via_pages(app, people["agent"], run_jobs, fields)  # default: General
    assert [(r["Value"], r["Rule"], r["Field"], r["Active/released"]) for r in rows] == [
        ("dev-web-weu-001", "Resource groups", "resource group", "active"),
        ("dev-web-weu-002", "Resource groups", "resource group", "released")]
    assert "environment" in rows[0]["Dimension values"] and "dev" in rows[0]["Dimension values"]

    rows = _export_names_via_pages(app, people["manager"], run_jobs, ["value"], workspace=other)
    assert [r["Value"] for r in rows] == ["other-ws-name"]

    rows = _export_names_via_pages(app, people["other"], run_jobs, ["value"])
    assert [r["Value"] for r in rows] == ["globex-name"]


def test_names_refused_to_customers_and_empty_without_a_stored_workspace(people, run_jobs):
    import pytest

    from app.exports.services import ExportError
    from tests.factories import workspace_of

    _name(workspace_of(people["acme"]), "acme-name")
    with pytest.raises(ExportError):
        services.export_request_create(actor=services.Actor(people["customer"]), title="Names", format="csv",
                                       dataset="names", fields=["value"])
    db.session.rollback()
    assert _export_csv(people["admin"], run_jobs, "names", ["value"]) == []  # no workspace stored: nothing
    assert _export_csv(people["admin"], run_jobs, "names", ["value"],
                       filters={"workspace_id": workspace_of(people["globex"]).id}) == []  # another org's: nothing

"""`flask seed-demo`: every area's demo data, loaded once, through the CLI as `make run` runs it."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import Organization, User
from app.cli import DEMO_AREAS, DEMO_LOADED_SETTING
from app.exports.models import ExportTemplate, TimeEntry
from app.extensions import db
from app.platform.jobs import QUEUED, RUNNING, BackgroundTask, job_models
from app.projects.models import ImportantDate, Project, ProjectMeta
from app.rules.models import (
    Dimension,
    DimensionValue,
    GeneratedName,
    Generation,
    Platform,
    Rule,
    RuleField,
    RulePreview,
)
from app.tickets.models import KnowledgeArticle, SLAPolicy, Ticket, TicketComment

COUNTED = (Organization, User, SLAPolicy, KnowledgeArticle, Ticket, TicketComment, Dimension, DimensionValue,
           Platform, Rule, RuleField, RulePreview, Generation, GeneratedName, Project, ProjectMeta, ImportantDate,
           TimeEntry, BackgroundTask)


def _seed(app):
    return app.test_cli_runner().invoke(args=["seed-demo"])


def _counts(app) -> dict[str, int]:
    with app.app_context():
        counts = {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                  for model in COUNTED}
        counts["ExportTemplate"] = db.session.scalar(sa.select(sa.func.count()).select_from(ExportTemplate)
                                                     .where(ExportTemplate.organization_id.is_not(None)))
        return counts


def _unfinished_jobs(app) -> int:
    with app.app_context():
        return sum(db.session.scalar(sa.select(sa.func.count()).select_from(model)
                                     .where(model.status_in(QUEUED, RUNNING))) for model in job_models())


def test_seed_demo_loads_every_area_once(app):
    first = _seed(app)
    assert first.exit_code == 0, first.output
    assert "Demo data loaded." in first.output and "customer2@demo.example.com" in first.output
    counts = _counts(app)
    assert counts == {
        "Organization": 1, "User": 5, "SLAPolicy": 1, "KnowledgeArticle": 3, "Ticket": 12, "TicketComment": 15,
        "Dimension": 3, "DimensionValue": 6, "Platform": 2, "Rule": 2, "RuleField": 2, "RulePreview": 1,
        "Generation": 1, "GeneratedName": 6, "Project": 2, "ProjectMeta": 7, "ImportantDate": 6, "TimeEntry": 21,
        # No job: the demo renames the organization's own default SLA policy, whose targets it keeps.
        "BackgroundTask": 0, "ExportTemplate": 1,
    }

    with app.app_context():
        org = db.session.scalars(sa.select(Organization).where(Organization.slug == "demo")).one()
        assert org.setting(DEMO_LOADED_SETTING) == list(DEMO_AREAS)
        users = {u.email.split("@")[0]: u for u in db.session.scalars(sa.select(User))}
        tickets = list(db.session.scalars(sa.select(Ticket)))
        assert {t.status for t in tickets} == {"new", "open", "pending", "resolved", "closed", "cancelled"}
        assert {t.priority for t in tickets} == {"low", "medium", "high", "urgent"}
        assert {t.customer_id for t in tickets} == {users["customer"].id, users["customer2"].id}
        assert sum(t.assigned_agent_id == users["agent"].id for t in tickets) >= 5
        assert all(t.first_response_due and t.resolution_due and t.sla_policy_id for t in tickets)
        assert [t.customer_satisfaction_score for t in tickets if t.customer_satisfaction_score] == [5]
        assert all(t.tags for t in tickets if t.status != "cancelled")
        notes = db.session.scalar(sa.select(sa.func.count()).select_from(TicketComment)
                                  .where(TicketComment.comment_type == "note"))
        assert 1 <= notes < counts["TicketComment"]

        generation = db.session.scalars(sa.select(Generation)).one()
        assert (generation.status, generation.result_count) == ("completed", 6)
        names = set(db.session.scalars(sa.select(GeneratedName.value)))
        assert "prodbillingweu001" in names and all(len(n) <= 24 and n.isalnum() for n in names)
        preview = db.session.scalars(sa.select(RulePreview)).one()
        assert preview.generated_examples[0]["value"] == "prodbillingweu001"

        assert sorted(p.project_type for p in db.session.scalars(sa.select(Project))) == ["school", "self_study"]
        assert all(not p.is_draft and p.start_date and p.end_date for p in db.session.scalars(sa.select(Project)))
        by_member = dict(db.session.execute(sa.select(TimeEntry.user_id, sa.func.count()).group_by(TimeEntry.user_id)).all())
        assert by_member == {users["agent"].id: 11, users["manager"].id: 10}
        assert len({d for d in db.session.scalars(sa.select(TimeEntry.date))}) == 5
    assert _unfinished_jobs(app) == 0  # the generation and the SLA recompute ran during the command

    second = _seed(app)
    assert second.exit_code == 0, second.output
    assert "Demo data already present." in second.output
    assert _counts(app) == counts


def test_a_failing_loader_fails_the_command_and_a_rerun_completes_the_demo(app, monkeypatch):
    from app.exports import services as export_services

    def broken(**_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_services, "template_create", broken)
    failed = _seed(app)
    assert failed.exit_code != 0
    assert "Loading the demo exports failed: disk full" in failed.output
    with app.app_context():
        org = db.session.scalars(sa.select(Organization).where(Organization.slug == "demo")).one()
        assert org.setting(DEMO_LOADED_SETTING) == [a for a in DEMO_AREAS if a != "exports"]
    partial = _counts(app)
    assert partial["TimeEntry"] == 21 and partial["ExportTemplate"] == 0  # saved before the failure

    monkeypatch.undo()
    rerun = _seed(app)
    assert rerun.exit_code == 0, rerun.output
    assert "Demo exports loaded." in rerun.output and "Demo tickets loaded." not in rerun.output
    assert _counts(app) == {**partial, "ExportTemplate": 1}
    with app.app_context():
        org = db.session.scalars(sa.select(Organization).where(Organization.slug == "demo")).one()
        assert org.setting(DEMO_LOADED_SETTING) == list(DEMO_AREAS)


def test_an_organization_from_an_older_demo_gets_the_areas_and_the_new_customer(app):
    """`seed-demo` used to create only the organization and four users: a re-run fills in the rest."""
    from tests.factories import make_member, make_organization

    with app.app_context():
        org = make_organization("Demo")
        assert org.slug == "demo"
        for role in ("admin", "manager", "agent", "customer"):
            make_member(org, role, f"{role}@demo.example.com")
    result = _seed(app)
    assert result.exit_code == 0, result.output
    counts = _counts(app)
    assert (counts["User"], counts["Ticket"], counts["Generation"], counts["TimeEntry"]) == (5, 12, 1, 21)


def test_an_unrelated_organization_named_demo_is_left_alone(app):
    from tests.factories import make_member, make_organization

    with app.app_context():
        make_member(make_organization("Demo"), "admin", "owner@somewhere.example.com")
    result = _seed(app)
    assert result.exit_code != 0 and "is not the demo" in result.output
    assert _counts(app)["Ticket"] == 0 and _counts(app)["User"] == 1

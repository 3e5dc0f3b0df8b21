"""Generations as jobs: cartesian product, options, uniqueness among active names, release, propagation."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.rules.models import GeneratedName, Generation, PropagationRun
from tests.helpers import page_text, reload, signed_in
from tests.rules.conftest import all_values


def _generate(auth, rule, **extra):
    data = {"rule": str(rule.id), "dim_environment": ["dev", "prod"], "dim_project": ["web"],
            "dim_region": ["weu", "neu"], **extra}
    return auth.post(f"/rules/generations/new?rule={rule.id}", data, page="/rules/generations/new")


def _last_generation():
    db.session.expire_all()
    return db.session.scalars(sa.select(Generation).order_by(Generation.id.desc())).first()


def test_generation_runs_as_a_job_and_stores_the_product(app, naming, admin, held_jobs):
    client, auth = signed_in(app, admin)
    response = _generate(auth, naming.rule)
    assert response.status_code == 302
    generation = _last_generation()
    assert generation.status == "pending"
    page = page_text(client.get(response.headers["Location"]))
    assert 'hx-trigger="every 1s"' in page
    # The names section waits for this generation's panel to turn succeeded, then fetches itself.
    assert f'target:#job-rules_generation-{generation.id}[data-status=succeeded]' in page
    # A real worker (the PostgreSQL pass) may already be storing names: the section shows those so far or,
    # before the first, says when they will appear; either way it refills itself when the panel succeeds.
    names_section = page.split('id="generation-names"', 1)[1].split("</section>", 1)[0]
    assert "The names appear here when the generation completes" in names_section or "<tr" in names_section
    held_jobs()
    generation = _last_generation()
    assert (generation.status, generation.result_count, generation.error_message) == ("completed", 4, None)
    assert all_values(naming.workspace.id) == ["dev-web-neu-001", "dev-web-weu-001", "prod-web-neu-001",
                                               "prod-web-weu-001"]
    name = db.session.scalars(sa.select(GeneratedName).where(GeneratedName.value == "dev-web-neu-001")).one()
    assert name.dimension_values == {"environment": "dev", "project": "web", "region": "neu"}
    assert (name.rule_id, name.field_id, name.generation_id, name.submission_id) == (
        naming.rule.id, naming.field.id, generation.id, generation.submission_id)
    done = page_text(client.get(f"/rules/generations/{generation.id}"))
    assert "4 name(s) generated" in done and "every 1s" not in done
    assert "prod-web-weu-001" in done and "target:#job-rules_generation" not in done  # nothing left to wait for
    names = client.get(f"/rules/generations/{generation.id}", headers={"HX-Request": "true"})
    fragment = page_text(names)
    assert names.status_code == 200 and "<html" not in fragment and 'id="generation-names"' in fragment
    assert fragment.count("<tr") == 5 and "dev-web-neu-001" in fragment and "hx-trigger" not in fragment
    history = page_text(client.get("/rules/generations?status=completed"))
    assert f"#{generation.id}" in history
    assert f"#{generation.id}" not in page_text(client.get("/rules/generations?status=failed"))


def test_conflict_fails_whole_generation_unless_told_otherwise(app, naming, admin, run_jobs):
    client, auth = signed_in(app, admin)
    _generate(auth, naming.rule, dim_environment=["dev"], dim_region=["weu"])
    run_jobs()
    assert all_values(naming.workspace.id) == ["dev-web-weu-001"]

    _generate(auth, naming.rule)  # 4 names, one of them taken
    run_jobs()
    failed = _last_generation()
    assert failed.status == "failed" and "nothing was kept" in failed.error_message
    assert "already taken" in failed.error_message
    assert all_values(naming.workspace.id) == ["dev-web-weu-001"]

    _generate(auth, naming.rule, continue_on_error="y")
    run_jobs()
    partial = _last_generation()
    assert (partial.status, partial.result_count, partial.result["error_count"]) == ("completed", 3, 1)

    _generate(auth, naming.rule, auto_increment="y")
    run_jobs()
    bumped = _last_generation()
    assert (bumped.status, bumped.result_count, bumped.result["incremented"]) == ("completed", 4, 4)
    values = all_values(naming.workspace.id)
    assert len(values) == 8 and len(set(values)) == 8
    assert [v for v in values if v.endswith("-002")] == ["dev-web-neu-002", "dev-web-weu-002", "prod-web-neu-002",
                                                         "prod-web-weu-002"]


def test_validate_only_stores_nothing(app, naming, admin, run_jobs):
    client, auth = signed_in(app, admin)
    _generate(auth, naming.rule, validate_only="y")
    run_jobs()
    generation = _last_generation()
    assert generation.status == "completed" and generation.result_count == 4
    assert [s["value"] for s in generation.result["sample"]][:1] == ["dev-web-weu-001"]
    assert all_values(naming.workspace.id) == []
    page = page_text(client.get(f"/rules/generations/{generation.id}"))
    assert "would be made" in page and "Conflict-check all 4 names" in page  # test_conflicts runs that check


def test_bad_requests_are_refused_on_the_form(app, naming, admin):
    client, auth = signed_in(app, admin)
    missing = _generate(auth, naming.rule, dim_region=[])
    assert missing.status_code == 422 and "Choose at least one value for region" in page_text(missing)
    unknown = _generate(auth, naming.rule, dim_region=["mars"])
    assert unknown.status_code == 422 and "has no value" in page_text(unknown)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Generation)) == 0


def test_release_makes_a_name_available_again_and_search(app, naming, admin, run_jobs):
    client, auth = signed_in(app, admin)
    _generate(auth, naming.rule)
    run_jobs()
    name = db.session.scalars(sa.select(GeneratedName).where(GeneratedName.value == "prod-web-weu-001")).one()
    found = page_text(client.get("/rules/names?q=prod-web-w"))
    assert "prod-web-weu-001" in found and "dev-web-neu-001" not in found
    by_value = page_text(client.get("/rules/names?dimension=region&value=neu"))
    assert "dev-web-neu-001" in by_value and "prod-web-weu-001" not in by_value
    assert auth.post(f"/rules/names/{name.id}/release").status_code == 302
    assert reload(GeneratedName, name.id).is_active is False
    _generate(auth, naming.rule, dim_environment=["prod"], dim_region=["weu"])
    run_jobs()
    assert _last_generation().status == "completed"
    assert all_values(naming.workspace.id).count("prod-web-weu-001") == 1
    taken = auth.post(f"/rules/names/{name.id}/restore")
    assert taken.status_code == 302 and reload(GeneratedName, name.id).is_active is False  # taken again meanwhile


def test_renaming_a_value_offers_propagation_and_records_changes(app, backend, naming, admin, run_jobs, monkeypatch):
    sent = []
    monkeypatch.setattr("app.platform.mail.notify", lambda user, subject, body, category="email": sent.append(
        (user.email, subject, category)) or True)
    client, auth = signed_in(app, admin)
    _generate(auth, naming.rule)
    run_jobs()
    prod = next(v for v in naming.env.values if v.value == "prod")
    offer = auth.post(f"/rules/values/{prod.id}", {"value": "production", "short_code": "p"})
    assert offer.status_code == 200 and "Regenerate 2 name(s)" in page_text(offer)
    response = auth.post(f"/rules/values/{prod.id}/propagate", {"old_value": "prod"})
    assert response.status_code == 302
    run_jobs()
    db.session.expire_all()
    run = db.session.scalars(sa.select(PropagationRun)).one()
    assert run.status == "succeeded"
    olds = sorted(c["old"] for c in run.changes)
    assert olds == ["prod-web-neu-001", "prod-web-weu-001"]
    assert sorted(c["new"] for c in run.changes) == ["production-web-neu-001", "production-web-weu-001"]
    assert "production-web-weu-001" in all_values(naming.workspace.id)
    assert "prod-web-weu-001" not in all_values(naming.workspace.id)
    if not backend["redis"]:  # the services run's worker is another process: the patch doesn't reach it
        assert (admin.email, "propagation") in [(e, c) for e, _, c in sent]
    assert "production-web-neu-001" in page_text(client.get(f"/rules/propagations/{run.id}"))

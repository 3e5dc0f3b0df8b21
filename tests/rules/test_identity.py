"""Names keep their identity: value renames, short-code changes, rule changes, an export/import round trip and
regeneration keep every name's id, sequence number and link to its rule field. Through the HTTP client."""
from __future__ import annotations

import io
import json
import re

import sqlalchemy as sa

from app.extensions import db
from app.rules import services
from app.rules.models import GeneratedName, Generation, PropagationRun
from tests.helpers import browser, page_text, signed_in

JSON = {"Accept": "application/json"}


def _storage_rule(naming):
    """The issue's shape: a literal run of zeros right before the region and a 2-digit sequence at the end."""
    platform = services.platform_create(workspace=naming.workspace, name="Storage account", min_length=3,
                                        max_length=24, allowed_chars="a-z0-9", lowercase_only=True)
    rule = services.rule_create(workspace=naming.workspace, name="Storage", platform_id=platform.id)
    field = services.field_create(rule=rule, name="storage account", delimiter="", casing="lower",
                                  pattern="sa{environment:code}{project}0000{region}{seq:2}")
    return platform, rule, field


def _generate(auth, rule, **extra):
    data = {"rule": str(rule.id), "dim_environment": ["dev", "prod"], "dim_project": ["web", "api"],
            "dim_region": ["weu", "neu"], **extra}
    return auth.post(f"/rules/generations/new?rule={rule.id}", data, page="/rules/generations/new")


def _identities(rule_id):
    """id -> (sequence digits, field id, active) of the rule's names."""
    db.session.expire_all()
    rows = db.session.scalars(sa.select(GeneratedName).where(GeneratedName.rule_id == rule_id))
    return {n.id: (n.value[-2:], n.field_id, n.is_active) for n in rows}


def _values(rule_id):
    db.session.expire_all()
    return sorted(db.session.scalars(sa.select(GeneratedName.value).where(GeneratedName.rule_id == rule_id,
                                                                           GeneratedName.is_active.is_(True))))


def _propagate_from_offer(auth, offer, run_jobs):
    text = page_text(offer)
    assert offer.status_code == 200 and "Regenerate" in text and "keeps its id, its sequence number" in text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', text))
    hidden.pop("csrf_token", None)
    response = auth.post("/rules/propagate", hidden)
    assert response.status_code == 302 and "/rules/propagations/" in response.headers["Location"]
    run_jobs()
    db.session.expire_all()
    run = db.session.scalars(sa.select(PropagationRun).order_by(PropagationRun.id.desc())).first()
    assert run.status == "succeeded", run.error_message
    return run


def test_rename_code_change_field_change_and_round_trip_keep_identity(app, naming, admin, run_jobs):
    client, auth = signed_in(app, admin)
    _platform, rule, field = _storage_rule(naming)
    assert _generate(auth, rule).status_code == 302
    run_jobs()
    assert _generate(auth, rule, auto_increment="y").status_code == 302  # every name taken: all get 02
    run_jobs()
    before = _identities(rule.id)
    assert len(before) == 16 and sorted({seq for seq, _, _ in before.values()}) == ["01", "02"]
    assert "sap" + "web" + "0000" + "eus2" not in _values(rule.id)
    assert "sapweb0000weu01" in _values(rule.id) and "sapweb0000weu02" in _values(rule.id)

    # 1. A short-code change offers propagation (it used not to); regenerating keeps ids and numbers.
    prod = next(v for v in naming.env.values if v.value == "prod")
    offer = auth.post(f"/rules/values/{prod.id}", {"value": "prod", "short_code": "u"})
    assert "8 active name(s) use the short code of &#39;prod&#39;" in page_text(offer)
    stale = page_text(client.get("/rules/names/stale"))
    assert "8</strong> stale name(s)" in stale and "sauweb0000weu02" in stale
    run = _propagate_from_offer(auth, offer, run_jobs)
    assert len([c for c in run.changes if c["new"]]) == 8
    assert _identities(rule.id) == before
    assert "sauweb0000weu02" in _values(rule.id) and "sapweb0000weu02" not in _values(rule.id)
    assert "No stale names" in page_text(client.get("/rules/names/stale"))

    # 2. A value rename: the sequence number is the name's, not the last two digits found in it.
    neu = next(v for v in naming.region.values if v.value == "neu")
    offer = auth.post(f"/rules/values/{neu.id}", {"value": "eus2"})
    _propagate_from_offer(auth, offer, run_jobs)
    assert _identities(rule.id) == before
    assert "sauweb0000eus201" in _values(rule.id) and "sauweb0000eus202" in _values(rule.id)
    assert not [v for v in _values(rule.id) if v.endswith("20")]

    # 3. A field change (delimiter and casing) offers propagation too; the page lists what is stale meanwhile.
    offer = auth.post(f"/rules/{rule.id}/fields/{field.id}", {
        "name": "storage account", "pattern": "st{environment:code}{project}0000{region}{seq:2}", "casing": "lower",
        "delimiter": "", "truncation": "refuse"})
    assert "16 active name(s) were made by the field storage account" in page_text(offer)
    _propagate_from_offer(auth, offer, run_jobs)
    assert _identities(rule.id) == before
    assert "stuweb0000eus202" in _values(rule.id)

    # 4. Export, then import the same document: a no-op on existing names (field links kept, nothing stale).
    document = client.get("/rules/export").get_data(as_text=True)
    response = auth.post("/rules/import", {"file": (io.BytesIO(document.encode()), "rules.json")},
                         content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith("/rules/")
    assert _identities(rule.id) == before
    assert services.names_stale(naming.workspace.id, limit=0)[0] == 0
    exported = json.loads(document)
    assert next(p for p in exported["platforms"] if p["name"] == "Storage account")["min_length"] == 3


def test_every_generation_api_get_is_accepted_by_post(app, naming, admin, run_jobs):
    client, auth = signed_in(app, admin)
    created = auth.post("/generations/", {"rule": str(naming.rule.id), "dim_ignored": "x"}, headers=JSON)
    assert created.status_code == 422  # no dimension values: a clear error, not a 500
    from tests.rules.test_api import _token

    token = _token(auth, client)
    script, bearer = browser(app), {**JSON, "Authorization": f"Bearer {token}"}
    first = script.post("/generations/", json={
        "rule": naming.rule.id, "dimension_values": {"environment": "prod", "project": "web", "region": "weu"},
        "options": {"validate_only": True}}, headers=bearer)
    assert first.status_code == 201 and first.get_json()["options"]["validate_only"] is True
    run_jobs()
    got = script.get(f"/generations/{first.get_json()['id']}/", headers=bearer).get_json()
    assert got["status"] == "completed" and got["strings"] == []  # validate-only: nothing stored
    # What GET returned, posted back as it is, means the same thing.
    again = script.post("/generations/", json={k: got[k] for k in ("rule", "dimension_values", "field_filter",
                                                                   "options")}, headers=bearer)
    assert again.status_code == 201
    assert {k: again.get_json()["options"][k] for k in ("validate_only", "continue_on_error", "auto_increment")} \
        == {"validate_only": True, "continue_on_error": False, "auto_increment": False}
    run_jobs()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GeneratedName)) == 0
    assert db.session.get(Generation, again.get_json()["id"]).options["validate_only"] is True
    top_level_wins = script.post("/generations/", json={**{k: got[k] for k in ("rule", "dimension_values")},
                                                        "options": {"validate_only": True}, "validate_only": False},
                                 headers=bearer)
    assert top_level_wins.get_json()["options"]["validate_only"] is False
    bad = script.post("/generations/", json={"rule": naming.rule.id, "options": ["validate_only"]}, headers=bearer)
    assert bad.status_code == 422 and bad.get_json()["field"] == "options"

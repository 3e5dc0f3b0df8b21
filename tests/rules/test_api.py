"""The seed's JSON resources with personal API tokens (created and revoked on the preferences page)."""
from __future__ import annotations

import re

import sqlalchemy as sa

from app.accounts.models import ApiToken
from app.extensions import db
from tests.helpers import browser, page_text, signed_in

JSON = {"Accept": "application/json"}


def _token(auth, client, name="ci script", scopes=("read", "write")) -> str:
    response = auth.post("/preferences/api-tokens", {"name": name, "scopes": list(scopes)})
    assert response.status_code == 200
    match = re.search(r"(cairn_[A-Za-z0-9_\-]+)", page_text(response))
    assert match
    return match.group(1)


def test_token_is_shown_once_and_stored_hashed(app, org, admin):
    client, auth = signed_in(app, admin)
    token = _token(auth, client)
    row = db.session.scalars(sa.select(ApiToken)).one()
    assert row.token_hash != token and len(row.token_hash) == 64 and token.startswith(row.prefix)
    prefs = page_text(client.get("/preferences"))
    assert "ci script" in prefs and token not in prefs


def test_generation_conflict_check_and_preview_over_json(app, naming, admin, held_jobs):
    client, auth = signed_in(app, admin)
    token = _token(auth, client)
    script = browser(app)  # no cookies: a script
    bearer = {**JSON, "Authorization": f"Bearer {token}"}
    assert script.get("/generations/", headers=JSON).status_code == 401

    created = script.post("/generations/", json={"rule": naming.rule.id, "dimension_values": {
        "environment": "prod", "project": ["web", "api"], "region": "weu"}}, headers=bearer)
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["status"] == "pending" and body["rule"] == naming.rule.id
    assert created.headers["Location"].endswith(f"/generations/{body['id']}/")
    held_jobs()
    detail = script.get(f"/generations/{body['id']}/", headers=bearer).get_json()
    assert (detail["status"], detail["result_count"], detail["error_message"]) == ("completed", 2, None)
    assert sorted(s["value"] for s in detail["strings"]) == ["prod-api-weu-001", "prod-web-weu-001"]
    listing = script.get("/generations/?status=completed", headers=bearer).get_json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == body["id"]

    bad = script.post("/generations/", json={"rule": naming.rule.id, "dimension_values": {"environment": "nope"}},
                      headers=bearer)
    assert bad.status_code == 422 and "error" in bad.get_json()

    check = script.post("/conflict-checks/", json={"proposed_strings": ["prod-web-weu-001", "new-one"]}, headers=bearer)
    assert check.status_code == 201
    data = check.get_json()
    assert (data["status"], data["proposed_count"]) == ("pending", 2)
    assert check.headers["Location"].endswith(f"/conflict-checks/{data['id']}/")
    held_jobs()
    done = script.get(f"/conflict-checks/{data['id']}/", headers=bearer).get_json()
    assert (done["status"], done["conflicts_found"], done["max_severity"]) == ("completed", 1, "error")
    assert done["results"][0]["severity"] == "error" and done["results_truncated"] is False
    assert done["proposed_strings"] == ["prod-web-weu-001", "new-one"] and done["severity_counts"] == {"error": 1}
    not_a_list = script.post("/conflict-checks/", json={"proposed_strings": {"a": 1}}, headers=bearer)
    assert not_a_list.status_code == 422 and "list of strings" in not_a_list.get_json()["error"]
    whole = script.post("/conflict-checks/", json={"generation": body["id"]}, headers=bearer)  # names stored
    assert whole.status_code == 422 and "validate-only" in whole.get_json()["error"]

    preview = script.post("/rule-previews/", json={"rule": naming.rule.id, "test_data": {
        "environment": "dev", "project": "web", "region": "neu"}}, headers=bearer)
    assert preview.status_code == 201
    p = preview.get_json()
    assert p["generated_examples"][0]["value"] == "dev-web-neu-001" and p["validation_results"]["ok"] is True
    assert script.get(f"/rule-previews/{p['id']}/", headers=bearer).get_json()["test_data"]["region"] == "neu"

    row = db.session.scalars(sa.select(ApiToken)).one()
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None
    assert auth.post(f"/preferences/api-tokens/{row.id}/revoke").status_code == 302
    assert script.get("/generations/", headers=bearer).status_code == 401


def test_cookie_posts_still_need_csrf_and_html_goes_to_pages(app, naming, admin):
    client, auth = signed_in(app, admin)
    refused = client.post("/conflict-checks/", json={"proposed_strings": ["a"]}, headers=JSON)
    assert refused.status_code == 400
    ok = auth.post("/conflict-checks/", {"proposed_strings": "a"}, headers=JSON)
    assert ok.status_code == 201
    page = client.get("/generations/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/rules/generations")
    forged = browser(app).get("/generations/", headers={**JSON, "Authorization": "Bearer cairn_not-a-token"})
    assert forged.status_code == 401


def test_someone_elses_token_cannot_be_revoked(app, org, admin, make_org, make_user):
    other_admin = make_user(make_org("Globex"), "admin")
    colleague = make_user(org, "agent")
    owner_client, owner_auth = signed_in(app, other_admin)
    _token(owner_auth, owner_client, "theirs")
    theirs = db.session.scalars(sa.select(ApiToken)).one()
    for user in (admin, colleague):  # another organization's admin, and a colleague
        client, auth = signed_in(app, user)
        assert auth.post(f"/preferences/api-tokens/{theirs.id}/revoke").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, theirs.id).revoked_at is None


def test_an_api_create_repeated_with_its_idempotency_key_makes_one_generation(app, naming, admin):
    from app.rules.models import Generation

    client, auth = signed_in(app, admin)
    script = browser(app)
    headers = {**JSON, "Authorization": f"Bearer {_token(auth, client)}", "Idempotency-Key": "ci-run-4711-generate"}
    payload = {"rule": naming.rule.id, "dimension_values": {"environment": "prod", "project": "web", "region": "weu"}}
    created = script.post("/generations/", json=payload, headers=headers)
    repeated = script.post("/generations/", json=payload, headers=headers)
    assert created.status_code == 201 and repeated.status_code == 303
    assert repeated.headers["Location"] == created.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Generation)) == 1
    assert script.get(repeated.headers["Location"], headers=headers).get_json()["id"] == created.get_json()["id"]

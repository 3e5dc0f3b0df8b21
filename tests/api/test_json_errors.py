"""Scripts get every refusal of the JSON API as JSON (the OpenAPI document says so); browsers keep the pages."""
from __future__ import annotations

import pytest

from app.accounts.tokens import api_token_create
from tests.helpers import browser, signed_in


@pytest.fixture()
def bearer(app, org, admin):
    _row, token = api_token_create(user=admin, name="errors", scopes=["read", "write"])
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


@pytest.mark.parametrize("url", ["/generations/?status=%00", "/rule-previews/?rule=1%00",
                                 "/api/projects/?type=%00", "/api/projects/search/?q=a%00b"])
def test_unstorable_text_is_a_json_400_for_scripts(app, bearer, url):
    response = browser(app).get(url, headers=bearer)
    assert response.status_code == 400 and response.mimetype == "application/json"
    assert "error" in response.get_json()


def test_a_browser_still_gets_the_page(app, admin):
    client, _auth = signed_in(app, admin)
    response = client.get("/generations/?status=%00", headers={"Accept": "text/html"})
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_refusals_of_the_projects_api_are_json(app, bearer, make_user, org):
    script = browser(app)
    assert script.get("/api/projects/999/", headers=bearer).get_json()["error"]
    assert script.post("/api/projects/", data="{", headers={**bearer, "Content-Type": "application/json"}
                       ).status_code == 400
    customer = make_user(org, "customer", "c@acme.example.com")
    _row, token = api_token_create(user=customer, name="c", scopes=["read"])
    refused = script.get("/api/projects/", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.mimetype == "application/json"


@pytest.mark.parametrize("url", ["/api/projects/abc/", "/api/projects/1/metadata/x/", "/api/nothing",
                                 "/generations/abc/"])
def test_urls_no_api_route_matches_are_json_404s(app, bearer, url):
    response = browser(app).get(url, headers=bearer)
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.get_json()["error"]


def test_methods_an_api_route_lacks_are_json_405s(app, bearer):
    response = browser(app).post("/api/projects/0190a4c2-7b1e-7c3d-8e4f-5a6b7c8d9e0f/", headers=bearer, json={})
    assert response.status_code == 405 and response.get_json()["error"]

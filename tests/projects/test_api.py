"""The projects JSON API (/api/projects/): a script with a personal token does what its user does on the pages."""
from __future__ import annotations

import uuid

import re

import pytest

from app.accounts.tokens import api_token_create
from app.extensions import db
from app.projects.models import Project
from tests.helpers import browser

SCHOOL = {"project_type": "school", "name": "Compilers lab", "description": "Write a compiler",
          "start_date": "2026-01-10", "end_date": "2026-06-30",
          "school_data": {"course_name": "Compilers", "course_code": "CS-401", "teacher_name": "Dr. Aho"}}
SELF_STUDY = {"project_type": "self_study", "name": "Learn Rust",
              "self_study_data": {"goal_description": "Write a ray tracer in Rust", "study_frequency": "weekly"}}


class Script:
    """A client without cookies that sends a bearer token (read+write unless told)."""

    def __init__(self, app, user, scopes=("read", "write")):
        _row, token = api_token_create(user=user, name="script", scopes=list(scopes))
        self.client = browser(app)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def __getattr__(self, method):
        def call(url, **kwargs):
            return getattr(self.client, method)(url, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)
        return call


@pytest.fixture()
def script(app, people):
    return Script(app, people["student"])


def _create(script, body=SCHOOL, **extra):
    response = script.post("/api/projects/", json={**body, **extra})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_create_read_update_delete_school_project(script):
    created = _create(script)
    assert created["project_type"] == "school" and created["is_draft"] is True
    assert created["school_data"] == SCHOOL["school_data"] and created["self_study_data"] is None
    assert (created["start_date"], created["end_date"]) == ("2026-01-10", "2026-06-30")
    url = f"/api/projects/{created['id']}/"
    assert script.get(url).get_json() == created

    patched = script.patch(url, json={"school_data": {"teacher_name": "Dr. Ullman"}})
    assert patched.status_code == 200
    assert patched.get_json()["school_data"] == {**SCHOOL["school_data"], "teacher_name": "Dr. Ullman"}
    assert patched.get_json()["description"] == "Write a compiler"  # PATCH leaves the rest alone

    put = script.put(url, json={"name": "Compilers II", "school_data": SCHOOL["school_data"], "is_draft": False})
    body = put.get_json()
    assert put.status_code == 200, body
    assert body["name"] == "Compilers II" and body["description"] == "" and body["start_date"] is None  # PUT replaces
    assert body["is_draft"] is False and body["published_at"]

    assert script.delete(url).status_code == 204
    assert script.get(url).status_code == 404
    assert db.session.get(Project, uuid.UUID(created["id"])) is None


def test_create_and_update_self_study_project(script):
    created = _create(script, SELF_STUDY, is_draft=False)
    assert created["self_study_data"] == SELF_STUDY["self_study_data"] and created["school_data"] is None
    assert created["is_draft"] is False
    url = f"/api/projects/{created['id']}/"
    changed = script.patch(url, json={"self_study_data": {"study_frequency": "daily"}}).get_json()
    assert changed["self_study_data"]["study_frequency"] == "daily"
    back = script.patch(url, json={"is_draft": True})
    assert back.status_code == 422 and "is_draft" in back.get_json()["errors"]


def test_round_trip_what_get_returns_put_and_post_accept(script):
    created = _create(script)
    url = f"/api/projects/{created['id']}/"
    again = script.put(url, json=created)
    assert again.status_code == 200, again.get_json()
    same = again.get_json()
    assert {k: v for k, v in same.items() if k != "updated_at"} == {k: v for k, v in created.items()
                                                                   if k != "updated_at"}
    copy = _create(script, created)  # POST of a GET body: a new project with the same fields
    assert copy["id"] != created["id"]
    assert {k: copy[k] for k in SCHOOL} == {k: created[k] for k in SCHOOL}


def test_validation_errors_are_keyed_by_field_per_type(script):
    missing = script.post("/api/projects/", json={"project_type": "school", "name": "",
                                                  "school_data": {"course_name": "Compilers"}})
    assert missing.status_code == 422
    errors = missing.get_json()["errors"]
    assert set(errors) == {"name", "school_data"}
    assert set(errors["school_data"]) == {"course_code", "teacher_name"}
    assert errors["school_data"]["course_code"] == ["Course code is required."]  # the model rule's own words

    study = script.post("/api/projects/", json={"project_type": "self_study", "name": "X",
                                                "self_study_data": {"goal_description": "  "}}).get_json()
    assert set(study["errors"]["self_study_data"]) == {"goal_description", "study_frequency"}

    wrong = script.post("/api/projects/", json={**SCHOOL, "self_study_data": {"goal_description": "x"}}).get_json()
    assert "self_study_data" in wrong["errors"]
    dates = script.post("/api/projects/", json={**SCHOOL, "start_date": "2026-05-01", "end_date": "2026-04-01"})
    assert dates.status_code == 422 and "end_date" in dates.get_json()["errors"]
    not_a_date = script.post("/api/projects/", json={**SCHOOL, "start_date": "tomorrow"}).get_json()
    assert "start_date" in not_a_date["errors"]
    typed = script.post("/api/projects/", json={**SCHOOL, "name": 12, "school_data": {"course_code": ["x"]}})
    assert typed.status_code == 422 and {"name", "school_data"} <= set(typed.get_json()["errors"])
    too_long = script.post("/api/projects/", json={**SCHOOL, "school_data": {**SCHOOL["school_data"],
                                                                             "course_code": "x" * 51}})
    assert "course_code" in too_long.get_json()["errors"]["school_data"]
    assert script.post("/api/projects/", json={"project_type": "work", "name": "x"}).get_json()["errors"] == {
        "project_type": ["project_type is one of: school, self_study."]}
    assert script.post("/api/projects/", data="not json").status_code == 400

    created = _create(script)
    url = f"/api/projects/{created['id']}/"
    assert script.put(url, json={"name": "x", "school_data": {"course_name": "C"}}).status_code == 422
    assert script.patch(url, json={"project_type": "self_study"}).get_json()["errors"] == {
        "project_type": ["The type of a project can't change once created."]}
    assert script.get(url).get_json() == created  # nothing refused was saved
    assert db.session.query(Project).count() == 1


def test_scopes_read_token_cannot_write(app, people, script):
    created = _create(script)
    reader = Script(app, people["student"], scopes=("read",))
    assert reader.get("/api/projects/").status_code == 200
    for response in (reader.post("/api/projects/", json=SCHOOL),
                     reader.patch(f"/api/projects/{created['id']}/", json={"name": "x"}),
                     reader.delete(f"/api/projects/{created['id']}/"),
                     reader.post(f"/api/projects/{created['id']}/metadata/", json={"key": "a", "value": 1})):
        assert response.status_code == 403 and "write" in response.get_json()["error"]
    writer = Script(app, people["student"], scopes=("write",))
    assert writer.get("/api/projects/").status_code == 403
    anonymous = browser(app).get("/api/projects/", headers={"Accept": "application/json"})
    assert anonymous.status_code == 401 and "error" in anonymous.get_json()


def test_other_people_and_other_organizations_get_404(app, people, script):
    created = _create(script)
    meta = script.post(f"/api/projects/{created['id']}/metadata/", json={"key": "k", "value": 1}).get_json()
    for someone in ("outsider", "classmate", "admin"):  # projects are their owner's, as on the pages
        other = Script(app, people[someone])
        for url in (f"/api/projects/{created['id']}/", f"/api/projects/{created['id']}/metadata/",
                    f"/api/projects/{created['id']}/metadata/{meta['id']}/"):
            response = other.get(url)
            assert response.status_code == 404 and response.get_json()["error"]
        assert other.delete(f"/api/projects/{created['id']}/").status_code == 404
        assert other.get("/api/projects/").get_json()["count"] == 0
    assert script.get(f"/api/projects/{created['id']}/").status_code == 200


def test_customers_get_what_the_pages_give_them(app, people, make_user):
    customer = make_user(people["org"], "customer", "cus@acme.example.com")
    client = Script(app, customer)
    refused = client.get("/api/projects/")
    assert refused.status_code == 403 and refused.get_json()["error"]  # like /projects/ for customers
    assert client.post("/api/projects/", json=SCHOOL).status_code == 403
    org = people["org"]
    org.settings = {**(org.settings or {}), "customer_access": ["projects"]}  # the admin opens the area
    db.session.commit()
    created = client.post("/api/projects/", json=SCHOOL)
    assert created.status_code == 201
    assert client.get("/api/projects/").get_json()["count"] == 1


def test_metadata_crud(script):
    project = _create(script)
    base = f"/api/projects/{project['id']}/metadata/"
    added = script.post(base, json={"key": "syllabus", "value": {"weeks": [1, 2, 3]}})
    assert added.status_code == 201
    entry = added.get_json()
    assert entry["value"] == {"weeks": [1, 2, 3]} and added.headers["Location"].endswith(f"{base}{entry['id']}/")
    text = script.post(base, json={"key": "room", "value": "42"}).get_json()
    assert text["value"] == "42"  # a JSON string stays a string (not the number 42)
    replaced = script.post(base, json={"key": "room", "value": 42})
    assert replaced.status_code == 200 and replaced.get_json()["id"] == text["id"]
    listing = script.get(base).get_json()
    assert listing["count"] == 2 and [m["key"] for m in listing["results"]] == ["room", "syllabus"]
    assert script.get(f"/api/projects/{project['id']}/").get_json()["metadata"] == listing["results"]

    item = f"{base}{entry['id']}/"
    assert script.get(item).get_json()["key"] == "syllabus"
    assert script.put(item, json={"key": "syllabus", "value": [1]}).get_json()["value"] == [1]
    assert script.patch(item, json={"value": None}).get_json()["value"] is None
    assert script.put(item, json={"key": "other", "value": 1}).status_code == 422
    assert script.put(item, json={"key": "syllabus"}).get_json()["errors"] == {
        "value": ["value is required (any JSON value; null is a value)."]}
    assert script.post(base, json={"key": "  ", "value": 1}).get_json()["errors"]["key"] == ["Key is required."]
    assert "value" in script.post(base, json={"key": "big", "value": "x" * 20001}).get_json()["errors"]
    assert script.delete(item).status_code == 204
    assert script.get(item).status_code == 404
    assert script.get(base).get_json()["count"] == 1


def test_lists_search_school_projects_and_pagination(script):
    school = [_create(script, SCHOOL, name=f"Compilers {i}")["id"] for i in range(3)]
    study = _create(script, SELF_STUDY, is_draft=False)["id"]
    everything = script.get("/api/projects/?page_size=2").get_json()
    assert (everything["count"], everything["page"], everything["pages"]) == (4, 1, 2)
    assert [p["id"] for p in everything["results"]] == [study, school[2]]  # newest first
    second = script.get("/api/projects/?page_size=2&page=2").get_json()
    assert [p["id"] for p in second["results"]] == [school[1], school[0]]
    only_school = script.get("/api/projects/school-projects/").get_json()
    assert sorted(p["id"] for p in only_school["results"]) == sorted(school)
    assert script.get("/api/projects/?type=self_study").get_json()["count"] == 1
    assert script.get("/api/projects/?drafts=true").get_json()["count"] == 3
    assert script.get("/api/projects/?type=work").status_code == 400

    found = script.get("/api/projects/search/?q=ray tracer").get_json()  # the goal of the self-study project
    assert [p["id"] for p in found["results"]] == [study]
    assert script.get("/api/projects/search/?q=compilers 1").get_json()["count"] >= 1
    assert script.get("/api/projects/search/?q=nothing-like-this").get_json()["count"] == 0


def test_idempotency_key_makes_one_project(script):
    key = {"Idempotency-Key": "project-create-0001"}
    first = script.post("/api/projects/", json=SCHOOL, headers=key)
    assert first.status_code == 201
    repeat = script.post("/api/projects/", json=SCHOOL, headers=key)
    assert repeat.status_code == 303 and repeat.headers["Location"] == first.headers["Location"]
    assert db.session.query(Project).count() == 1


def test_openapi_document_is_served_and_lists_every_api_route(app, client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    described = {(path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in ("rules_api", "projects_api"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == described
    project_id = [p for p in doc["paths"]["/api/projects/{project_id}/"]["parameters"] if p["name"] == "project_id"]
    assert project_id[0]["schema"] == {"$ref": "#/components/schemas/ProjectId"}  # the id's type is said once


def test_a_signed_in_browser_writes_with_its_csrf_token(app, people):
    from tests.helpers import csrf_from, signed_in

    client, _auth = signed_in(app, people["student"])
    assert client.get("/api/projects/").status_code == 200  # the session works for reading
    refused = client.post("/api/projects/", json=SCHOOL)
    assert refused.status_code == 400 and refused.get_json()["error"]  # no CSRF token: a forged request
    token = csrf_from(client.get("/projects/new").get_data(as_text=True))
    assert client.post("/api/projects/", json=SCHOOL, headers={"X-CSRFToken": token}).status_code == 201

"""Every operation of the served OpenAPI document, called with generated requests (schemathesis) by a real
read+write token of a seeded organization: no 500, and every answer's status, content type and body are
what the document says. Runs on SQLite and on PostgreSQL (the suite's two passes).

Bounded: MAX_EXAMPLES requests an operation, drawn from valid requests, invalid ones (schemathesis' negative
mode: wrong types, missing fields, ids that aren't ids; they must be refused with a documented 4xx in JSON) and,
where the path names objects, valid requests on the seeded rows so the happy paths run too. No shrinking, no
deadline: about 30 s a database on SQLite, 45 s on PostgreSQL (a loaded 2-core machine).
"""
from __future__ import annotations

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api_docs.openapi import build

MAX_EXAMPLES = 20
CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
OPERATIONS = [(path, method) for path, item in build()["paths"].items() for method in item if method != "parameters"]
_SCHEMAS: dict[int, object] = {}


def served_schema(app):
    """The document as the app serves it (loaded once per app)."""
    if id(app) not in _SCHEMAS:
        _SCHEMAS[id(app)] = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return _SCHEMAS[id(app)]


@pytest.fixture()
def world(app):
    """An organization with a naming rule and its output, and projects of both types with metadata.

    Built in an app context of its own that ends before the calls: a request run inside a pushed app context
    shares its `g` (Flask-Login's cached user) with every other request in it.
    """
    with app.app_context():
        return _build_world()


def _build_world() -> dict:
    from app.accounts.tokens import api_token_create
    from app.projects import services as projects
    from app.rules import services as rules
    from tests.factories import make_member, make_organization, workspace_of
    from tests.rules.conftest import build_naming

    org = make_organization("Acme")
    admin = make_member(org, "admin", "admin@acme.example.com")
    naming = build_naming(workspace_of(org))
    generation = rules.generation_create(workspace=naming.workspace, rule_id=naming.rule.id, user=admin,
                                         dimension_values={"environment": "dev", "project": "web", "region": "weu"},
                                         field_filter=[], note="")
    check = rules.conflict_check_create(workspace=naming.workspace, proposed=["dev-web-weu-001"], scope="workspace",
                                        platform_id=None, rule_id=None, user=admin)
    preview = rules.rule_preview_save(rule=naming.rule, test_data={"environment": "dev"}, user=admin, label="x")
    school = projects.project_create(owner=admin, project_type="school", name="Compilers", course_name="Compilers",
                                     course_code="CS-401", teacher_name="Dr. Aho")
    projects.project_create(owner=admin, project_type="self_study", name="Rust", goal_description="A ray tracer",
                            study_frequency="weekly", publish=True)
    meta = projects.meta_set(project=school, key="syllabus", raw_value='{"weeks": [1, 2]}')
    _row, token = api_token_create(user=admin, name="schemathesis", scopes=["read", "write"])
    ids = {"project_id": school.id, "meta_id": meta.id, "generation_id": generation.id, "check_id": check.id,
           "preview_id": preview.id}
    return {"headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"}, "ids": ids}


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_operation_conforms_to_the_document(app, world, path, method):
    operation = served_schema(app)[path][method]
    names = {p.name for p in operation.path_parameters}
    known = {name: value for name, value in world["ids"].items() if name in names}
    strategies = [operation.as_strategy(), operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)]
    if known:
        strategies.append(operation.as_strategy(path_parameters=known))
    strategy = st.one_of(strategies)

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def call(case):
        response = case.call(headers=world["headers"])
        case.validate_response(response, checks=CHECKS, headers=world["headers"])

    call()

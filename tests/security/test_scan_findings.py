"""Regression tests for what the outside scan (tools/security_scan.sh, docs/security-scan.md) found.

- sqlmap: `/exports/audit?since=2026-01-01` (a valid date!) answered 500: the date was compared with a UTC
  timestamp column.
- wapiti: `/rules/names?dimension=...&value=...` answered 500 when the dimension had a quote: the key becomes
  part of a JSON path on SQLite (`$."key"`). The value was always a bound parameter; the path is checked now.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.platform.models import utcnow
from tests.helpers import page_text, signed_in

INJECTIONS = ['x"y', "environment' AND 1=1--", 'environment" AND 31=50 AND "66"="66', "a.b", "$.x", "*", ")(&"]


def test_the_audit_filters_by_a_valid_date_from_the_start_of_that_day(app, org, admin):
    from app.exports.models import ExportAuditLog

    now = utcnow()
    db.session.add_all([
        ExportAuditLog(organization_id=org.id, user_id=admin.id, action="created", timestamp=now),
        ExportAuditLog(organization_id=org.id, user_id=admin.id, action="downloaded", timestamp=now - timedelta(days=40)),
    ])
    db.session.commit()
    client, _ = signed_in(app, admin)
    recent = client.get(f"/exports/audit?since={(now - timedelta(days=2)).date().isoformat()}&user={admin.id}")
    assert recent.status_code == 200
    everything = client.get(f"/exports/audit?since={(now - timedelta(days=60)).date().isoformat()}")
    assert everything.status_code == 200
    assert page_text(everything).count("<tr") > page_text(recent).count("<tr")
    for since in ("2026-01-01", "9999-12-31", "0001-01-01", "2026-02-30", "yesterday"):
        assert client.get("/exports/audit", query_string={"since": since}).status_code == 200, since


@pytest.mark.parametrize("dimension", INJECTIONS)
def test_the_names_dimension_filter_never_reaches_the_json_path_unchecked(app, org, admin, dimension):
    from app.rules import services
    from app.rules.models import GeneratedName
    from tests.rules.conftest import build_naming
    from tests.factories import workspace_of

    naming = build_naming(workspace_of(org))
    db.session.add(GeneratedName(organization_id=org.id, workspace_id=naming.workspace.id, value="rg-prod-web-weu-001",
                                 normalized="rgprodwebweu001", reversed_value="100-uew-bew-dorp-gr",
                                 dimension_values={"environment": "prod", "project": "web"},
                                 rule_id=naming.rule.id, field_id=naming.field.id))
    db.session.commit()
    found = db.session.scalars(services.names_query(naming.workspace, dimension="environment", value="prod",
                                                    status="all")).all()
    assert [n.value for n in found] == ["rg-prod-web-weu-001"]
    assert db.session.scalars(services.names_query(naming.workspace, dimension=dimension, value="prod",
                                                   status="all")).all() == []
    client, _ = signed_in(app, admin)
    response = client.get("/rules/names", query_string={"dimension": dimension, "value": "prod", "status": "all"})
    assert response.status_code == 200
    assert "rg-prod-web-weu-001" not in page_text(response)


# wapiti's crawl as admin (4 threads) deleted a project while another of its requests was adding to it: the
# request that had loaded the project then failed with ObjectDeletedError / a foreign-key IntegrityError (500).
@pytest.fixture()
def racing_app(backend, app):
    """An app that renders errors as production does, with routes that lose their row mid-request."""
    import sqlalchemy as sa

    from app.accounts.models import Workspace
    from tests.conftest import make_test_app

    racing = make_test_app(backend, PROPAGATE_EXCEPTIONS=False)

    def _delete_behind_our_back(workspace_id: int) -> None:
        with db.engine.begin() as connection:  # another request's transaction
            connection.execute(sa.delete(Workspace).where(Workspace.id == workspace_id))

    @racing.route("/_test/refresh-deleted/<int:workspace_id>")
    def refresh_deleted(workspace_id):
        row = db.session.get(Workspace, workspace_id)
        db.session.commit()  # expires the row
        _delete_behind_our_back(workspace_id)
        return row.name  # reloads: ObjectDeletedError

    @racing.route("/_test/insert-orphan/<int:workspace_id>")
    def insert_orphan(workspace_id):
        from app.rules.models import Dimension

        row = db.session.get(Workspace, workspace_id)
        _delete_behind_our_back(workspace_id)
        db.session.add(Dimension(organization_id=row.organization_id, workspace_id=workspace_id, key="gone"))
        db.session.commit()  # IntegrityError: FOREIGN KEY
        return "saved"

    @racing.route("/_test/duplicate/<int:workspace_id>")
    def duplicate(workspace_id):
        from app.rules.models import Dimension

        row = db.session.get(Workspace, workspace_id)
        for _ in range(2):
            db.session.add(Dimension(organization_id=row.organization_id, workspace_id=workspace_id, key="twice"))
        db.session.commit()  # a unique key no code checked: still a 500 (a bug to fix where it happens)
        return "saved"

    return racing


@pytest.mark.parametrize("route", ["refresh-deleted", "insert-orphan"])
def test_a_row_deleted_during_the_request_answers_404_not_500(racing_app, org, route):
    from tests.factories import workspace_of

    workspace_id = workspace_of(org).id
    db.session.commit()
    response = racing_app.test_client().get(f"/_test/{route}/{workspace_id}")
    assert response.status_code == 404 and "deleted in the meantime" in page_text(response)


def test_other_integrity_errors_stay_500(racing_app, org):
    from tests.factories import workspace_of

    workspace_id = workspace_of(org).id
    db.session.commit()
    assert racing_app.test_client().get(f"/_test/duplicate/{workspace_id}").status_code == 500

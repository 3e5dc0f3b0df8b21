"""Import/export of a workspace's dimensions, platforms and rules: round trip, and all-or-nothing import."""
from __future__ import annotations

import io
import json

import sqlalchemy as sa

from app.accounts.services import workspace_create
from app.extensions import db
from app.rules.models import Dimension, Platform, Rule, RuleField
from tests.helpers import page_text, signed_in


def _counts(workspace_id):
    db.session.expire_all()
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m).where(m.workspace_id == workspace_id))
                 for m in (Dimension, Platform, Rule))


def _switch(auth, workspace):
    return auth.post("/workspaces/switch", {"workspace_id": str(workspace.id)})


def test_export_then_import_into_another_workspace(app, org, admin, naming):
    client, auth = signed_in(app, admin)
    exported = client.get("/rules/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    document = json.loads(exported.get_data(as_text=True))
    assert [d["key"] for d in document["dimensions"]] == ["environment", "project", "region"]
    assert document["rules"][0]["fields"][0]["pattern"] == "{environment}-{project}-{region}-{seq:3}"

    target = workspace_create(organization=org, actor=admin, name="Target")
    _switch(auth, target)
    response = auth.post("/rules/import", {"file": (io.BytesIO(json.dumps(document).encode()), "rules.json")},
                         content_type="multipart/form-data")
    assert response.status_code == 302
    assert _counts(target.id) == (3, 1, 1)
    rule = db.session.scalars(sa.select(Rule).where(Rule.workspace_id == target.id)).one()
    assert [f.pattern for f in rule.fields] == ["{environment}-{project}-{region}-{seq:3}"]
    # Importing again updates in place: no duplicates.
    auth.post("/rules/import", {"file": (io.BytesIO(json.dumps(document).encode()), "rules.json")},
              content_type="multipart/form-data")
    assert _counts(target.id) == (3, 1, 1)


def test_bad_document_imports_nothing_and_lists_every_problem(app, org, admin, naming):
    client, auth = signed_in(app, admin)
    document = json.loads(client.get("/rules/export").get_data(as_text=True))
    target = workspace_create(organization=org, actor=admin, name="Target")
    _switch(auth, target)
    document["dimensions"].append({"key": "Bad Key", "kind": "list"})
    document["platforms"][0]["regex"] = "(["
    document["rules"].append({"name": "Broken", "platform": "Azure resource group",
                              "fields": [{"name": "x", "pattern": "{missing}-{seq:2}"}]})
    response = auth.post("/rules/import", {"file": (io.BytesIO(json.dumps(document).encode()), "rules.json")},
                         content_type="multipart/form-data")
    assert response.status_code == 422
    page = page_text(response)
    assert "nothing was imported" in page and "Bad Key" in page and "regular expression" in page
    assert "missing" in page
    assert _counts(target.id) == (0, 0, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleField)) == 1  # only the source workspace's

    garbage = auth.post("/rules/import", {"file": (io.BytesIO(b"{not json"), "x.json")},
                        content_type="multipart/form-data")
    assert garbage.status_code == 422 and "Not valid JSON" in page_text(garbage)
    wrong = auth.post("/rules/import", {"file": (io.BytesIO(b'{"hello": 1}'), "x.json")},
                      content_type="multipart/form-data")
    assert wrong.status_code == 422 and "not a Cairn rules export" in page_text(wrong)
    assert _counts(target.id) == (0, 0, 0)

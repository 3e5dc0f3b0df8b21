"""Create forms sent twice make one record; per-user limits hold under concurrent submits.

The threads post at the same moment through real requests (a barrier), so on
PostgreSQL the second insert of a key waits on the first's uncommitted row.
"""
from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.helpers import client_with_cookies, cookie_value, csrf_from, signed_in


@pytest.fixture()
def people(make_org, make_user):
    org = make_org("Acme")
    return {"org": org, "admin": make_user(org, "admin", "admin@acme.example.com"),
            "agent": make_user(org, "agent", "agent@acme.example.com"),
            "customer": make_user(org, "customer", "carol@customer.example.com")}


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _export_form(token: str, key: str, title: str = "November") -> dict:
    return {"csrf_token": token, "idempotency_key": key, "title": title, "format": "csv",
            "dataset": "time_entries", "selected_fields": ["date", "member"], "template_id": ""}


def _post_together(app, client, url: str, forms: list[dict]) -> list:
    """POST each form from its own browser (same signed-in session) at the same moment."""
    cookies = {name: cookie_value(client, name) for name in ("session",) if cookie_value(client, name)}
    barrier = threading.Barrier(len(forms))
    responses: list = [None] * len(forms)

    def post(index: int, form: dict) -> None:
        other = client_with_cookies(app, **cookies)
        barrier.wait()
        responses[index] = other.post(url, data=form)

    threads = [threading.Thread(target=post, args=(i, f)) for i, f in enumerate(forms)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return responses


def test_every_create_form_carries_a_fresh_key(app, people):
    client, _auth = signed_in(app, people["admin"])
    keys = set()
    for page in ("/tickets/new", "/exports/new", "/projects/new", "/exports/schedules/new", "/workspaces"):
        html = client.get(page).get_data(as_text=True)
        assert 'name="idempotency_key"' in html, page
        keys.add(html.split('name="idempotency_key" value="')[1].split('"')[0])
    assert len(keys) == 5


def test_the_same_export_form_sent_twice_makes_one_export(app, people):
    from app.exports.models import ExportRequest

    client, _auth = signed_in(app, people["admin"])
    token = csrf_from(client.get("/exports/new").get_data(as_text=True))
    key = uuid.uuid4().hex
    first = client.post("/exports/new", data=_export_form(token, key))
    again = client.post("/exports/new", data=_export_form(token, key))
    assert first.status_code == 302 and again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert _count(ExportRequest) == 1
    assert "already sent" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_a_refused_form_frees_its_key_for_the_corrected_one(app, people):
    from app.exports.models import ExportRequest

    client, _auth = signed_in(app, people["admin"])
    token = csrf_from(client.get("/exports/new").get_data(as_text=True))
    key = uuid.uuid4().hex
    refused = client.post("/exports/new", data=_export_form(token, key, title=""))
    assert refused.status_code == 422 and _count(ExportRequest) == 0
    corrected = client.post("/exports/new", data=_export_form(token, key))
    assert corrected.status_code == 302 and _count(ExportRequest) == 1


def test_concurrent_double_submits_of_a_ticket_make_one_ticket(app, people):
    from app.tickets.models import Ticket

    client, _auth = signed_in(app, people["customer"])
    token = csrf_from(client.get("/tickets/new").get_data(as_text=True))
    key = uuid.uuid4().hex
    form = {"csrf_token": token, "idempotency_key": key, "subject": "Printer on fire", "description": "It smokes.",
            "priority": "medium"}
    responses = _post_together(app, client, "/tickets/new", [dict(form) for _ in range(3)])
    assert all(r is not None and r.status_code in (302, 303) for r in responses), [getattr(r, "status_code", r)
                                                                                   for r in responses]
    assert _count(Ticket) == 1
    assert len({r.headers["Location"] for r in responses}) == 1


def test_concurrent_double_submits_of_an_export_make_one_export(app, people):
    from app.exports.models import ExportRequest

    client, _auth = signed_in(app, people["admin"])
    token = csrf_from(client.get("/exports/new").get_data(as_text=True))
    key = uuid.uuid4().hex
    responses = _post_together(app, client, "/exports/new", [_export_form(token, key) for _ in range(3)])
    assert sorted(r.status_code for r in responses) == [302, 303, 303]
    assert _count(ExportRequest) == 1


def test_the_active_export_limit_holds_under_concurrent_submits(app, people):
    """Five different forms at once against a limit of three: three exports, two refusals."""
    from app.exports.models import ExportRequest

    client, _auth = signed_in(app, people["admin"])
    token = csrf_from(client.get("/exports/new").get_data(as_text=True))
    forms = [_export_form(token, uuid.uuid4().hex, title=f"Export {i}") for i in range(5)]
    responses = _post_together(app, client, "/exports/new", forms)
    assert sorted(r.status_code for r in responses) == [302, 302, 302, 422, 422]
    assert _count(ExportRequest) == 3
    assert all("3 exports running" in r.get_data(as_text=True) for r in responses if r.status_code == 422)


def test_a_repeated_generation_form_makes_one_generation(app, people):
    from app.rules.models import Generation
    from tests.factories import workspace_of
    from tests.rules.conftest import build_naming

    naming = build_naming(workspace_of(people["org"]))
    db.session.commit()
    client, _auth = signed_in(app, people["admin"])
    page = client.get(f"/rules/generations/new?rule={naming.rule.id}").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "idempotency_key": uuid.uuid4().hex, "rule": str(naming.rule.id),
            "dim_environment": ["dev"], "dim_project": ["web"], "dim_region": ["weu"]}
    responses = _post_together(app, client, f"/rules/generations/new?rule={naming.rule.id}", [form, dict(form)])
    assert sorted(r.status_code for r in responses) == [302, 303]
    assert _count(Generation) == 1


def test_old_keys_are_purged(app_ctx, people):
    from datetime import timedelta

    from app.platform.idempotency import IdempotencyKey, purge_old_keys
    from app.platform.models import utcnow

    db.session.add_all([IdempotencyKey(user_id=people["admin"].id, key="a" * 32, created_at=utcnow() - timedelta(days=2)),
                        IdempotencyKey(user_id=people["admin"].id, key="b" * 32)])
    db.session.commit()
    assert purge_old_keys() == 1
    assert [k.key for k in db.session.scalars(sa.select(IdempotencyKey))] == ["b" * 32]


"""APIUsageLog (seed 000): every request logged; the Usage page aggregates one organization; retention."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.platform.jobs import BackgroundTask
from app.platform.models import utcnow
from app.platform.usage import UNMATCHED_ENDPOINT, APIUsageLog, purge_usage_older_than
from tests.factories import make_member, make_organization, workspace_of
from tests.helpers import browser, page_text, signed_in


@pytest.fixture()
def client(app):
    return browser(app)


def _logs(**where) -> list[APIUsageLog]:
    db.session.expire_all()
    stmt = sa.select(APIUsageLog).order_by(APIUsageLog.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(APIUsageLog, key) == value)
    return list(db.session.scalars(stmt))


def test_every_request_is_logged_with_who_where_what_and_how_long(app, org, admin, make_user):
    agent = make_user(org, "agent", "agent@acme.example.com")
    client, auth = signed_in(app, admin)
    before = len(_logs())
    response = client.get(f"/members/{agent.id}")
    assert response.status_code == 200
    [row] = _logs()[before:]
    assert (row.user_id, row.organization_id, row.workspace_id) == (admin.id, org.id, workspace_of(org).id)
    assert (row.endpoint, row.method, row.response_status) == ("/members/<int:member_id>", "GET", 200)
    assert row.response_time_ms >= 0
    assert row.response_size_bytes == len(response.get_data())
    assert row.request_size_bytes == 0
    assert row.date == row.timestamp.date() == utcnow().date()

    before = len(_logs())
    token = auth.csrf("/preferences")
    body = {"csrf_token": token, "full_name": "Ada Admin", "availability_status": "busy"}
    response = client.post("/preferences/profile", data=body)
    assert response.status_code == 302
    rows = _logs()[before + 1:]  # after the GET that fetched the token
    [post] = [r for r in rows if r.method == "POST"]
    assert (post.endpoint, post.response_status, post.user_id) == ("/preferences/profile", 302, admin.id)
    assert post.workspace_id == workspace_of(org).id  # a redirect renders no page, but has a workspace
    assert post.request_size_bytes == int(response.request.headers["Content-Length"]) > 0


def test_anonymous_failed_and_unmatched_requests_are_logged_too(app, org, admin):
    client = browser(app)
    client.get("/signin")
    client.get("/no/such/page/12345")
    client.post("/signin", data={})  # no CSRF token: 400
    rows = _logs()
    assert [(r.endpoint, r.method, r.response_status, r.user_id) for r in rows] == [
        ("/signin", "GET", 200, None), (UNMATCHED_ENDPOINT, "GET", 404, None), ("/signin", "POST", 400, None)]


def test_sign_in_and_sign_out_requests_carry_the_user(app, org, admin):
    client, auth = signed_in(app, admin)
    [login] = _logs(endpoint="/signin", method="POST")
    assert (login.user_id, login.organization_id, login.response_status) == (admin.id, org.id, 302)
    auth.logout()
    [logout] = _logs(endpoint="/signout")
    assert (logout.user_id, logout.organization_id, logout.response_status) == (admin.id, org.id, 302)


def test_static_files_are_not_logged(app, app_ctx):
    browser(app).get("/static/css/app.css")
    assert _logs() == []


def _log(org, endpoint: str, *, days_ago: int = 0, status: int = 200, ms: int = 10, size: int = 100, user=None):
    when = utcnow() - timedelta(days=days_ago)
    db.session.execute(sa.insert(APIUsageLog), [{
        "user_id": user.id if user else None, "organization_id": org.id, "workspace_id": None,
        "endpoint": endpoint, "method": "GET", "response_status": status, "response_time_ms": ms,
        "request_size_bytes": 0, "response_size_bytes": size, "timestamp": when, "date": when.date()}])


def test_usage_page_aggregates_per_day_and_endpoint_for_the_admins_own_organization(app, org, admin):
    globex = make_organization("Globex")
    for _ in range(3):
        _log(org, "/acme-reports", ms=30)
    _log(org, "/acme-reports", status=500, ms=90)
    _log(org, "/acme-reports", days_ago=1, status=404)
    _log(org, "/acme-old", days_ago=20)
    for _ in range(5):
        _log(globex, "/globex-secret")
    db.session.commit()

    client, _ = signed_in(app, admin)
    html = page_text(client.get("/usage"))
    assert "/globex-secret" not in html
    assert "/acme-old" not in html  # outside the default 7 days
    endpoint_row = html.split("<code>/acme-reports</code>", 1)[1].split("</tr>", 1)[0]
    cells = [c.split("<", 1)[0] for c in endpoint_row.split("<td>")[1:]]
    assert cells[:5] == ["GET", "5", "38", "90", "2"]  # method, requests, avg ms (190/5), max ms, errors
    today = utcnow().date()
    day_rows = html.split("<h2>Per day</h2>", 1)[1].split("<h2>Per endpoint</h2>", 1)[0]
    assert today.isoformat() in day_rows and (today - timedelta(days=1)).isoformat() in day_rows

    html = page_text(client.get("/usage?days=30"))
    assert "/acme-old" in html and "/globex-secret" not in html


def test_usage_per_day_counts(app_ctx, org):
    from app.platform.usage import usage_by_day, usage_by_endpoint

    globex = make_organization("Globex")
    _log(org, "/a")
    _log(org, "/a", status=503)
    _log(org, "/b", days_ago=2, status=404, size=1000)
    _log(globex, "/a")
    db.session.commit()
    today = utcnow().date()
    days = usage_by_day(org.id, today - timedelta(days=6), today)
    assert [(d.date, d.requests, d.server_errors, d.client_errors) for d in days] == [
        (today, 2, 1, 0), (today - timedelta(days=2), 1, 0, 1)]
    assert days[1].bytes_out == 1000
    endpoints = usage_by_endpoint(org.id, today - timedelta(days=6), today)
    assert [(e.endpoint, e.requests, e.errors) for e in endpoints] == [("/a", 2, 1), ("/b", 1, 1)]


def test_usage_page_needs_the_permission(app, org, admin):
    manager = make_member(org, "manager", "manager@acme.example.com")
    client, _ = signed_in(app, manager)
    assert client.get("/usage").status_code == 403


def test_purge_usage_older_than_deletes_only_old_rows(app_ctx, org):
    globex = make_organization("Globex")
    _log(org, "/new", days_ago=1)
    _log(org, "/edge", days_ago=30)
    _log(org, "/old", days_ago=31)
    _log(globex, "/old", days_ago=45)
    db.session.commit()
    assert purge_usage_older_than(30, organization_id=org.id) == 1
    assert sorted((r.organization_id, r.endpoint) for r in _logs()) == [
        (org.id, "/edge"), (org.id, "/new"), (globex.id, "/old")]
    assert purge_usage_older_than(30, batch_size=1) == 1
    assert sorted(r.endpoint for r in _logs()) == ["/edge", "/new"]
    assert purge_usage_older_than(0) == 2


def test_trim_now_runs_the_retention_job_for_this_organization(app, org, admin, run_jobs, monkeypatch):
    # A shorter retention than the worker's own daily job (90 days), so that job, which may
    # run when the worker starts, can't be what deleted the rows.
    monkeypatch.setitem(app.config, "USAGE_LOG_RETENTION_DAYS", 10)
    globex = make_organization("Globex")
    _log(org, "/ancient", days_ago=20)
    _log(org, "/recent", days_ago=5)
    _log(globex, "/ancient", days_ago=20)
    db.session.commit()
    _, auth = signed_in(app, admin)
    response = auth.post("/usage/trim", page="/usage")
    assert response.status_code == 302 and "/jobs" in response.headers["Location"]
    run_jobs()
    assert [r.organization_id for r in _logs(endpoint="/ancient")] == [globex.id]
    assert [r.organization_id for r in _logs(endpoint="/recent")] == [org.id]
    task = db.session.scalars(sa.select(BackgroundTask)).one()
    assert (task.status, task.result["deleted"]) == ("succeeded", 1)

"""Export requests end to end: preview, export through the job, download, with each format read back."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.exports import services as export_services
from app.exports.models import ExportAuditLog, ExportRequest
from app.extensions import db
from tests.exports.conftest import add_entries, storage_blocked
from tests.helpers import page_text, reload

FIELDS = ["date", "member", "project", "task", "duration", "description"]


def start_export(auth, *, format="csv", dataset="time_entries", fields=FIELDS, title="November", **extra):
    data = {"title": title, "format": format, "dataset": dataset, "selected_fields": fields, "template_id": ""}
    data.update(extra)
    return auth.post("/exports/new", data, page=f"/exports/new?dataset={dataset}")


def finished(run_jobs, request_id=None) -> ExportRequest:
    run_jobs()
    db.session.expire_all()
    if request_id is None:
        return db.session.scalars(sa.select(ExportRequest).order_by(ExportRequest.id.desc())).first()
    return db.session.get(ExportRequest, request_id)


def download(client, auth, row):
    response = auth.post(f"/exports/requests/{row.id}/download", page=f"/exports/requests/{row.id}")
    assert response.status_code == 302, page_text(response)
    return client.get(response.headers["Location"])


def test_preview_shows_count_and_first_rows(people, login):
    add_entries(people["agent"], 25, project="Apollo")
    client, auth = login(people["agent"])
    response = auth.post("/exports/preview", {"dataset": "time_entries", "selected_fields": ["project", "task"],
                                              "filter_project": "apol"},
                         page="/exports/new", headers={"HX-Request": "true"})
    html = page_text(response)
    assert response.status_code == 200
    assert '<strong class="preview-count">25</strong>' in html and html.count("<tr>") == 11  # header + 10


def test_preview_refuses_no_fields(people, login):
    client, auth = login(people["agent"])
    response = auth.post("/exports/preview", {"dataset": "time_entries"}, page="/exports/new",
                         headers={"HX-Request": "true"})
    assert response.status_code == 422 and "at least one" in page_text(response)


@pytest.mark.parametrize("fmt", ["csv", "json", "excel", "pdf"])
def test_each_format_reads_back(people, login, run_jobs, fmt):
    add_entries(people["agent"], 120, project="Apollo")
    client, auth = login(people["agent"])
    response = start_export(auth, format=fmt)
    assert response.status_code == 302
    row = finished(run_jobs)
    assert row.status == "completed", row.error_message
    assert row.row_count == 120 and row.file_size > 0 and len(row.file_sha256) == 64
    assert abs((row.expires_at - row.finished_at) - timedelta(days=7)) < timedelta(minutes=1)
    file = download(client, auth, row)
    assert file.status_code == 200
    assert file.headers["Content-Disposition"].startswith("attachment; filename=november-")
    assert file.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in file.headers["Cache-Control"]
    content_type = file.headers["Content-Type"]
    assert content_type.count("charset") <= 1
    if fmt == "csv":
        assert content_type == "text/csv; charset=utf-8"
    body = file.get_data()
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows[0] == ["Date", "Member", "Project", "Task", "Duration (min)", "Description"]
        assert len(rows) == 121 and rows[1][2] == "Apollo"
    elif fmt == "json":
        rows = json.loads(body)
        assert len(rows) == 120 and rows[0]["project"] == "Apollo" and isinstance(rows[0]["duration"], int)
    elif fmt == "excel":
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        rows = list(book.worksheets[0].iter_rows(values_only=True))
        assert rows[0][2] == "Project" and len(rows) == 121 and isinstance(rows[1][4], (int, float))
    else:
        reader = PdfReader(io.BytesIO(body))
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert "November" in text and "Generated" in text and "Apollo" in text
        assert len(reader.pages) >= 2 and f"Page {len(reader.pages)}" in text
    assert reload(ExportRequest, row.id).download_count == 1


def test_formula_cells_are_neutralised_numbers_stay(people, login, run_jobs):
    add_entries(people["agent"], 1, project="=HYPERLINK(\"http://evil\")", description="@SUM(A1)")
    add_entries(people["agent"], 1, project="+cmd", description="-2+3")
    add_entries(people["agent"], 1, project="\tTab", description="\rCR")
    client, auth = login(people["agent"])
    start_export(auth, format="csv", fields=["project", "description", "duration"])
    row = finished(run_jobs)
    rows = list(csv.reader(io.StringIO(download(client, auth, row).get_data().decode("utf-8-sig"))))
    values = [v for r in rows[1:] for v in r[:2]]
    assert all(v.startswith("'") for v in values), values
    assert all(r[2].isdigit() for r in rows[1:])
    start_export(auth, format="excel", fields=["project", "description", "duration"])
    row = finished(run_jobs)
    book = openpyxl.load_workbook(io.BytesIO(download(client, auth, row).get_data()))
    sheet = book.worksheets[0]
    cells = [c for r in sheet.iter_rows(min_row=2) for c in r]
    assert all(c.data_type != "f" for c in cells)
    assert all(c.data_type == "s" and c.quotePrefix and not c.value.startswith("'") for c in cells if c.column <= 2)
    assert all(isinstance(c.value, int) for c in cells if c.column == 3)


def test_excel_rolls_over_to_a_new_sheet(app_ctx, tmp_path):
    from app.exports.writers import ExcelWriter

    with open(tmp_path / "x.xlsx", "wb") as handle:
        writer = ExcelWriter(handle, ["A"], ["a"], max_rows=4)  # 3 data rows per sheet
        writer.write_rows([(i,) for i in range(7)])
        writer.close()
    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    assert [len(list(s.iter_rows())) for s in book.worksheets] == [4, 4, 2]
    assert book.worksheets[1]["A1"].value == "A"


def test_customer_export_holds_only_their_rows(people, login, run_jobs):
    add_entries(people["customer"], 3, project="Mine")
    add_entries(people["agent"], 4, project="Agents")
    add_entries(people["other"], 5, project="Globex")
    client, auth = login(people["customer"])
    start_export(auth, format="json", fields=["project", "email"])
    row = finished(run_jobs)
    rows = json.loads(download(client, auth, row).get_data())
    assert {r["project"] for r in rows} == {"Mine"} and len(rows) == 3
    client, auth = login(people["manager"])
    start_export(auth, format="json", fields=["project"])
    rows = json.loads(download(client, auth, finished(run_jobs)).get_data())
    # The team's hours: the customer's own entries are not part of them.
    assert sorted({r["project"] for r in rows}) == ["Agents"] and len(rows) == 4


def test_datasets_follow_role_visibility(people, login):
    client, auth = login(people["agent"])
    page = page_text(client.get("/exports/new"))
    assert "Members" not in page and "API usage" not in page
    response = start_export(auth, dataset="members", fields=["email"])
    assert response.status_code == 422
    assert db.session.query(ExportRequest).count() == 0
    client, auth = login(people["admin"])
    assert "API usage" in page_text(client.get("/exports/new"))


def test_date_range_and_filters(people, login, run_jobs):
    add_entries(people["agent"], 28, project="Apollo")  # 2026-11-02 .. 2026-11-29
    client, auth = login(people["agent"])
    start_export(auth, format="json", fields=["date"], date_from="2026-11-10", date_to="2026-11-12")
    rows = json.loads(download(client, auth, finished(run_jobs)).get_data())
    assert [r["date"] for r in rows] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    response = start_export(auth, format="json", fields=["date"], date_from="2026-11-12", date_to="2026-11-10")
    assert response.status_code == 422 and "before the start" in page_text(response)


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles"])
def test_a_date_range_on_dates_is_the_users_days_in_any_time_zone(people, login, run_jobs, zone):
    # A time entry's date is the user's wall date: the range's UTC instants' dates were a day off at one end
    # (Tokyo's 10 November starts on 9 November in UTC; Los Angeles's 12 November ends on the 13th).
    from app.accounts.models import UserPreferences

    user = people["agent"]
    prefs = db.session.scalars(sa.select(UserPreferences).where(UserPreferences.user_id == user.id)).first()
    if prefs is None:
        prefs = UserPreferences(user_id=user.id)
        db.session.add(prefs)
    prefs.timezone = zone
    db.session.commit()
    add_entries(user, 28, project="Apollo")  # 2026-11-02 .. 2026-11-29
    client, auth = login(user)
    start_export(auth, format="json", fields=["date"], date_from="2026-11-10", date_to="2026-11-12")
    rows = json.loads(download(client, auth, finished(run_jobs)).get_data())
    assert [r["date"] for r in rows] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    start_export(auth, format="pdf", fields=["date"], date_from="2026-11-10", date_to="2026-11-12")
    reader = PdfReader(io.BytesIO(download(client, auth, finished(run_jobs)).get_data()))
    assert "dates 2026-11-10 to 2026-11-12" in reader.pages[0].extract_text()  # the report says the same days


def test_per_user_concurrency_limit(people, login, app):
    from app.exports import services

    client, auth = login(people["agent"])
    limit = app.config.get("EXPORTS_MAX_CONCURRENT_PER_USER", 3)
    for i in range(limit):  # waiting exports (not handed to a worker, so none finishes meanwhile)
        services.export_request_create(actor=services.Actor(people["agent"]), title=f"E{i}", format="csv",
                                       dataset="time_entries", fields=["date"], submit=False)
        db.session.commit()
    response = start_export(auth, title="one too many")
    assert response.status_code == 422 and "already have" in page_text(response)
    assert db.session.query(ExportRequest).count() == limit
    manager, manager_auth = login(people["manager"])  # the limit is per user
    assert start_export(manager_auth, title="mine").status_code == 302


def test_other_people_and_tenants_get_404(people, login, run_jobs):
    add_entries(people["agent"], 2)
    client, auth = login(people["agent"])
    start_export(auth)
    row = finished(run_jobs)
    for user in (people["customer"], people["other"], people["manager"]):
        other, other_auth = login(user)
        assert other.get(f"/exports/requests/{row.id}").status_code == 404
        assert other_auth.post(f"/exports/requests/{row.id}/download", page="/exports/").status_code == 404
    admin, _ = login(people["admin"])
    assert admin.get(f"/exports/requests/{row.id}").status_code == 200


def test_links_are_bound_to_user_and_tenant_and_forgery_is_404(people, login, run_jobs):
    add_entries(people["agent"], 2)
    client, auth = login(people["agent"])
    start_export(auth)
    row = finished(run_jobs)
    link = auth.post(f"/exports/requests/{row.id}/download", page="/exports/").headers["Location"]
    other, _ = login(people["admin"])  # same tenant, another user
    assert other.get(link).status_code == 404
    foreign, _ = login(people["other"])
    assert foreign.get(link).status_code == 404
    token = link.rsplit("/", 1)[1]
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    response = client.get(f"/exports/file/{forged}")
    assert response.status_code == 404 and "not valid" in page_text(response)
    assert client.get(link).status_code == 200


def test_expired_link_and_expired_export_are_410(people, login, run_jobs, app, monkeypatch):
    from app.exports import services
    from app.platform import storage

    add_entries(people["agent"], 2)
    client, auth = login(people["agent"])
    start_export(auth)
    row = finished(run_jobs)
    link = auth.post(f"/exports/requests/{row.id}/download", page="/exports/").headers["Location"]
    real_verify = storage.verify_download
    monkeypatch.setattr(storage, "verify_download", lambda token, **kw: real_verify(token, **{**kw, "max_age": -1}))
    response = client.get(link)
    assert response.status_code == 410 and "expired" in page_text(response)
    monkeypatch.undo()
    path = storage.resolve(row.file_path)
    assert path.exists()
    assert services.exports_expire(now=row.expires_at + timedelta(seconds=1)) == 1
    assert not path.exists()
    assert reload(ExportRequest, row.id).status == "expired"
    assert client.get(link).status_code == 410
    assert "expired" in page_text(client.get(f"/exports/requests/{row.id}"))
    assert auth.post(f"/exports/requests/{row.id}/download", page="/exports/").status_code == 410


def test_audit_rows_for_each_action(people, login, run_jobs, app):
    from app.exports import services

    add_entries(people["agent"], 2)
    client, auth = login(people["agent"])
    start_export(auth)
    row = finished(run_jobs)
    download(client, auth, row)
    services.exports_expire(now=row.expires_at + timedelta(seconds=1))
    start_export(auth, title="to delete")
    second = finished(run_jobs)
    assert auth.post(f"/exports/requests/{second.id}/delete", page="/exports/").status_code == 302
    actions = [a.action for a in db.session.scalars(sa.select(ExportAuditLog).order_by(ExportAuditLog.id))]
    assert actions == ["created", "started", "completed", "downloaded", "expired", "created", "started",
                       "completed", "deleted"]
    downloaded = db.session.scalars(sa.select(ExportAuditLog).where(ExportAuditLog.action == "downloaded")).one()
    assert downloaded.ip_address == "127.0.0.1" and downloaded.user_id == people["agent"].id
    admin, _ = login(people["admin"])
    page = page_text(admin.get("/exports/audit?action=deleted"))
    assert "to delete" in page and "File Downloaded" not in page.split("<tbody>")[1]
    agent_client, _ = login(people["agent"])
    assert agent_client.get("/exports/audit").status_code == 403


def test_failed_export_is_readable_and_retryable(people, login, run_jobs, app):
    add_entries(people["agent"], 3)
    client, auth = login(people["agent"])
    with storage_blocked(app, people["agent"].organization_id):
        start_export(auth)
        row = finished(run_jobs)
    assert row.status == "failed" and "Unexpected error" in row.error_message
    assert row.file_path == ""
    page = page_text(client.get(f"/exports/requests/{row.id}"))
    assert "Retry" in page and "Unexpected error" in page
    assert db.session.scalars(sa.select(ExportAuditLog.action).order_by(ExportAuditLog.id)).all()[-1] == "failed"
    response = auth.post(f"/jobs/export/{row.id}/retry", page=f"/exports/requests/{row.id}")
    assert response.status_code == 302
    row = finished(run_jobs, row.id)
    assert row.status == "completed" and row.row_count == 3


def test_an_export_the_reconciler_failed_is_audited_as_failed(people, login):
    add_entries(people["agent"], 1)
    _, auth = login(people["agent"])
    start_export(auth)
    row = db.session.scalars(sa.select(ExportRequest)).one()
    export_services.export_reconciled_failure(row.id, "The job stopped unexpectedly (its worker was killed).")
    failed = db.session.scalars(sa.select(ExportAuditLog).where(ExportAuditLog.action == "failed")).one()
    assert failed.export_request_id == row.id and failed.user_id == people["agent"].id
    assert failed.additional_data["error"] == "worker lost" and "worker was killed" in failed.additional_data["reason"]


def test_status_panel_shows_progress_then_download(people, login, run_jobs):
    add_entries(people["agent"], 5)
    client, auth = login(people["agent"])
    start_export(auth)
    row = db.session.scalars(sa.select(ExportRequest)).one()
    panel = page_text(client.get(f"/jobs/export/{row.id}/status", headers={"HX-Request": "true"}))
    assert "<progress" in panel and 'hx-trigger="every 1s"' in panel
    run_jobs()
    panel = page_text(client.get(f"/jobs/export/{row.id}/status", headers={"HX-Request": "true"}))
    assert "Download CSV" in panel and "hx-trigger" not in panel


def test_two_tenants_identical_exports_get_their_own_files(people, login, run_jobs):
    add_entries(people["admin"], 2, project="AcmeP")
    add_entries(people["other"], 3, project="GlobexP")
    a_client, a_auth = login(people["admin"])
    g_client, g_auth = login(people["other"])
    start_export(a_auth, format="json", fields=["project"])
    start_export(g_auth, format="json", fields=["project"])
    run_jobs()
    rows = db.session.scalars(sa.select(ExportRequest).order_by(ExportRequest.id)).all()
    assert len({r.file_path for r in rows}) == 2
    assert {r["project"] for r in json.loads(download(a_client, a_auth, rows[0]).get_data())} == {"AcmeP"}
    assert {r["project"] for r in json.loads(download(g_client, g_auth, rows[1]).get_data())} == {"GlobexP"}


def test_template_prefills_and_counts_usage(people, login, run_jobs):
    from app.exports.models import ExportTemplate

    add_entries(people["agent"], 2)
    template = db.session.scalars(sa.select(ExportTemplate).where(
        ExportTemplate.name == "Basic Time Tracking Export")).one()
    client, auth = login(people["agent"])
    page = page_text(client.get(f"/exports/new?template={template.id}"))
    assert 'value="Basic Time Tracking Export"' in page
    start_export(auth, fields=template.fields, template_id=str(template.id))
    row = finished(run_jobs)
    rows = list(csv.reader(io.StringIO(download(client, auth, row).get_data().decode("utf-8-sig"))))
    assert rows[0] == ["Date", "Project", "Task", "Duration", "Description"]
    template = reload(ExportTemplate, template.id)
    assert template.usage_count == 1 and template.last_used is not None


def test_a_template_chosen_on_new_export_is_applied(people, login, run_jobs):
    """Picked in the menu of a plain New export page: the file has the template's format, fields and headers."""
    from app.exports.models import ExportTemplate

    add_entries(people["manager"], 3, project="Apollo")
    template = db.session.scalars(sa.select(ExportTemplate).where(
        ExportTemplate.name == "Timesheet Workbook (Excel)")).one()
    client, auth = login(people["manager"])
    response = start_export(auth, format="csv", fields=["date", "member", "project"], template_id=str(template.id),
                            title="Workbook")
    assert response.status_code == 302
    row = finished(run_jobs)
    assert (row.format, row.selected_fields, row.template_id) == ("excel", template.fields, template.id)
    book = openpyxl.load_workbook(io.BytesIO(download(client, auth, row).get_data()))
    header = [c.value for c in book.worksheets[0][1]]
    assert header == ["Date", "Member", "Email", "Project", "Task", "Minutes", "Hours"]


def test_the_default_time_entry_export_includes_duration_and_hours(people, login, run_jobs):
    import re

    add_entries(people["agent"], 2, project="Apollo")
    client, auth = login(people["agent"])
    page = client.get("/exports/new").get_data(as_text=True)
    checked = re.findall(r'<input checked[^>]*value="(\w+)"|<input[^>]*value="(\w+)"[^>]*checked', page)
    names = {a or b for a, b in checked}
    assert {"duration", "hours"} <= names, names

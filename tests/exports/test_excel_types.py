"""Excel files read back by openpyxl: dates, timestamps and numbers are native values with number formats
(the user's date format), text stays text."""
from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import sqlalchemy as sa

from app.exports import services
from app.exports.models import ExportRequest
from app.extensions import db
from app.platform import storage
from tests.exports.conftest import add_entries


def _excel(user, dataset: str, fields: list[str]):
    row = services.export_request_create(actor=services.Actor(user), title="Types", format="excel", dataset=dataset,
                                         fields=fields, submit=False)
    db.session.commit()
    services._export_write(db.session.get(ExportRequest, row.id), lambda *a, **k: None)
    db.session.commit()
    path = storage.resolve(db.session.get(ExportRequest, row.id).file_path)
    return openpyxl.load_workbook(io.BytesIO(path.read_bytes())).worksheets[0]


def test_time_entries_are_native_dates_and_numbers(people):
    add_entries(people["manager"], 3, project="2026-11-30", description="12.5")
    sheet = _excel(people["manager"], "time_entries", ["date", "project", "duration", "hours", "description"])
    assert [c.value for c in sheet[1]] == ["Date", "Project", "Duration (min)", "Hours", "Description"]
    day, project, minutes, hours, text = sheet[2]
    assert isinstance(day.value, datetime) and day.value.date() == date(2026, 11, 2) and day.is_date
    assert day.number_format == "yyyy-mm-dd"
    assert minutes.value == 15 and minutes.data_type == "n"
    assert hours.value == 0.25 and hours.data_type == "n" and hours.number_format == "0.00"
    assert project.value == "2026-11-30" and project.data_type == "s"  # text that looks like a date stays text
    assert text.value == "12.5" and text.data_type == "s"


def test_timestamps_are_native_in_utc_and_booleans_are_booleans(people):
    sheet = _excel(people["admin"], "members", ["name", "active", "joined"])
    assert [c.value for c in sheet[1]] == ["Name", "Active", "Joined (UTC)"]
    from app.accounts.models import User

    joined = {u.full_name: u.created_at for u in db.session.scalars(sa.select(User))}
    for name, active, when in sheet.iter_rows(min_row=2):
        assert active.value is True and active.data_type == "b"
        assert isinstance(when.value, datetime) and when.is_date
        assert when.number_format == "yyyy-mm-dd hh:mm:ss"
        # whole seconds, as in CSV (within a second: Excel stores times as fractions of a day)
        assert abs((when.value - joined[name.value].replace(tzinfo=None, microsecond=0)).total_seconds()) <= 1


def test_the_users_date_format_is_the_cells_format(people):
    from app.accounts.models import UserPreferences

    user = people["manager"]
    prefs = db.session.scalars(sa.select(UserPreferences).where(UserPreferences.user_id == user.id)).first()
    if prefs is None:
        prefs = UserPreferences(user_id=user.id)
        db.session.add(prefs)
    prefs.preferred_date_format = "eu"
    db.session.commit()
    add_entries(user, 1)
    sheet = _excel(user, "time_entries", ["date", "hours"])
    assert sheet["A2"].number_format == "dd.mm.yyyy" and sheet["A2"].is_date


def test_formula_like_text_is_kept_as_written_in_quote_prefixed_text_cells(people):
    # An apostrophe added to the string is data to Excel (shown, read back, sorted on); the quote-prefix flag
    # is Excel's own way of keeping such text from becoming a formula, even when the cell is edited.
    risky = ["=1+1", "+cmd", "-2 fix", "@SUM(A1)", "\tTab", ";x", "|y"]
    for text in risky + ["007"]:
        add_entries(people["manager"], 1, project=text, description=text)
    sheet = _excel(people["manager"], "time_entries", ["project", "description"])
    cells = {c.value: c for row in sheet.iter_rows(min_row=2) for c in row}
    for text in risky:
        cell = cells[text]
        assert cell.data_type == "s" and cell.quotePrefix, text
    assert cells["007"].data_type == "s" and not cells["007"].quotePrefix  # leading zeros kept, no flag needed
    assert not any(str(value).startswith("'") for value in cells)


def test_a_formula_like_header_is_kept_as_written(app_ctx, tmp_path):
    from app.exports.writers import ExcelWriter

    with open(tmp_path / "x.xlsx", "wb") as handle:
        writer = ExcelWriter(handle, ["=Total", "Plain"], ["a", "b"])
        writer.write_rows([(1, "x")])
        writer.close()
    header = openpyxl.load_workbook(tmp_path / "x.xlsx").worksheets[0][1]
    assert [c.value for c in header] == ["=Total", "Plain"]
    assert header[0].data_type == "s" and header[0].quotePrefix and header[0].font.b
    assert not header[1].quotePrefix and header[1].font.b


def test_text_longer_than_a_cell_holds_is_cut_with_a_visible_marker(app_ctx, tmp_path):
    # Excel holds 32,767 characters (UTF-16 units) in a cell; XlsxWriter cut longer text there silently.
    from app.exports.writers import ExcelWriter

    long_text = "".join(f"{i:06d} " for i in range(6000))  # 42,000 characters
    emoji = "\U0001F600" * 20_000  # 20,000 characters, 40,000 UTF-16 units
    with open(tmp_path / "x.xlsx", "wb") as handle:
        writer = ExcelWriter(handle, ["Goal", "Mood", "Short"], ["goal", "mood", "short"])
        writer.write_rows([(long_text, emoji, "x" * 32_000)])
        writer.close()
    goal, mood, short = openpyxl.load_workbook(tmp_path / "x.xlsx").worksheets[0][2]
    assert goal.value.startswith(long_text[:30_000]) and goal.value.endswith("chars cut]")
    assert len(goal.value) <= 32_767
    cut = int(goal.value.rsplit("[+", 1)[1].split(" ")[0])
    assert goal.value.startswith(long_text[:len(long_text) - cut])
    assert mood.value.endswith("chars cut]") and len(mood.value.encode("utf-16-le")) <= 2 * 32_767
    assert "\ufffd" not in mood.value  # no half of a surrogate pair
    assert short.value == "x" * 32_000

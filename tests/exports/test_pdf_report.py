"""PDF reports read back by pypdf's text extraction: every character of a mixed-script row, wrapped cells,
a visible marker where a cell is cut, totals, headers on every page, no internal columns or filters."""
from __future__ import annotations

import io
import re
from datetime import date

from pypdf import PdfReader

from app.exports import services
from app.exports.models import ExportRequest, TimeEntry
from app.extensions import db
from app.platform import storage

MIXED = ("Latin \u00e9\u00e8\u00e7\u00df \u0141\u00f3d\u017a, Greek \u0391\u03b8\u03ae\u03bd\u03b1, Cyrillic "
         "\u041c\u043e\u0441\u043a\u0432\u0430, Chinese \u4e2d\u6587\u6d4b\u8bd5, Japanese \u3072\u3089\u304c\u306a"
         "\u30ab\u30bf\u30ab\u30ca, Korean \ud55c\uad6d\uc5b4, symbols \u2713\u2605\u20ac\u2192\u221e, emoji "
         "\U0001F600\U0001F680")
AWKWARD_SPACES = "a\rb\nc\r\nd\te\u200bf\u200dg\ufeffh"


def _pdf(user, fields, *, filters=None, dataset="time_entries") -> PdfReader:
    row = services.export_request_create(actor=services.Actor(user), title="Report \u4e2d\u6587 \u0391\u03b8",
                                         format="pdf", dataset=dataset, fields=fields, filters=filters, submit=False)
    db.session.commit()
    services._export_write(db.session.get(ExportRequest, row.id), lambda *a, **k: None)
    db.session.commit()
    return PdfReader(io.BytesIO(storage.resolve(db.session.get(ExportRequest, row.id).file_path).read_bytes()))


def _text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def _entry(user, description: str, minutes: int = 30, project: str = "Apollo", day: int = 2) -> None:
    db.session.add(TimeEntry(organization_id=user.organization_id, user_id=user.id, date=date(2026, 11, day),
                             project=project, duration_minutes=minutes, description=description))
    db.session.commit()


def test_every_character_of_a_mixed_script_row_is_in_the_text(people):
    _entry(people["agent"], MIXED)
    text = _text(_pdf(people["agent"], ["description"]))
    squeezed = re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", MIXED) in squeezed, text
    assert "Report \u4e2d\u6587 \u0391\u03b8" in text  # the title too


def test_line_breaks_tabs_and_invisible_characters_print_as_layout_not_boxes(people):
    _entry(people["agent"], AWKWARD_SPACES)
    text = _text(_pdf(people["agent"], ["description"]))
    assert re.sub(r"\s+", "", text).count("abcdefgh") == 1
    assert "\u25a1" not in text and "\ufffd" not in text


def test_long_cells_wrap_and_what_is_cut_is_marked(people):
    long_words = " ".join(f"word{i:04d}" for i in range(600))
    _entry(people["agent"], long_words, project="P" * 200)
    text = _text(_pdf(people["agent"], ["project", "description"]))
    assert "word0000" in text and "word0030" in text  # wrapped onto further lines, not cut at 20 characters
    assert re.search(r"\u2026 \[\+\d+ chars cut\]", text)  # visible marker
    assert "word0599" not in text


def test_totals_of_numeric_columns_and_headers_on_every_page(people):
    for i in range(180):
        _entry(people["agent"], f"task {i}", minutes=1 + i % 60, day=1 + i % 28)
    reader = _pdf(people["agent"], ["date", "project", "duration", "hours"])
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    assert all("Duration (min)" in page and "Hours" in page for page in pages)
    minutes = sum(1 + i % 60 for i in range(180))
    hours = sum(round((1 + i % 60) / 60 + 1e-9, 2) for i in range(180))
    assert re.search(rf"Total\s+{minutes}\s+{hours:.2f}", pages[-1]), pages[-1][-300:]


def test_internal_filters_stay_out_of_the_report(people, app):
    from app.accounts.models import Workspace

    import sqlalchemy as sa

    workspace = db.session.scalars(sa.select(Workspace).where(
        Workspace.organization_id == people["manager"].organization_id)).first()
    text = _text(_pdf(people["manager"], ["value", "created_at"], dataset="names",
                      filters={"workspace_id": str(workspace.id), "state": "active"}))
    assert "workspace_id" not in text and "Active/released: active" in text and "Created (UTC)" in text


def test_right_to_left_text_is_drawn_in_reading_order(people):
    # The canvas draws left to right: unordered, Hebrew came out backwards (pypdf, which reads a line's
    # right-to-left runs from the right as a PDF viewer shows them, gave "םולש" for "שלום").
    _entry(people["agent"], "Hebrew \u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd, Arabic "
                            "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645")
    text = _text(_pdf(people["agent"], ["description"]))
    assert "\u05e9\u05dc\u05d5\u05dd" in text and "\u05e2\u05d5\u05dc\u05dd" in text, text
    assert "\u0645\u0631\u062d\u0628\u0627" in text and "\u0628\u0627\u0644\u0639\u0627\u0644\u0645" in text, text
    assert "\u05dd\u05d5\u05dc\u05e9" not in text  # not backwards

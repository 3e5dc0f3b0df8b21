"""Streaming writers: one row batch at a time, so memory stays flat however many rows.

Each writer takes a binary file handle (from `storage.atomic_write`), the
headers, and then `write_rows(batch)` repeatedly; `close()` finishes the file.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any, Iterable

from app.platform import storage

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
EXCEL_MAX_ROWS = 1_048_576  # including the header row: 1,048,575 data rows per sheet


def neutralise(value: Any) -> Any:
    """OWASP CSV injection: a text cell that would start a formula gets a leading apostrophe.

    Numbers stay numbers (a negative amount is data, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


class CsvWriter:
    def __init__(self, handle: IO[bytes], headers: list[str], fields: list[str], **_: Any) -> None:
        self.text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=False)
        self.text.write("\ufeff")  # so Excel opens UTF-8 correctly
        self.writer = csv.writer(self.text)
        self.writer.writerow([neutralise(h) for h in headers])

    def write_rows(self, rows: Iterable[tuple]) -> None:
        self.writer.writerows([neutralise(plain(v)) for v in row] for row in rows)

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the handle belongs to atomic_write


class JsonWriter:
    """A JSON array of objects keyed by field name, written incrementally."""

    def __init__(self, handle: IO[bytes], headers: list[str], fields: list[str], **_: Any) -> None:
        self.handle = handle
        self.fields = fields
        self.first = True
        handle.write(b"[")

    def write_rows(self, rows: Iterable[tuple]) -> None:
        chunks = []
        for row in rows:
            chunks.append(("\n" if self.first else ",\n")
                          + json.dumps(dict(zip(self.fields, (plain(v) for v in row))), ensure_ascii=False))
            self.first = False
        self.handle.write("".join(chunks).encode("utf-8"))

    def close(self) -> None:
        self.handle.write(b"\n]\n")


class ExcelWriter:
    """xlsxwriter in constant_memory mode; a new sheet past 1,048,575 data rows."""

    def __init__(self, handle: IO[bytes], headers: list[str], fields: list[str], *, title: str = "Export",
                 max_rows: int = EXCEL_MAX_ROWS, **_: Any) -> None:
        import xlsxwriter

        # XlsxWriter spools each sheet to a temp file (the export's names and emails, in plain text): under
        # STORAGE_DIR/work, removed when the writer closes or its atomic write fails, swept after a kill.
        self.work_dir = storage.new_work_dir("xlsx-", for_write=handle)
        self.workbook = xlsxwriter.Workbook(handle, {"constant_memory": True, "strings_to_formulas": False,
                                                     "strings_to_urls": False, "strings_to_numbers": False,
                                                     "tmpdir": str(self.work_dir)})
        self.headers = [neutralise(h) for h in headers]
        self.bold = self.workbook.add_format({"bold": True})
        self.max_rows = max_rows
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        self.sheet = self.workbook.add_worksheet(f"Export {self.sheets}" if self.sheets > 1 else "Export")
        self.sheet.write_row(0, 0, self.headers, self.bold)
        self.row = 1

    def write_rows(self, rows: Iterable[tuple]) -> None:
        for row in rows:
            if self.row >= self.max_rows:
                self._new_sheet()
            for col, value in enumerate(row):
                value = plain(value)
                if value is None:
                    continue
                if isinstance(value, bool):
                    self.sheet.write_boolean(self.row, col, value)
                elif isinstance(value, (int, float)):
                    self.sheet.write_number(self.row, col, value)
                else:
                    self.sheet.write_string(self.row, col, neutralise(str(value)))
            self.row += 1

    def close(self) -> None:
        try:
            self.workbook.close()
        finally:
            storage.remove_work_dir(self.work_dir)


class PdfWriter:
    """A paginated table report drawn on a reportlab canvas: title, filters, generated-at, page numbers."""

    def __init__(self, handle: IO[bytes], headers: list[str], fields: list[str], *, title: str = "Export",
                 subtitle: str = "", landscape: bool = False, generated_at: str = "", **_: Any) -> None:
        from reportlab.lib.pagesizes import A4, landscape as to_landscape
        from reportlab.pdfgen import canvas

        self.size = to_landscape(A4) if landscape else A4
        self.canvas = canvas.Canvas(handle, pagesize=self.size, pageCompression=1)
        self.canvas.setTitle(title)
        self.headers = headers
        self.title = title
        self.subtitle = subtitle
        self.generated_at = generated_at
        self.page = 0
        width = self.size[0] - 72
        self.col_width = width / max(1, len(headers))
        self.chars = max(4, int(self.col_width / 4.6))
        self._start_page()

    def _start_page(self) -> None:
        self.page += 1
        c = self.canvas
        top = self.size[1] - 36
        if self.page == 1:
            c.setFont("Helvetica-Bold", 14)
            c.drawString(36, top - 6, self.title[:120])
            c.setFont("Helvetica", 8)
            c.drawString(36, top - 20, f"Generated {self.generated_at}")
            if self.subtitle:
                c.drawString(36, top - 31, self.subtitle[:180])
            top -= 44
        c.setFont("Helvetica-Bold", 8)
        for i, header in enumerate(self.headers):
            c.drawString(36 + i * self.col_width, top, str(header)[: self.chars])
        c.line(36, top - 3, self.size[0] - 36, top - 3)
        c.setFont("Helvetica", 8)
        self.y = top - 14

    def _end_page(self) -> None:
        c = self.canvas
        c.setFont("Helvetica", 7)
        c.drawRightString(self.size[0] - 36, 20, f"Page {self.page}")
        c.showPage()

    def write_rows(self, rows: Iterable[tuple]) -> None:
        c = self.canvas
        for row in rows:
            if self.y < 40:
                self._end_page()
                self._start_page()
            for i, value in enumerate(row):
                value = plain(value)
                c.drawString(36 + i * self.col_width, self.y, "" if value is None else str(value)[: self.chars])
            self.y -= 11

    def close(self) -> None:
        self._end_page()
        self.canvas.save()


WRITERS = {"csv": CsvWriter, "json": JsonWriter, "excel": ExcelWriter, "pdf": PdfWriter}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "excel": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

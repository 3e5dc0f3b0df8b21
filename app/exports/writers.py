"""Streaming writers: one row batch at a time, so memory stays flat however many rows.

Each writer takes a binary file handle (from `storage.atomic_write`), the
headers, and then `write_rows(batch)` repeatedly; `close()` finishes the file.
"""
from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from json.encoder import py_encode_basestring
from typing import IO, Any, Iterable

try:  # the C encoder when present: the same escapes, faster
    from _json import encode_basestring
except ImportError:  # pragma: no cover
    encode_basestring = py_encode_basestring

from app.platform import storage

# OWASP's list plus ";" and "|" (some spreadsheets read a leading ";" or "|" as a separator or a DDE call).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", ";", "|")
EXCEL_MAX_ROWS = 1_048_576  # including the header row: 1,048,575 data rows per sheet


def neutralise(value: Any) -> Any:
    """OWASP CSV injection: a text cell that would start a formula gets a leading apostrophe.

    Numbers stay numbers (a negative amount is data, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# --------------------------------------------------------------------------- values in files
# One rendering for CSV and JSON, whichever database the rows came from (the README's "File formats"):
# timestamps in UTC as 2026-12-05T18:50:33Z, dates 2026-12-05, booleans true/false, numbers as the database
# holds them with a field's fixed decimals (hours: 4.00), empty for NULL.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_timestamp(value: datetime) -> str:
    value = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value.strftime(TIMESTAMP_FORMAT)


def _decimals(spec) -> int | None:
    return getattr(spec, "decimals", None)


def number_text(value: Any, decimals: int | None) -> str:
    if decimals is not None:
        return f"{Decimal(str(value)):.{decimals}f}" if isinstance(value, float) else f"{value:.{decimals}f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def text_value(value: Any, decimals: int | None = None) -> str:
    """A value as CSV text (before neutralisation)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return number_text(value, decimals)
    if isinstance(value, datetime):
        return utc_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return number_text(value.total_seconds(), None)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def json_value(value: Any, decimals: int | None = None) -> Any:
    """A value for JSON: numbers stay numbers (with a field's decimals rounded the same way), the rest as in CSV."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (float, Decimal)):
        return float(number_text(value, decimals)) if decimals is not None else float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return text_value(value, decimals)


def plain(value: Any) -> Any:
    """Kept for other callers: JSON-ready values."""
    return json_value(value)


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def csv_field(text: str) -> str:
    """PostgreSQL COPY's CSV rules, so both paths give the same bytes: quoted (inner quotes doubled) when it
    holds a comma, a quote, CR or LF, or is exactly the end-of-data marker \\."""
    if _NEEDS_QUOTES.search(text) or text == "\\.":
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(texts: list[str]) -> str:
    if len(texts) == 1 and not texts[0]:
        return '""\n'  # a lone empty field is written quoted, or the line would read as no row at all
    return ",".join(map(csv_field, texts)) + "\n"


def header_labels(headers: list[str], specs: list | None) -> list[str]:
    """Headers, a timestamp column saying its zone: "Joined (UTC)"."""
    specs = specs or [None] * len(headers)
    return [f"{h} (UTC)" if getattr(spec, "type", "") == "datetime" and "UTC" not in h else h
            for h, spec in zip(headers, specs)]


class CsvWriter:
    """UTF-8 with a BOM (so Excel opens it as UTF-8), LF line endings, COPY's quoting rules."""

    def __init__(self, handle: IO[bytes], headers: list[str], fields: list[str], *, specs: list | None = None,
                 **_: Any) -> None:
        self.handle = handle
        self.decimals = [_decimals(spec) for spec in (specs or [None] * len(fields))]
        handle.write(("\ufeff" + csv_line([neutralise(h) for h in header_labels(headers, specs)])).encode("utf-8"))

    def write_rows(self, rows: Iterable[tuple]) -> None:
        decimals = self.decimals
        self.handle.write("".join(
            csv_line([neutralise(v) if isinstance(v, str) else text_value(v, d) for v, d in zip(row, decimals)])
            for row in rows
        ).encode("utf-8"))

    def close(self) -> None:
        pass  # the handle belongs to atomic_write


def json_text(value: Any, decimals: int | None = None) -> str:
    """A value as JSON text: what PostgreSQL's to_json and numeric text give for the same value (services.
    _json_rows renders rows there): strings escaped as Python's encoder does, numbers as the database holds
    them (a field's fixed decimals: 1.00), timestamps and dates as strings, as in CSV."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):
        return number_text(value, decimals) if math.isfinite(value) else "null"
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, timedelta):
        return number_text(value.total_seconds(), None)
    return encode_basestring(text_value(value, decimals))


class JsonWriter:
    """A JSON array of objects keyed by field name, one object a line, written incrementally.

    Rows are tuples of values, or (prerendered) one-column rows holding each object's text, rendered by
    PostgreSQL the same way."""

    def __init__(self, handle: IO[bytes], headers: list[str], fields: list[str], *, specs: list | None = None,
                 prerendered: bool = False, **_: Any) -> None:
        self.handle = handle
        self.keys = [("{" if i == 0 else ", ") + json.dumps(f) + ": " for i, f in enumerate(fields)]
        self.decimals = [_decimals(spec) for spec in (specs or [None] * len(fields))]
        self.prerendered = prerendered
        self.first = True
        handle.write(b"[")

    def _object(self, row: tuple) -> str:
        return "".join(key + json_text(value, d) for key, value, d in zip(self.keys, row, self.decimals)) + "}"

    def write_rows(self, rows: Iterable[tuple]) -> None:
        objects = [row[0] for row in rows] if self.prerendered else [self._object(row) for row in rows]
        if not objects:
            return
        self.handle.write((("\n" if self.first else ",\n") + ",\n".join(objects)).encode("utf-8"))
        self.first = False

    def close(self) -> None:
        self.handle.write(b"\n]\n")


EXCEL_DATE_FORMATS = {"iso": "yyyy-mm-dd", "us": "mm/dd/yyyy", "eu": "dd.mm.yyyy"}
# Excel's most characters in a cell, counted in UTF-16 units (an emoji is two). XlsxWriter cuts a longer string
# there without a word; a project's goal or a long description would lose its end unseen.
EXCEL_CELL_MAX = 32_767


def excel_cell_text(text: str) -> str:
    """`text`, or when Excel can't hold it, as much as fits and the PDF report's marker of what was cut."""
    if len(text) <= EXCEL_CELL_MAX // 2:
        return text  # fits however many units each character takes
    encoded = text.encode("utf-16-le")
    if len(encoded) <= 2 * EXCEL_CELL_MAX:
        return text
    kept = encoded[:2 * (EXCEL_CELL_MAX - 40)].decode("utf-16-le", errors="ignore")  # 40: room for the marker
    return kept + f" \u2026 [+{len(text) - len(kept)} chars cut]"


class ExcelWriter:
    """xlsxwriter in constant_memory mode; a new sheet past 1,048,575 data rows.

    Dates, timestamps (UTC, said in the header), durations and numbers are native Excel values with number
    formats, so a spreadsheet sorts, filters and sums them; text stays text, exactly as written (formula-like
    text in quote-prefixed cells, not with an apostrophe added as in CSV).
    """

    def __init__(self, handle: IO[bytes], headers: list[str], fields: list[str], *, title: str = "Export",
                 max_rows: int = EXCEL_MAX_ROWS, specs: list | None = None, date_format: str = "iso",
                 **_: Any) -> None:
        import xlsxwriter

        # XlsxWriter spools each sheet to a temp file (the export's names and emails, in plain text): under
        # STORAGE_DIR/work, removed when the writer closes or its atomic write fails, swept after a kill.
        self.work_dir = storage.new_work_dir("xlsx-", for_write=handle)
        self.workbook = xlsxwriter.Workbook(handle, {"constant_memory": True, "strings_to_formulas": False,
                                                     "strings_to_urls": False, "strings_to_numbers": False,
                                                     "tmpdir": str(self.work_dir)})
        self.headers = header_labels(headers, specs)  # a template's own headers may start like a formula
        self.bold = self.workbook.add_format({"bold": True})
        self.bold_text = self.workbook.add_format({"bold": True, "quote_prefix": True})
        day = EXCEL_DATE_FORMATS.get(date_format, EXCEL_DATE_FORMATS["iso"])
        self.date_format = self.workbook.add_format({"num_format": day})
        self.datetime_format = self.workbook.add_format({"num_format": day + " hh:mm:ss"})
        self.duration_format = self.workbook.add_format({"num_format": "[h]:mm:ss"})
        # Excel's own "this is text" flag (what typing a leading ' sets): the cell shows and holds the text as
        # written and stays text when edited. A ' inside the string would be shown and read back as data.
        self.text_format = self.workbook.add_format({"quote_prefix": True})
        self.number_formats = [self.workbook.add_format({"num_format": "0." + "0" * d}) if d else None
                               for d in (_decimals(spec) for spec in (specs or [None] * len(headers)))]
        self.max_rows = max_rows
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        self.sheet = self.workbook.add_worksheet(f"Export {self.sheets}" if self.sheets > 1 else "Export")
        for col, header in enumerate(self.headers):
            self.sheet.write_string(0, col, header,
                                    self.bold_text if header.startswith(FORMULA_PREFIXES) else self.bold)
        self.row = 1

    def write_rows(self, rows: Iterable[tuple]) -> None:
        for row in rows:
            if self.row >= self.max_rows:
                self._new_sheet()
            for col, value in enumerate(row):
                if value is not None:
                    self._write(col, value)
            self.row += 1

    def _write(self, col: int, value: Any) -> None:
        sheet, row = self.sheet, self.row
        if isinstance(value, bool):
            sheet.write_boolean(row, col, value)
        elif isinstance(value, (int, float, Decimal)):
            sheet.write_number(row, col, float(value), self.number_formats[col] if col < len(self.number_formats)
                               else None)
        elif isinstance(value, datetime):
            moment = value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
            moment = moment.replace(microsecond=0)  # whole seconds, as CSV and JSON write them
            sheet.write_datetime(row, col, moment, self.datetime_format)
        elif isinstance(value, date):
            sheet.write_datetime(row, col, value, self.date_format)
        elif isinstance(value, timedelta):
            sheet.write_number(row, col, value.total_seconds() / 86400, self.duration_format)
        else:
            text = excel_cell_text(text_value(value))
            sheet.write_string(row, col, text, self.text_format if text.startswith(FORMULA_PREFIXES) else None)

    def close(self) -> None:
        try:
            self.workbook.close()
        finally:
            storage.remove_work_dir(self.work_dir)


def _pdf_writer(*args: Any, **kwargs: Any):
    from app.exports.pdf import PdfWriter

    return PdfWriter(*args, **kwargs)


WRITERS = {"csv": CsvWriter, "json": JsonWriter, "excel": ExcelWriter, "pdf": _pdf_writer}
CONTENT_TYPES = {
    "csv": "text/csv",  # Werkzeug adds "; charset=utf-8" to text/* types: once, not twice
    "json": "application/json",
    "excel": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}

"""The PDF table report: Unicode fonts with fallback, wrapped cells, repeated headers, totals.

Fonts are Debian packages the Makefile installs (`make fonts`): DejaVu Sans (Latin, Greek, Cyrillic and many
symbols), Droid Sans Fallback (Chinese, Japanese, Korean) and Symbola (the remaining symbols and emoji, in
black and white). reportlab embeds TrueType outlines only, so Noto CJK (PostScript outlines) cannot serve.
Each character is drawn in the first font that has it. Text wraps inside its column and the row grows;
a cell longer than MAX_LINES lines is cut with a visible marker saying how much is left out.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import IO, Any, Iterable

log = logging.getLogger("cairn.exports")

FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts-droid-fallback", "/usr/share/fonts")
FONT_FILES = {  # registered name -> file name (searched under FONT_DIRS, or EXPORTS_PDF_FONT_DIR first)
    "CairnSans": "DejaVuSans.ttf",
    "CairnSans-Bold": "DejaVuSans-Bold.ttf",
    "CairnCJK": "DroidSansFallback.ttf",  # the "Full" variant's cmap gives reportlab only 3 Hangul syllables
    "CairnSymbols": "Symbola_hint.ttf",
}
REGULAR_CHAIN = ("CairnSans", "CairnCJK", "CairnSymbols")
BOLD_CHAIN = ("CairnSans-Bold", "CairnCJK", "CairnSymbols")
MAX_LINES = 12
SIZE = 7.5
LEADING = 9.5
PAD = 2.5
_INVISIBLE = re.compile("[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\u202a-\u202e"
                        "\u2060-\u2064\ufeff]")


class FontsMissing(RuntimeError):
    pass


def _find(file_name: str) -> str | None:
    dirs = [os.environ.get("EXPORTS_PDF_FONT_DIR", "")] + list(FONT_DIRS)
    for folder in filter(None, dirs):
        for root, _dirs, files in os.walk(folder):
            if file_name in files:
                return os.path.join(root, file_name)
    return None


def _to_unicode_cmap(fontname: str, subset) -> str:
    """reportlab's ToUnicode CMap, with characters past U+FFFF written as UTF-16 surrogate pairs as the PDF
    reference says (reportlab writes five hex digits, so text extraction loses every emoji)."""
    pairs = [f"<{i:02X}> <{chr(code).encode('utf-16-be').hex().upper()}>" for i, code in enumerate(subset)]
    return "\n".join(["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap", "/CIDSystemInfo",
                      f"<< /Registry ({fontname})", f"/Ordering ({fontname})", "/Supplement 0", ">> def",
                      f"/CMapName /{fontname} def", "/CMapType 2 def", "1 begincodespacerange",
                      f"<00> <{len(subset) - 1:02X}>", "endcodespacerange", f"{len(subset)} beginbfchar",
                      *pairs, "endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"])


@lru_cache(maxsize=None)
def font_coverage(name: str) -> frozenset[int]:
    """Register one font with reportlab (once per process) and return the code points it covers; empty when
    a fallback font is not installed. The CJK and symbol fonts are loaded only when a report needs them: their
    tables cost tens of MB."""
    from reportlab.pdfbase import pdfmetrics, ttfonts
    from reportlab.pdfbase.ttfonts import TTFont

    ttfonts.makeToUnicodeCMap = _to_unicode_cmap
    file_name = FONT_FILES[name]
    path = _find(file_name)
    if path is None:
        if name.startswith("CairnSans"):
            raise FontsMissing(f"{file_name} is not installed: run `make fonts` (Debian fonts-dejavu-core).")
        log.warning("PDF fallback font %s not found (make fonts); its characters print as boxes", file_name)
        return frozenset()
    font = TTFont(name, path)
    pdfmetrics.registerFont(font)
    return frozenset(font.face.charToGlyph)


def register_fonts() -> dict[str, frozenset[int]]:
    """Every font registered: name -> coverage."""
    return {name: font_coverage(name) for name in FONT_FILES}


@dataclass
class Column:
    label: str
    width: float
    numeric: bool
    decimals: int | None


# Hebrew, Arabic, Syriac, Thaana, NKo... and their presentation forms: the scripts written right to left.
_RIGHT_TO_LEFT = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff]")


def visual_order(line: str) -> str:
    """A line's characters in the order they are drawn, left to right. The canvas draws what it is given left to
    right, so right-to-left text came out backwards (a PDF reader, pypdf for one, read "שלום" as "םולש");
    the Unicode bidirectional algorithm (python-bidi) turns its runs round, numbers and Latin words inside
    them staying left to right. Arabic letters are not joined (reportlab does not shape text)."""
    if not _RIGHT_TO_LEFT.search(line):
        return line
    from bidi import get_display

    return get_display(line)


def clean(text: str) -> str:
    """Line breaks as breaks, tabs as spaces, invisible and control characters dropped (they print as boxes)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _INVISIBLE.sub("", text)


class Typesetter:
    """Splits text into runs of one font each and wraps it to a width."""

    def __init__(self, chain: tuple[str, ...], size: float) -> None:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        self.chain = list(chain)
        self.primary = chain[0]
        self.primary_coverage = font_coverage(self.primary)
        self.size = size
        self._width = stringWidth
        self._fonts: dict[str, str] = {}
        self._widths: dict[str, float] = {}

    def font_of(self, char: str) -> str:
        font = self._fonts.get(char)
        if font is None:
            code = ord(char)
            font = next((name for name in self.chain if code in font_coverage(name)), self.primary)
            self._fonts[char] = font
        return font

    def simple(self, text: str) -> bool:
        """All in the primary font (most cells): one run, measured in one call."""
        return text.isascii() or all(ord(c) in self.primary_coverage for c in text)

    def width_of(self, char: str) -> float:
        width = self._widths.get(char)
        if width is None:
            width = self._widths[char] = self._width(char, self.font_of(char), self.size)
        return width

    def runs(self, line: str) -> list[tuple[str, str]]:
        if self.simple(line):
            return [(self.primary, line)]
        runs: list[tuple[str, str]] = []
        for char in line:
            font = self.font_of(char)
            if runs and runs[-1][0] == font:
                runs[-1] = (font, runs[-1][1] + char)
            else:
                runs.append((font, char))
        return runs

    def wrap(self, text: str, width: float, max_lines: int = MAX_LINES) -> list[str]:
        """Lines no wider than `width` (at spaces where possible, anywhere in words wider than the column and in
        scripts without spaces); past max_lines the last line ends with a marker of what was left out."""
        if "\n" not in text and self.simple(text) and self._width(text, self.primary, self.size) <= width:
            return [text]  # fits: no wrapping to do
        lines: list[str] = []
        for paragraph in text.split("\n"):
            lines.extend(self._wrap_paragraph(paragraph, width))
        if len(lines) > max_lines:
            shown = lines[:max_lines]
            left = len("".join(lines[max_lines:])) + len(lines[max_lines - 1]) // 2
            marker = f" \u2026 [+{left} chars cut]"
            last = lines[max_lines - 1]
            shown[-1] = last[: max(0, len(last) // 2)] + marker
            return shown
        return lines

    def _wrap_paragraph(self, text: str, width: float) -> list[str]:
        if not text:
            return [""]
        lines, start, used, last_space = [], 0, 0.0, -1
        for i, char in enumerate(text):
            used += self.width_of(char)
            if char == " ":
                last_space = i
            if used > width and i > start:
                cut = last_space + 1 if last_space >= start else i
                lines.append(text[start:cut].rstrip(" "))
                start = cut
                used = sum(self.width_of(c) for c in text[start:i + 1])
                last_space = -1
        lines.append(text[start:])
        return lines


def cell_text(value: Any, decimals: int | None) -> str:
    from datetime import datetime

    from app.exports.writers import text_value, utc_timestamp

    if isinstance(value, datetime):
        return utc_timestamp(value).replace("T", " ").replace("Z", "")  # the header says UTC
    return clean(text_value(value, decimals))


class PdfWriter:
    """A paginated table report on a reportlab canvas: title, filters, generated-at, headers on every page,
    wrapped cells, totals of numeric columns, page numbers."""

    def __init__(self, handle: IO[bytes], headers: list[str], fields: list[str], *, title: str = "Export",
                 subtitle: str = "", landscape: bool = False, generated_at: str = "", specs: list | None = None,
                 **_: Any) -> None:
        from reportlab.lib.pagesizes import A4, landscape as to_landscape
        from reportlab.pdfgen import canvas

        from app.exports.writers import header_labels

        self.regular = Typesetter(REGULAR_CHAIN, SIZE)
        self.bold = Typesetter(BOLD_CHAIN, SIZE)
        self.title_type = Typesetter(BOLD_CHAIN, 13)
        self.size = to_landscape(A4) if landscape else A4
        self.canvas = canvas.Canvas(handle, pagesize=self.size, pageCompression=1)
        self.canvas.setTitle(title)
        specs = specs or [None] * len(headers)
        weights = [1.0 if getattr(s, "type", "text") in ("number", "date") else
                   1.6 if getattr(s, "type", "text") == "datetime" else 2.2 for s in specs]
        usable = self.size[0] - 72
        self.columns = [Column(label, usable * w / sum(weights), getattr(s, "type", "") == "number",
                               getattr(s, "decimals", None))
                        for label, w, s in zip(header_labels(headers, specs), weights, specs)]
        self.totals: list[Decimal | None] = [Decimal(0) if c.numeric else None for c in self.columns]
        self.title, self.subtitle, self.generated_at = clean(title), clean(subtitle), generated_at
        self.page = 0
        self._start_page()

    # ------------------------------------------------------------------ drawing
    def _draw_line(self, typesetter: Typesetter, text: str, x: float, y: float, right: float | None = None) -> None:
        """Into the page's one text object (a text object per string cost most of the report's time)."""
        runs = typesetter.runs(visual_order(text))
        if right is not None:
            x = right - sum(self.canvas.stringWidth(t, f, typesetter.size) for f, t in runs)
        text_object = self.text
        text_object.setTextOrigin(x, y)
        for font, chunk in runs:
            if self.font != (font, typesetter.size):
                text_object.setFont(font, typesetter.size)
                self.font = (font, typesetter.size)
            text_object.textOut(chunk)

    def _start_page(self) -> None:
        self.page += 1
        self.text = self.canvas.beginText()
        self.font = None
        top = self.size[1] - 36
        if self.page == 1:
            width = self.size[0] - 72
            for line in self.title_type.wrap(self.title, width, 3):
                self._draw_line(self.title_type, line, 36, top - 8)
                top -= 16
            for line in self.regular.wrap(f"Generated {self.generated_at}", width, 1) + (
                    self.regular.wrap(self.subtitle, width, 4) if self.subtitle else []):
                self._draw_line(self.regular, line, 36, top - 4)
                top -= LEADING
            top -= 8
        self.y = top
        self._draw_row([c.label for c in self.columns], self.bold, header=True)

    def _end_page(self) -> None:
        self.canvas.drawText(self.text)
        self.canvas.setFont(self.regular.primary, 7)
        self.canvas.drawRightString(self.size[0] - 36, 20, f"Page {self.page}")
        self.canvas.showPage()

    def _draw_row(self, texts: list[str], typesetter: Typesetter, *, header: bool = False) -> None:
        cells = [typesetter.wrap(text, column.width - 2 * PAD) for text, column in zip(texts, self.columns)]
        height = max(len(lines) for lines in cells) * LEADING + 2 * PAD
        if not header and self.y - height < 36:
            self._end_page()
            self._start_page()
        x = 36
        for lines, column in zip(cells, self.columns):
            y = self.y - PAD - SIZE
            for line in lines:
                right = x + column.width - PAD if column.numeric and not header else None
                self._draw_line(typesetter, line, x + PAD, y, right)
                y -= LEADING
            x += column.width
        self.y -= height
        self.canvas.setLineWidth(0.8 if header else 0.2)
        self.canvas.line(36, self.y, self.size[0] - 36, self.y)

    # ------------------------------------------------------------------ writer interface
    def write_rows(self, rows: Iterable[tuple]) -> None:
        for row in rows:
            texts = []
            for i, (value, column) in enumerate(zip(row, self.columns)):
                if self.totals[i] is not None and isinstance(value, (int, float, Decimal)) \
                        and not isinstance(value, bool):
                    self.totals[i] += Decimal(str(value))
                texts.append(cell_text(value, column.decimals))
            self._draw_row(texts, self.regular)

    def close(self) -> None:
        if any(t is not None for t in self.totals):
            texts = [cell_text(t, c.decimals) if t is not None else "" for t, c in zip(self.totals, self.columns)]
            first_text = next((i for i, t in enumerate(self.totals) if t is None), None)
            if first_text is not None:
                texts[first_text] = "Total"
            self._draw_row(texts, self.bold)
        self._end_page()
        self.canvas.save()

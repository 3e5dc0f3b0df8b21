"""Line-by-line differences between two generations of a project, file by file.

The Changes card of a generation lists which files were added, removed or changed;
this module says how: for every text file that differs, hunks of a unified diff
(difflib, three lines of context), each line paired with its counterpart so a
template can show the same hunks side by side on a wide screen and as one column
on a phone. Binary files and files over MAX_COMPARED_BYTES are named, not compared.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from itertools import zip_longest

MAX_COMPARED_BYTES = 512 * 1024
MAX_ROWS_PER_FILE = 2000  # past this the file's diff stops with a visible marker
CONTEXT_LINES = 3


@dataclass
class DiffRow:
    """One line of a hunk: `kind` is context, change (both sides), delete or add."""
    kind: str
    old_number: int | None
    old_text: str | None
    new_number: int | None
    new_text: str | None


@dataclass
class Hunk:
    header: str
    rows: list[DiffRow] = field(default_factory=list)

    def unified(self) -> list[tuple[str, int | None, str]]:
        """(marker, line number, text) in unified order: within a change, every removed line before the added ones."""
        lines: list[tuple[str, int | None, str]] = []
        pending_add: list[tuple[str, int | None, str]] = []
        for row in self.rows:
            if row.kind == "context":
                lines += pending_add
                pending_add = []
                lines.append((" ", row.new_number, row.new_text or ""))
                continue
            if row.old_text is not None:
                lines.append(("-", row.old_number, row.old_text))
            if row.new_text is not None:
                pending_add.append(("+", row.new_number, row.new_text))
        return lines + pending_add


@dataclass
class FileDiff:
    path: str
    status: str  # added, removed, changed
    hunks: list[Hunk] = field(default_factory=list)
    not_compared: str = ""  # why the content is not shown (binary, too large)
    truncated: bool = False
    added_lines: int = 0
    removed_lines: int = 0


def _lines(content: bytes | None) -> list[str] | None:
    """The text's lines, or None for content that is not UTF-8 text."""
    if content is None:
        return []
    if b"\x00" in content:
        return None
    try:
        return content.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


def file_diff(path: str, old: bytes | None, new: bytes | None) -> FileDiff:
    """The diff of one file; `old` None when it was added, `new` None when it was removed."""
    status = "added" if old is None else "removed" if new is None else "changed"
    result = FileDiff(path, status)
    if max(len(old or b""), len(new or b"")) > MAX_COMPARED_BYTES:
        result.not_compared = f"over {MAX_COMPARED_BYTES // 1024} KB: not compared line by line"
        return result
    old_lines, new_lines = _lines(old), _lines(new)
    if old_lines is None or new_lines is None:
        result.not_compared = "binary file: not compared line by line"
        return result
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    rows_left = MAX_ROWS_PER_FILE
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        first, last = group[0], group[-1]
        hunk = Hunk(f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@")
        for tag, i1, i2, j1, j2 in group:
            for offset, (old_line, new_line) in enumerate(zip_longest(old_lines[i1:i2], new_lines[j1:j2])):
                kind = {"equal": "context", "replace": "change", "delete": "delete", "insert": "add"}[tag]
                if tag == "replace":
                    kind = "change" if old_line is not None and new_line is not None else (
                        "delete" if new_line is None else "add")
                hunk.rows.append(DiffRow(
                    kind, i1 + offset + 1 if old_line is not None else None, old_line,
                    j1 + offset + 1 if new_line is not None else None, new_line))
                result.removed_lines += kind in ("change", "delete")
                result.added_lines += kind in ("change", "add")
                rows_left -= 1
                if rows_left == 0:
                    result.hunks.append(hunk)
                    result.truncated = True
                    return result
        result.hunks.append(hunk)
    return result


def generations_diff(old_files: dict[str, tuple[str, callable]], new_files: dict[str, tuple[str, callable]]
                     ) -> list[FileDiff]:
    """Every file that differs between two generations, in path order.

    Each argument maps a path to (content hash, a function that reads the content): files
    whose hashes match are skipped without being read.
    """
    diffs = []
    for path in sorted(set(old_files) | set(new_files)):
        old, new = old_files.get(path), new_files.get(path)
        if old is not None and new is not None and old[0] == new[0]:
            continue
        diffs.append(file_diff(path, old[1]() if old else None, new[1]() if new else None))
    return diffs

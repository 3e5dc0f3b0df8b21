"""Regular expressions that users write (platform patterns, allowed characters, template questions).

Python's `re` backtracks: `(a+)+$` against 30 characters takes seconds and doubles with
each one, on the web process (live preview) or a worker. User patterns run on RE2
(google-re2), whose matching time is linear in the text: no pattern can be slow. RE2 has
no backreferences (`\\1`) and no lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`); `\\w` and `\\d`
are ASCII (use `\\pL`, `\\p{Greek}`... for letters of any script). PATTERN_HELP says so
wherever a pattern is typed. Texts are length-checked before matching.
"""
from __future__ import annotations

import functools

import re2

MAX_PATTERN_LENGTH = 1000
MAX_SUBJECT_LENGTH = 10_000
PATTERN_HELP = ("RE2 syntax (linear time): no backreferences (\\1) or lookaround ((?=...), (?!...)); "
                "\\w and \\d match ASCII only, \\pL matches any letter.")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a user's typo is not a server log line
_OPTIONS.max_mem = 8 << 20  # bytes for one compiled pattern: huge counted repetitions are refused


class RegexError(ValueError):
    """A pattern RE2 refuses, with a message for the person who typed it."""


def _describe(error: Exception) -> str:
    detail = error.args[0] if error.args else str(error)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    hint = ""
    if "perl operator" in detail or "escape sequence" in detail:
        hint = " Backreferences and lookaround are not supported."
    return f"{detail}.{hint}"


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str):
    """`pattern` compiled by RE2 (cached); RegexError if RE2 refuses it or it is too long."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RegexError(f"A pattern is at most {MAX_PATTERN_LENGTH:,} characters.")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise RegexError(_describe(exc)) from None


def check_pattern(pattern: str) -> str | None:
    """None when `pattern` is usable, else why not (for a form field)."""
    try:
        compile_pattern(pattern)
    except RegexError as exc:
        return str(exc)
    return None


def fullmatch(pattern: str, text: str) -> bool:
    """Whether all of `text` matches `pattern` (False for a text past MAX_SUBJECT_LENGTH: never matched)."""
    if len(text) > MAX_SUBJECT_LENGTH:
        return False
    return compile_pattern(pattern).fullmatch(text) is not None

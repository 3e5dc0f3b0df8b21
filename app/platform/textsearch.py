"""User text in LIKE/ILIKE: one way to build "contains" conditions, with the wildcards escaped.

A user who types `50%` or `snake_case` into a search or "contains" filter means
those characters literally; unescaped, `%` and `_` match anything. Every area
builds its contains-conditions here (tickets, rules, projects, exports, members, usage).
"""
from __future__ import annotations

import re

import sqlalchemy as sa

ESCAPE = "\\"
_WILDCARDS = re.compile(r"([\\%_])")


def like_escape(text: str) -> str:
    """`text` with LIKE's wildcards and the escape character escaped (use with escape='\\')."""
    return _WILDCARDS.sub(r"\\\1", text)


def like_pattern(text: str, *, max_length: int | None = None) -> str:
    """A pattern matching `text` anywhere, literally."""
    text = (text or "").strip()
    if max_length is not None:
        text = text[:max_length]
    return "%" + like_escape(text) + "%"


def contains(column, text: str, *, max_length: int | None = None):
    """column ILIKE '%text%' (case-insensitive), the user's text taken literally."""
    return column.ilike(like_pattern(text, max_length=max_length), escape=ESCAPE)


def contains_any(columns, text: str, *, max_length: int | None = None):
    pattern = like_pattern(text, max_length=max_length)
    return sa.or_(*[column.ilike(pattern, escape=ESCAPE) for column in columns])


def has_word(column, word: str, *, prefix: bool = False):
    """`column` holds `word` (or, with prefix, a word starting with it) as a whole word, literally.

    For columns that store words separated by single spaces, with a space at each end
    (projects' SQLite search text): LIKE '% word %', or '% word%' for a prefix.
    """
    return column.like("% " + like_escape(word) + ("%" if prefix else " %"), escape=ESCAPE)

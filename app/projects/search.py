"""Project search: full text on PostgreSQL, a word-match fallback on SQLite, the same results for plain words.

What is searched: the project's name, a school project's course name and a
self-study project's goal. They live in three tables (joined-table subtypes), so
one searchable value is kept on `projects.search_vector`:

- **PostgreSQL**: a `tsvector` filled by triggers (migration 0026): `projects`
  computes it on insert and when its name changes, from the name and the type
  row; `school_projects` / `self_study_projects` recompute their project's after
  a type row is inserted or its course name / goal changes (the ORM inserts the
  type row after the `projects` row). So every writer (the ORM, bulk SQL,
  `flask seed-demo`, a psql session) keeps it right, and the migration fills it
  for existing rows. A later migration that rebuilds one of these tables (copy
  and rename) must create the trigger again: `projects_search_*` in 0025. It is read through the GIN
  index `idx_project_search_gin (organization_id, owner_id, search_vector)`
  (btree_gin puts the tenant first) and ranked with `ts_rank` (name weight A,
  course/goal weight B), newest first among equal ranks.
- **SQLite**: a plain text column holding the same words, casefolded and
  space-delimited (" linear algebra math 101 "), written by the `before_save`
  model hook (projects/hooks.py); a search is one LIKE per word on it. Results
  are in the list's usual newest-first order (no ranking).

Text search configuration: **'simple'** (lowercase, no stemming, no stop words).
Project names are multilingual ("Analyse réelle", "Физика", "Go"); a language
configuration would stem them with the wrong language's rules, drop words it
thinks are stop words in English ("It", "A level", "The Go book") and make
search-as-you-type prefixes miss stemmed words; and SQLite could not reproduce
its results. With 'simple' a word is found exactly as typed, on both databases.

User input never reaches `to_tsquery` as syntax: it is split into words of
letters and digits (everything else, `&|!:*()'"\\` and NUL included, is a
separator), each word is quoted, the words are joined with `&` and the last
one gets `:*` (prefix match: search as you type). At most `MAX_WORDS` words of
`MAX_INPUT` characters are used. Input with no word at all (only punctuation) matches
nothing; an empty search is no search (the caller skips it).
"""
from __future__ import annotations

import re
from typing import Iterable

import sqlalchemy as sa

from app.platform import textsearch

CONFIG = "simple"
MAX_INPUT = 200
MAX_WORDS = 8
MAX_WORD = 60
# A word: letters and digits (Unicode); `_` and every punctuation mark separate words, as in
# PostgreSQL's default parser for the plain words people type.
_WORD = re.compile(r"[^\W_]+")


def words(text: str | None) -> list[str]:
    """The searchable words of `text`, as typed (PostgreSQL lowercases them with the same config)."""
    text = (text or "")[:MAX_INPUT].replace("\x00", " ")
    return [w[:MAX_WORD] for w in _WORD.findall(text)][:MAX_WORDS]


def tsquery_text(text: str) -> str:
    """A to_tsquery string of quoted words (only letters and digits): every word, the last as a prefix."""
    found = words(text)
    if not found:
        return ""
    quoted = [f"'{w}'" for w in found]
    quoted[-1] += ":*"
    return " & ".join(quoted)


def document_text(parts: Iterable[str | None]) -> str:
    """SQLite's stored value: every word of `parts`, casefolded, each between spaces."""
    found = [w.casefold() for part in parts if part for w in _WORD.findall(part)]
    return " " + " ".join(found) + " " if found else ""


def condition_and_rank(search_column, text: str, dialect: str):
    """(WHERE condition, rank expression or None) for `text` against `search_column`.

    `text` is the user's input as typed; a text without any word gives a condition
    that is always false.
    """
    if dialect == "postgresql":
        query_text = tsquery_text(text)
        if not query_text:
            return sa.false(), None
        query = sa.func.to_tsquery(sa.literal_column(f"'{CONFIG}'::regconfig"), query_text)
        return search_column.op("@@")(query), sa.func.ts_rank(search_column, query)
    found = [w.casefold() for w in words(text)]
    if not found:
        return sa.false(), None
    conditions = [textsearch.has_word(search_column, w) for w in found[:-1]]
    conditions.append(textsearch.has_word(search_column, found[-1], prefix=True))
    return sa.and_(*conditions), None

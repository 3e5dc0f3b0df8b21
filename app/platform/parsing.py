"""One way to read ids, page numbers, numbers and text out of a request.

Everything a client sends is text, and the database has limits Python doesn't:
PostgreSQL's `integer` ends at 2^31-1 ("integer out of range" is a 500), its text
refuses NUL bytes, and `"²".isdigit()` is True while `int("²")` raises. So:

- URL ids: the `int` converter is replaced by `IdConverter` (ASCII digits, at most
  2^31-1); a larger id is a 404 like any id that doesn't exist. Tables keyed by UUIDv7
  (projects, exports) use Werkzeug's `<uuid:...>`: anything but a UUID is a 404. Routes
  that serve rows of several tables (job status) use `<rowid:...>`: either kind.
  `parse_row_id(model, value)` reads a query, form or token value for a model's key.
- Query and form numbers: `request.args.get(name, type=int)` (and `form`, `values`)
  goes through `parse_int` on every request: ASCII digits only, within the 32-bit
  range, else the default. Code that parses by hand uses `parse_id` / `parse_int`.
- Pages: `parse_page` (1..MAX_PAGE).
- NUL bytes and unpaired surrogates anywhere in the path, query, form, file names or
  JSON body: the request is refused up front (`refuse_unstorable_text`), 400 with a
  message (422 for an HTMX form, so the page shows it in place), before any view runs.
- Row values: `ColumnFitRule` (run on every flush with the other validation rules)
  refuses text longer than its column, integers outside their column's range and
  NaN/infinite floats with a message at the field, never a database error.
"""
from __future__ import annotations

import logging
import math
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from flask import Flask, Request, abort, request
from werkzeug.datastructures import CombinedMultiDict, ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter, UUIDConverter
from werkzeug.utils import cached_property

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
MAX_ID = MAX_INT32  # ids are `integer` columns on PostgreSQL
MAX_PAGE = 100_000
_ASCII_DIGITS = frozenset("0123456789")


def parse_int(value: Any, *, minimum: int = -MAX_INT32, maximum: int = MAX_INT32) -> int | None:
    """`value` as an int within [minimum, maximum], or None.

    Only ASCII digits with an optional leading minus (surrounding spaces allowed):
    "²", "١", "1e3", "0x10", "1_000" and "nan" are not numbers here. Ints pass
    through (range-checked); bools and everything else are None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if not digits or len(digits) > 20 or not set(digits) <= _ASCII_DIGITS:
            return None
        number = int(text)
    else:
        return None
    return number if minimum <= number <= maximum else None


def parse_id(value: Any) -> int | None:
    """A row id (1..2^31-1) from a query, form or JSON value, or None."""
    return parse_int(value, minimum=1, maximum=MAX_ID)


def parse_uuid(value: Any) -> uuid.UUID | None:
    """A UUID from a query, form, token or JSON value (any of the forms `uuid.UUID` reads), or None."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not 32 <= len(value.strip()) <= 45:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def parse_row_id(model: type, value: Any) -> int | uuid.UUID | None:
    """`value` as a key of `model`'s `id` column (a UUID or an int, whichever it is), or None."""
    if isinstance(model.__table__.c.id.type, sa.Uuid):
        return parse_uuid(value)
    return parse_id(value)


def coerce_id(value: Any) -> int:
    """WTForms `coerce=` for id choices: like `int`, but a value that is no id raises ValueError (an invalid choice)."""
    number = parse_id(value)
    if number is None:
        raise ValueError(f"{str(value)[:20]!r} is not an id")
    return number


def parse_page(value: Any) -> int:
    """A page number: 1..MAX_PAGE; anything else is page 1 (past the end is simply an empty page)."""
    return parse_int(value, minimum=1, maximum=MAX_PAGE) or 1


def is_storable_text(text: str) -> bool:
    """False for text no database column can hold: NUL bytes, unpaired surrogates."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- request plumbing
class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id, 1..2^31-1 in ASCII digits, else 404 (no route matches).

    Ids start at 1: a view may read 0 as "none" (`if field_id:`), so /things/0/edit must not reach it.
    """

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=1 if min is None else min,
                         max=MAX_ID if max is None else max, signed=signed)


class RowIdConverter(IdConverter):
    """`<rowid:...>`: an integer id (as `IdConverter`) or a UUID, for routes serving rows of several tables."""

    regex = rf"(?:{IdConverter.regex}|{UUIDConverter.regex})"

    def to_python(self, value: str) -> int | uuid.UUID:
        if "-" in value:
            return uuid.UUID(value)
        return super().to_python(value)

    def to_url(self, value: Any) -> str:
        if isinstance(value, uuid.UUID):
            return str(value)
        return super().to_url(value)


class _IntParsing:
    """`get(key, type=int)` and `getlist(key, type=int)` parse with `parse_int` (32-bit, ASCII digits)."""

    def get(self, key, default=None, type=None):  # noqa: A002  (werkzeug's signature)
        if type is int:
            raw = super().get(key)
            number = parse_int(raw) if raw is not None else None
            return default if number is None else number
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        if type is int:
            parsed = (parse_int(raw) for raw in super().getlist(key))
            return [number for number in parsed if number is not None]
        return super().getlist(key, type)


class ParsedMultiDict(_IntParsing, ImmutableMultiDict):
    pass


class ParsedCombinedMultiDict(_IntParsing, CombinedMultiDict):
    pass


class CairnRequest(Request):
    """Flask's request, whose args/form/values parse ints the one shared way."""

    parameter_storage_class = ParsedMultiDict

    @cached_property
    def values(self) -> CombinedMultiDict:
        sources = [self.args]
        if self.method != "GET":
            sources.append(self.form)
        return ParsedCombinedMultiDict([s if isinstance(s, MultiDict) else MultiDict(s) for s in sources])


def _json_strings(value: Any, depth: int = 0):
    if depth > 64:
        yield "\x00"  # absurdly nested: refused like unstorable text
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _json_strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item, depth + 1)


def _request_texts():
    yield request.path
    for source in (request.args, request.form):
        for key, values in source.lists():
            yield key
            yield from values
    for storage in request.files.values():
        yield storage.filename or ""
    if request.is_json:
        body = request.get_json(silent=True)
        if body is not None:
            yield from _json_strings(body)


# Query strings carry filters and searches, never documents: gunicorn refuses request lines past 4 KB anyway,
# and SQLite refuses LIKE patterns past 50,000 bytes.
MAX_QUERY_VALUE = 1000
TOO_LONG_MESSAGE = f"A search or filter is at most {MAX_QUERY_VALUE:,} characters."
UNSTORABLE_MESSAGE = ("Text can't contain NUL characters (\\0) or broken Unicode. Remove them (they are often "
                      "pasted in by accident) and try again.")


def refuse_unstorable_text():
    """before_request: a request carrying text the database can't store is refused with a message."""
    from app.platform.htmx import is_htmx

    if any(not is_storable_text(text) for text in _request_texts()):
        abort(422 if is_htmx() else 400, description=UNSTORABLE_MESSAGE)
    if any(len(value) > MAX_QUERY_VALUE for values in request.args.listvalues() for value in values):
        abort(422 if is_htmx() else 400, description=TOO_LONG_MESSAGE)
    return None


def init_app(app: Flask) -> None:
    """Must run before blueprints are registered: rules bind their converters when added."""
    app.request_class = CairnRequest
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["rowid"] = RowIdConverter
    app.before_request(refuse_unstorable_text)
    app.register_error_handler(OverflowError, _out_of_range)
    app.register_error_handler(sa_exc.DataError, _out_of_range)


input_log = logging.getLogger("cairn.input")


def _out_of_range(error: Exception):
    """Last line of defence: a number or text the database refused, which some code let through unparsed.

    PostgreSQL raises DataError ("integer out of range", "value too long"), the SQLite driver
    OverflowError for ints past 2^63. The user gets a 422 with a message instead of a 500; the
    warning names the route so the parsing can be fixed there (the fuzz test fails on it).
    """
    from app.extensions import db
    from app.platform.htmx import is_htmx

    db.session.rollback()
    input_log.warning("unparsed input reached the database on %s %s: %s", request.method, request.path,
                      str(error).splitlines()[0][:200])
    from flask import render_template

    message = "A number or text in the request is out of range. Check what you entered and try again."
    template = "errors/_error.html" if is_htmx() else "errors/error.html"
    return render_template(template, status=422, title="Out of range", message=message), 422


# --------------------------------------------------------------------------- row values
def column_problem(column, value: Any) -> str | None:
    """Why `value` can't be stored in `column`, in words a user understands, or None."""

    if value is None:
        return None
    kind = column.type
    if isinstance(value, str):
        if not is_storable_text(value):
            return "can't contain NUL characters or broken Unicode"
        length = getattr(kind, "length", None)
        if isinstance(kind, sa.String) and length and len(value) > length:
            return f"is at most {length} characters (this one has {len(value):,})"
        return None
    if isinstance(kind, sa.JSON):
        return _json_problem(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and isinstance(kind, (sa.Float, sa.Numeric)):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, int) and isinstance(kind, sa.Integer):
        limit = MAX_INT64 if isinstance(kind, sa.BigInteger) else MAX_INT32
        if isinstance(kind, sa.SmallInteger):
            limit = 2**15 - 1
        return None if -limit - 1 <= value <= limit else f"must be between {-limit - 1:,} and {limit:,}"
    return None


def _json_problem(value: Any, depth: int = 0) -> str | None:
    """JSON columns: no NaN/infinity (not JSON; PostgreSQL refuses them), no NUL or broken Unicode in strings."""
    if depth > 64:
        return "is nested too deeply"
    if isinstance(value, float) and not math.isfinite(value):
        return "must hold finite numbers only (not NaN or infinity)"
    if isinstance(value, str) and not is_storable_text(value):
        return "can't contain NUL characters or broken Unicode"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        problem = _json_problem(key, depth + 1) if isinstance(key, str) else None
        problem = problem or _json_problem(item, depth + 1)
        if problem:
            return problem
    return None

"""Pagination of SQLAlchemy selects with the user's preferred page size."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from app.extensions import db
from app.platform.parsing import parse_page


def preferred_page_size(default: int = 25) -> int:
    if current_user and current_user.is_authenticated and current_user.preferences is not None:
        return current_user.preferences.default_page_size or default
    return default


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    # False when counting stopped at a cap: `total` is then a lower bound and more pages follow.
    exact: bool = True

    @property
    def pages(self) -> int | None:
        if not self.exact:
            return None
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return not self.exact or self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def paginate(statement: sa.Select, *, page: int | None = None, per_page: int | None = None, scalars: bool = True,
             count_limit: int | None = None, total: int | None = None,
             window: Callable[[int, int], sa.Select] | None = None) -> Page:
    """One page of `statement` and the count of all its rows.

    With `count_limit`, counting stops after that many rows (or just past the page asked
    for, if deeper): a broad search matches thousands of rows and counting them all costs
    more than the page. Such a page says "1,000+" and always offers the next page; one
    that counted fewer than the cap is exact. A caller that already knows the exact
    `total` passes it and no count runs; with `count_limit`, a `total` past the limit
    says "at least": the count runs only for a page deeper than that. `window(limit, offset)`, when given, builds the
    page's select instead of `statement.limit().offset()` (a deferred join, say).
    """
    per_page = per_page or preferred_page_size()
    if page is None:
        page = request.args.get("page")
    page = parse_page(page)
    offset = (page - 1) * per_page
    bound = None if count_limit is None else max(count_limit, offset + per_page) + 1
    if total is None or (bound is not None and bound > total > count_limit):
        counted = statement.order_by(None)
        if bound is not None:
            counted = counted.limit(bound)
        total = db.session.scalar(sa.select(sa.func.count()).select_from(counted.subquery())) or 0
    exact = bound is None or total < bound
    if not exact:
        total = bound - 1  # at least this many: the page asked for is full and another row follows it
    query = window(per_page, offset) if window is not None else statement.limit(per_page).offset(offset)
    items = list(db.session.scalars(query)) if scalars else list(db.session.execute(query))
    return Page(items=items, page=page, per_page=per_page, total=total, exact=exact)

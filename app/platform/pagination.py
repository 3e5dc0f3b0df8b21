"""Pagination of SQLAlchemy selects with the user's preferred page size."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from app.extensions import db


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

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def paginate(statement: sa.Select, *, page: int | None = None, per_page: int | None = None, scalars: bool = True) -> Page:
    per_page = per_page or preferred_page_size()
    if page is None:
        page = request.args.get("page", 1, type=int) or 1
    page = max(1, page)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())) or 0
    offset = (page - 1) * per_page
    query = statement.limit(per_page).offset(offset)
    items = list(db.session.scalars(query)) if scalars else list(db.session.execute(query))
    return Page(items=items, page=page, per_page=per_page, total=total)

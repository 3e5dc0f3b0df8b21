"""The ticket list: filters, sort and search-as-you-type, for agents and for customers.

One select serves the list page, its HTMX fragment and the tickets export dataset, so a
customer sees the same rows everywhere. The query shapes here are the ones the
PostgreSQL indexes in the tickets migrations are built for (see bench/tickets_list.py).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.accounts.models import User
from app.extensions import db
from app.platform import textsearch
from app.platform.pagination import Page, paginate
from app.platform.parsing import parse_id
from app.platform.transactions import plan_each_statement
from app.tickets.models import ACTIVE_STATUSES, PRIORITIES, STATUSES, SLAClockMixin, Ticket, TicketComment
from app.tickets.services import names_only


# The new-ticket form suggests this many customers (most recently active first); others are typed.
CUSTOMER_SUGGESTIONS = 200


def customer_suggestions(organization_id: int) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.organization_id == organization_id, User.role == "customer", User.is_active.is_(True))
        .options(*names_only()).order_by(User.id.desc()).limit(CUSTOMER_SUGGESTIONS)))


@dataclass
class TicketFilters:
    status: str = ""
    priority: str = ""
    assignee: str = ""  # "", "me", "none" or a user id
    customer: str = ""  # a user id (links from elsewhere) or part of a customer's name or email
    tag: str = ""
    breached: bool = False
    q: str = ""
    sort: str = "-number"


SORTS = {
    "-number": (Ticket.ticket_number.desc(),),
    "number": (Ticket.ticket_number.asc(),),
    "-updated": (Ticket.updated_at.desc(), Ticket.id.desc()),
    "due": (Ticket.resolution_due.is_(None), Ticket.resolution_due.asc(), Ticket.id),
    "-priority": (sa.case({"urgent": 0, "high": 1, "medium": 2, "low": 3}, value=Ticket.priority),
                  Ticket.ticket_number.desc()),
}
SORT_LABELS = {"-number": "Newest", "number": "Oldest", "-updated": "Recently updated", "due": "Due soonest",
               "-priority": "Priority"}


def _tag_condition(tag: str):
    if db.engine.dialect.name == "postgresql":
        # The tag goes into a JSON document built by json.dumps, bound as a parameter: `a"b` is just a tag.
        return Ticket.tags.op("@>")(sa.cast(sa.literal(json.dumps([tag])), Ticket.tags.type))
    each = sa.func.json_each(Ticket.tags).table_valued("value")
    return sa.exists(sa.select(1).select_from(each).where(each.c.value == tag))


def _customer_condition(customer: str, organization_id: int):
    """A typed filter, not a dropdown: an organization may have thousands of customers."""
    if parse_id(customer) is not None:
        return Ticket.customer_id == parse_id(customer)
    matching = sa.select(User.id).where(User.organization_id == organization_id, User.role == "customer",
                                        textsearch.contains_any([User.full_name, User.email], customer))
    return Ticket.customer_id.in_(matching)


# Up to this many tickets matched through their comments are passed to the ticket query as ids.
COMMENT_MATCHES_INLINE_LIMIT = 2000


def ticket_search_condition(q: str, *, organization_id: int, public_only: bool):
    """Subject, description or a comment (public ones only for customers) contains `q`; or `#123` by number.

    On PostgreSQL every arm of the OR is one index's work: the organization-led pg_trgm GIN
    index for ILIKE '%q%' on subject and description, the primary key for the tickets whose
    comments match (read first, through the comments' own GIN index) and the unique number.
    So the planner can answer a rare word with a BitmapOr of those and a common one by
    walking the organization's newest tickets until the page is full. A comments subquery
    inside the OR would rule the BitmapOr out; it is used only when very many comments
    match, where the ordered walk wins anyway. SQLite scans.
    """
    q = q.strip()
    number = re.fullmatch(r"#?(\d{1,9})", q)
    in_comments = sa.select(TicketComment.ticket_id).where(TicketComment.organization_id == organization_id,
                                                           textsearch.contains(TicketComment.content, q))
    if public_only:
        in_comments = in_comments.where(TicketComment.comment_type == "reply")
    commented = list(db.session.scalars(in_comments.distinct().limit(COMMENT_MATCHES_INLINE_LIMIT + 1)))
    conditions = [textsearch.contains(Ticket.subject, q), textsearch.contains(Ticket.description, q),
                  Ticket.id.in_(commented if len(commented) <= COMMENT_MATCHES_INLINE_LIMIT else in_comments)]
    if number:
        conditions.append(Ticket.ticket_number == int(number.group(1)))
    return sa.or_(*conditions)


def ticket_list_conditions(*, user: User, filters: TicketFilters) -> list:
    """The WHERE of the list: this organization's live tickets (a customer's own), narrowed by the filters."""
    conditions = _filter_conditions(user=user, filters=filters)
    if filters.q.strip():
        conditions.append(_search_condition(user, filters))
    return conditions


def _search_condition(user: User, filters: TicketFilters):
    return ticket_search_condition(filters.q, organization_id=user.organization_id,
                                   public_only=user.role == "customer")


def _filter_conditions(*, user: User, filters: TicketFilters) -> list:
    """Every condition of the list but the search."""
    conditions = [Ticket.organization_id == user.organization_id, Ticket.is_active == sa.true()]
    if user.role == "customer":
        conditions.append(Ticket.customer_id == user.id)
    if filters.status == "active":
        conditions.append(Ticket.status.in_(ACTIVE_STATUSES))
    elif filters.status in STATUSES:
        conditions.append(Ticket.status == filters.status)
    if filters.priority in PRIORITIES:
        conditions.append(Ticket.priority == filters.priority)
    if user.role != "customer":
        if filters.assignee == "me":
            conditions.append(Ticket.assigned_agent_id == user.id)
        elif filters.assignee == "none":
            conditions.append(Ticket.assigned_agent_id.is_(None))
        elif parse_id(filters.assignee) is not None:
            conditions.append(Ticket.assigned_agent_id == parse_id(filters.assignee))
        if filters.customer.strip():
            conditions.append(_customer_condition(filters.customer.strip(), user.organization_id))
        if filters.breached:
            conditions.append(Ticket.sla_breach.is_(True))
    if filters.tag:
        conditions.append(_tag_condition(filters.tag.strip().lower()))
    return conditions


_list_customer = sa.orm.aliased(User, name="list_customer")
_list_agent = sa.orm.aliased(User, name="list_agent")


@dataclass(slots=True)
class TicketListRow(SLAClockMixin):
    """What a row of the list shows: read as plain columns, not as Ticket objects.

    The list is the page agents keep open all day. Loading twenty Tickets with their
    customer and assignee through the ORM cost more than the page's queries; these rows
    carry only what the template shows and answer the same SLA questions as a Ticket
    (`sla_due`, `sla_seconds_left`) for `tickets/_sla.html`.
    """

    id: int
    ticket_number: int
    subject: str
    tags: list
    status: str
    priority: str
    sla_breach: bool
    sla_policy_id: int | None
    first_response_due: datetime | None
    first_responded_at: datetime | None
    resolution_due: datetime | None
    updated_at: datetime
    customer_name: str
    assignee_name: str | None


def _list_rows(*conditions, sort: str) -> sa.Select:
    """The list's columns for the tickets matching `conditions`, in list order."""
    return (sa.select(Ticket.id, Ticket.ticket_number, Ticket.subject, Ticket.tags, Ticket.status, Ticket.priority,
                      Ticket.sla_breach, Ticket.sla_policy_id, Ticket.first_response_due, Ticket.first_responded_at,
                      Ticket.resolution_due, Ticket.updated_at, _list_customer.display_name.label("customer_name"),
                      _list_agent.display_name.label("assignee_name"))
            .join(_list_customer, _list_customer.id == Ticket.customer_id)
            .outerjoin(_list_agent, _list_agent.id == Ticket.assigned_agent_id)
            .where(*conditions).order_by(*SORTS.get(sort, SORTS["-number"])))


def _rows_for_list(*conditions, sort: str) -> sa.Select:
    # The list shows only the customer's and assignee's names: skip their organization and preferences joins.
    return (sa.select(Ticket).where(*conditions)
            .options(sa.orm.joinedload(Ticket.customer).options(*names_only()),
                     sa.orm.joinedload(Ticket.assigned_agent).options(*names_only()))
            .order_by(*SORTS.get(sort, SORTS["-number"])))


def ticket_list_query(*, user: User, filters: TicketFilters) -> sa.Select:
    """Every row of the list, sorted: the page's source and the tickets export dataset's."""
    return _rows_for_list(*ticket_list_conditions(user=user, filters=filters), sort=filters.sort)


# Counting every match of a broad search costs more than showing its first page.
SEARCH_COUNT_LIMIT = 1000
# A search first looks at this many of the newest tickets the filters leave: more than
# SEARCH_COUNT_LIMIT matches among them make the word common.
COMMON_PROBE_ROWS = 2 * SEARCH_COUNT_LIMIT


def _common_among_newest(narrowed: list, search) -> bool:
    """Whether over SEARCH_COUNT_LIMIT of the newest COMMON_PROBE_ROWS tickets match `search`.

    Reading a common word's first 1,001 ids through the trigram indexes means building
    bitmaps of all its matches (about 10 ms for 10,000 tickets); looking at the newest
    2,000 tickets in list order costs a fifth of that and, when it finds more than
    1,000, proves the count is "1,000+" on its own.
    """
    newest = (sa.select(search.label("hit")).where(*narrowed).order_by(Ticket.ticket_number.desc())
              .limit(COMMON_PROBE_ROWS).subquery("newest"))
    return (db.session.scalar(sa.select(sa.func.count()).select_from(newest).where(newest.c.hit)) or 0) > SEARCH_COUNT_LIMIT


def ticket_page(*, user: User, filters: TicketFilters) -> Page:
    """The page of the list asked for.

    A search first checks whether its word is common among the newest tickets (see
    `_common_among_newest`). If not, it reads the ids of its matches, up to
    SEARCH_COUNT_LIMIT, unordered, so PostgreSQL takes the trigram indexes when a word is
    rare. If that is all of them, the page comes from those ids by primary key and the
    count is exact. Past the limit the word is common: the page walks the organization's
    tickets in list order, which fills it quickly, and the count says "1,000+". Planning
    that walk from the trigram statistics alone goes badly wrong when a word looks common
    but isn't there.
    """
    narrowed = _filter_conditions(user=user, filters=filters)
    search = None
    if filters.q.strip():
        plan_each_statement()  # before the comments query the search condition runs
        search = _search_condition(user, filters)
    conditions = narrowed if search is None else [*narrowed, search]
    matching = sa.select(Ticket.id).where(*conditions)

    def window(limit: int, offset: int) -> sa.Select:
        return _deferred_window(conditions, user.organization_id, filters.sort, limit, offset)

    if search is None:
        page = paginate(matching, window=window, scalars=False)
    else:
        common = _common_among_newest(narrowed, search)
        matches = [] if common else list(db.session.scalars(matching.limit(SEARCH_COUNT_LIMIT + 1)))
        if not common and len(matches) <= SEARCH_COUNT_LIMIT:
            page = paginate(_list_rows(Ticket.id.in_(matches), sort=filters.sort), total=len(matches), scalars=False)
        else:
            # More than the limit: "1,000+" without counting again, unless the page is deeper.
            page = paginate(matching, count_limit=SEARCH_COUNT_LIMIT, total=SEARCH_COUNT_LIMIT + 1, window=window,
                            scalars=False)
    page.items = [TicketListRow(*row) for row in page.items]
    return page


def _deferred_window(conditions: list, organization_id: int, sort: str, limit: int, offset: int) -> sa.Select:
    """The page's rows through a deferred join: find the window's ticket numbers first.

    An OFFSET over whole rows (and their customer and assignee joins) reads every row it
    skips; over the numbers alone PostgreSQL skips through the index without touching the
    table (page 490 of 10,000 tickets: 2 ms instead of 35). (organization, number) is unique.
    """
    numbers = (sa.select(Ticket.ticket_number).where(*conditions)
               .order_by(*SORTS.get(sort, SORTS["-number"])).limit(limit).offset(offset))
    return _list_rows(Ticket.organization_id == organization_id, Ticket.ticket_number.in_(numbers), sort=sort)


def customer_label(filters: TicketFilters, organization_id: int) -> str:
    """What the customer filter box shows: the name behind an id from a link, else what was typed."""
    if parse_id(filters.customer) is None:
        return filters.customer
    customer = db.session.scalar(sa.select(User).where(User.id == parse_id(filters.customer),
                                                       User.organization_id == organization_id)
                                 .options(*names_only()))
    return customer.email if customer is not None else ""

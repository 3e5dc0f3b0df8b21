"""The one shared way to read ids, pages, numbers and text (app/platform/parsing.py)."""
from __future__ import annotations

import math
import re

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from app.platform.parsing import MAX_ID, MAX_PAGE, column_problem, parse_id, parse_int, parse_page
from tests.helpers import UUID_PATTERN, page_text, signed_in


@pytest.mark.parametrize("raw, expected", [
    ("1", 1), (" 42 ", 42), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), ("9223372036854775808", None),
    ("0", None), ("-1", None), ("²", None), ("١٢", None), ("1e3", None), ("0x10", None), ("1_000", None),
    ("NaN", None), ("", None), (None, None), (True, None), (7, 7), (2**40, None), ("9" * 5000, None),
])
def test_parse_id(raw, expected):
    assert parse_id(raw) == expected


def test_parse_page_and_int():
    assert parse_page("3") == 3 and parse_page("0") == 1 and parse_page("-5") == 1
    assert parse_page(str(MAX_PAGE + 1)) == 1 and parse_page("99999999999999999999") == 1 and parse_page("²") == 1
    assert parse_int("-2147483647") == -2147483647 and parse_int("-2147483649") is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_parse_int_never_raises_and_stays_in_range(text):
    number = parse_int(text)
    assert number is None or -(2**31 - 1) <= number <= 2**31 - 1
    if number is not None:
        assert text.strip().lstrip("-").isascii() and text.strip().lstrip("-").isdecimal()


def test_column_problem_refuses_what_the_database_would():
    assert column_problem(sa.Column(sa.String(10)), "x" * 11).startswith("is at most 10 characters")
    assert column_problem(sa.Column(sa.String(10)), "a\x00b") is not None
    assert column_problem(sa.Column(sa.Integer), 2**31) is not None
    assert column_problem(sa.Column(sa.BigInteger), 2**31) is None
    assert column_problem(sa.Column(sa.Float), math.nan) is not None
    assert column_problem(sa.Column(sa.JSON), {"a": [1, math.inf]}) is not None
    assert column_problem(sa.Column(sa.JSON), {"a": "b\x00"}) is not None
    assert column_problem(sa.Column(sa.JSON), {"a": [1, 2.5, "ok"]}) is None


def test_nul_in_a_search_box_or_form_is_refused_with_a_message(app, admin):
    client, auth = signed_in(app, admin)
    response = client.get("/tickets/", query_string={"q": "printer\x00"})
    assert response.status_code == 400 and "NUL" in page_text(response)
    response = auth.post("/preferences/profile", {"full_name": "Ada\x00"})
    assert response.status_code == 400 and "NUL" in page_text(response)
    response = client.get("/tickets/", query_string={"q": "x\x00"}, headers={"HX-Request": "true"})
    assert response.status_code == 422


def test_ids_past_the_range_and_odd_digits_are_404(app, admin):
    client, _auth = signed_in(app, admin)
    for url in ("/tickets/2147483648", "/tickets/99999999999999999999", "/tickets/%C2%B2", "/tickets/0",
                "/members/9223372036854775808"):
        assert client.get(url).status_code == 404, url
    for query in ({"page": "99999999999999999999"}, {"page": "²"}, {"assignee": "2147483648"},
                  {"customer": "²"}, {"tag": 'a"b'}, {"tag": 'x","y'}):
        assert client.get("/tickets/", query_string=query).status_code == 200, query
    assert client.get("/tickets/", query_string={"q": "x" * 1001}).status_code == 400


def test_a_tag_with_quotes_is_a_tag_not_json(app, admin, make_user, org):
    """The tag filter used to paste the tag into a JSON literal (PostgreSQL): `x","y` matched tickets tagged y."""
    from app.extensions import db
    from app.tickets.services import ticket_create

    customer = make_user(org, "customer", "c@acme.example.com")
    for subject, tags in (("Quoted", ['a"b']), ("Plain", ["y"])):
        ticket = ticket_create(organization=org, actor=admin, customer=customer, subject=subject, description="d")
        ticket.tags = tags
        db.session.commit()
    client, _auth = signed_in(app, admin)
    assert "Quoted" in page_text(client.get("/tickets/", query_string={"tag": 'a"b'}))
    injected = page_text(client.get("/tickets/", query_string={"tag": 'x","y'}))
    assert "Plain" not in injected


def test_a_cron_pattern_that_never_fires_is_a_form_error(app, make_user, org):
    from app.exports.cron import CronError, next_run
    from app.platform.models import utcnow

    from tests.security.world import seed_export_templates

    with pytest.raises(CronError, match="never runs"):
        next_run("0 12 31 4 *", "UTC", utcnow())
    seed_export_templates(app)
    agent = make_user(org, "agent", "agent@acme.example.com")
    client, auth = signed_in(app, agent)
    page = page_text(client.get("/exports/schedules/new"))
    select = page[page.index('name="template_id"'):]
    template_id = re.search(rf'<option[^>]*value="({UUID_PATTERN})"', select[:select.index("</select>")]).group(1)
    response = auth.post("/exports/schedules/new", {"name": "Never", "template_id": template_id,
                                                    "cron_pattern": "0 12 31 4 *", "timezone": "UTC",
                                                    "email_recipients": agent.email, "include_download_link": "y"},
                         page="/exports/schedules/new")
    assert response.status_code == 422
    assert "never runs" in page_text(response)


def test_nan_and_infinity_meta_values_are_kept_as_text(app_ctx):
    from app.projects.services import parse_meta_value

    assert parse_meta_value("NaN") == "NaN" and parse_meta_value("-Infinity") == "-Infinity"
    assert parse_meta_value("1e999") == "1e999" and parse_meta_value("[1, NaN]") == "[1, NaN]"
    assert parse_meta_value("2.5") == 2.5 and parse_meta_value('{"a": 1}') == {"a": 1}

"""Malformed input on every route and every form field answers 4xx with a message, never 500.

Ids past 2^31 and 2^63, negative and overflowing numbers, "²", NaN and infinities,
impossible dates, NUL bytes, 30,000 characters, right-to-left marks, combining marks and
astral characters: in every path id, in the query arguments the pages read, and in every
field of every form the pages show (found by reading the pages' HTML, so a new form is
covered when it appears). Runs on SQLite and PostgreSQL (PostgreSQL refuses NUL and
out-of-range integers, SQLite stores them: both must end in a clear 4xx).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.security.forms import forms_on
from tests.security.world import build_world, route_url, routes

HUGE = "x" * 30_000
NUMBERS = ["2147483648", "9223372036854775808", "99999999999999999999", "-1", "-2147483649", "²", "NaN", "inf",
           "1e309", "0x10"]
TEXTS = ["a\x00b", HUGE, "\u202e\ufeff\U0001d54f\U0001f921e\u0301\u200d", "9999-99-99", "2020-02-30", "-0001-01-01",
         'a"b\',c;|=1+1', "../../etc/passwd", "0 12 31 4 *", "{{ 7*7 }}{% for x in range(10**9) %}{% endfor %}"]
MALFORMED = NUMBERS + TEXTS
PATH_IDS = ["2147483648", "99999999999999999999", "0", "%C2%B2"]
# For UUID keys: not one, almost one, and well-formed but naming no row.
PATH_UUIDS = ["1", "not-a-uuid", "01a2487c-4257-73cd-85b8-c9ea317affb", "01a2487c425773cd85b8c9ea317affbc",
              "01a2487c-4257-73cd-85b8-c9ea317affbcd", "%C2%B2", "00000000-0000-0000-0000-000000000000",
              "FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF"]
QUERY_NAMES = ("page", "page_size", "q", "tag", "status", "priority", "customer", "assignee", "sort", "member", "user",
               "rule", "field", "highlight", "generation", "dimension", "value", "date_from", "date_to", "type",
               "severity", "a", "b", "kind", "breached", "workspace")


def _query_names_read_by_the_views() -> tuple[str, ...]:
    """QUERY_NAMES plus every `args.get("name"...)` in app/ (a filter added later is fuzzed too)."""
    found = set()
    for path in (Path(__file__).resolve().parents[2] / "app").rglob("*.py"):
        found.update(re.findall(r'args\.get(?:list)?\("([a-z_]+)"', path.read_text()))
    return QUERY_NAMES + tuple(sorted(found - set(QUERY_NAMES)))
# Forms whose submission would end the fuzzing session or the organization itself.
SKIP_ACTIONS = re.compile(r"/signout|/sessions/\d+/end|/organization/delete|/members/\d+/deactivate")
DESTRUCTIVE = re.compile(r"delete|purge|remove|deactivate|trim|merge")


_ERRORS: list[str] = []


def _check(problems: list, response, what: str) -> None:
    if response.status_code >= 500 or (_ERRORS and _ERRORS[-1].startswith("NET")):
        problems.append(f"{what}: {response.status_code} {_ERRORS[-1] if _ERRORS else ''}")
        _ERRORS.append("(reported)")


@pytest.fixture(autouse=True)
def _errors(server_errors):
    _ERRORS.clear()
    yield
    _ERRORS.clear()


@pytest.fixture(autouse=True)
def _share(server_errors):
    global _ERRORS
    _ERRORS = server_errors


def test_ids_past_the_range_in_every_path_are_404(app):
    world = build_world(app)
    client, problems = world.client("admin"), []
    for method, rule in routes(app):
        ids = re.findall(r"<(int|uuid|rowid):([a-z_]+)>", rule.rule)
        for converter, name in ids:
            for bad in PATH_IDS if converter == "int" else PATH_UUIDS + PATH_IDS:
                url, _found = route_url(world, rule, {name: bad})
                data = {"csrf_token": world.csrf("admin")} if method not in ("GET", "HEAD") else None
                response = client.open(url, method=method, data=data)
                # 403: the role is refused before any id is read (tenancy.roles_required)
                if response.status_code not in (403, 404):
                    problems.append(f"{method} {url}: {response.status_code}, expected 404")
    assert not problems, "\n".join(problems)


def test_malformed_query_arguments_on_every_page(app):
    world = build_world(app)
    problems, names = [], _query_names_read_by_the_views()
    assert {"since", "category", "week"} <= set(names)
    for role in ("admin", "customer"):
        client = world.client(role)
        for method, rule in routes(app):
            if method != "GET" or rule.endpoint in ("static",):
                continue
            url, _found = route_url(world, rule)
            for offset in range(0, len(MALFORMED), 5):
                # Each request gives every argument a different bad value; together they try each on each.
                query = {name: MALFORMED[(i + offset) % len(MALFORMED)][:1001] for i, name in enumerate(names)}
                response = client.get(url, query_string=query)
                _check(problems, response, f"GET {url}?{sorted(query.items())[:3]}... as {role}")
    assert not problems, "\n".join(problems)


def _pages_forms(world, role: str):
    """Every form on every page `role` can open, once each (same action and fields)."""
    client, seen, found = world.client(role), set(), []
    for method, rule in routes(world.app):
        if method != "GET" or rule.endpoint == "static":
            continue
        url, _found = route_url(world, rule)
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        for form in forms_on(response.get_data(as_text=True), url):
            if form.key() in seen or SKIP_ACTIONS.search(form.action) or form.action.startswith("http"):
                continue
            seen.add(form.key())
            found.append(form)
    return sorted(found, key=lambda f: bool(DESTRUCTIVE.search(f.action)))


def _submit(world, role: str, form, values: dict):
    client = world.client(role)
    data, files = {}, {}
    for name, value in values.items():
        if form.kinds.get(name) == "file":
            files[name] = (io.BytesIO(b"\x00\x01" + value.encode("utf-8", "replace")[:64]), value[:200] or "x")
        else:
            data[name] = value
    data["csrf_token"] = world.csrf(role)
    if form.method == "GET":
        return client.get(form.action, query_string=data)
    return client.post(form.action, data={**data, **files}, content_type="multipart/form-data" if files else None)


def test_malformed_values_in_every_form_field(app):
    world = build_world(app)
    problems, submitted = [], 0
    for role in ("admin", "customer"):
        for number, form in enumerate(_pages_forms(world, role)):
            names = [n for n in form.fields if n != "csrf_token"]
            # Every field bad at once (each a different value; four rounds try each value on each field), then
            # each field alone with the others as the page filled them in: a field's bad value must not hide
            # behind another field's error.
            trials = [{name: MALFORMED[(i + offset) % len(MALFORMED)] for i, name in enumerate(names)}
                      for offset in range(0, len(MALFORMED), 5)]
            trials += [{**form.fields, name: MALFORMED[(i + number) % len(MALFORMED)]} for i, name in enumerate(names)]
            for values in trials:
                values = {k: v for k, v in values.items() if k != "csrf_token"}
                response = _submit(world, role, form, values)
                submitted += 1
                bad = {k: v[:24] for k, v in values.items() if v in MALFORMED}
                _check(problems, response, f"{form.method} {form.action} as {role} with {bad}")
                if response.status_code == 400:
                    world.refresh_csrf(role)
    print(f"{submitted} form submissions")
    assert submitted > 400
    assert not problems, f"{len(problems)} server errors:\n" + "\n".join(problems)


def test_json_api_refuses_malformed_bodies(app):
    world = build_world(app)
    problems = []
    headers = {**world.headers("bearer"), "Accept": "application/json"}
    client = world.client("bearer")
    for method, rule in routes(app):
        if not rule.endpoint.startswith("rules_api.") or method != "POST":
            continue
        url, _found = route_url(world, rule)
        for bad in MALFORMED + [2**40, -2**40, 1e308, None, [], {}]:
            body = {key: bad for key in ("rule", "rule_id", "test_data", "names", "name", "count", "values",
                                         "workspace", "generation")}
            response = client.post(url, json=body, headers=headers)
            _check(problems, response, f"POST {url} json {str(bad)[:24]!r}")
        response = client.post(url, data='{"rule": "\\ud800", "x": "\\u0000"}', headers=headers,
                               content_type="application/json")
        if response.status_code != 400:
            problems.append(f"POST {url} with NUL/surrogate JSON: {response.status_code}, expected 400")
    assert not problems, "\n".join(problems)

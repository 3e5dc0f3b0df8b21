"""LIKE wildcards in user text are taken literally everywhere a "contains" search or filter is built."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.platform import textsearch

APP = Path(__file__).resolve().parents[2] / "app"


@pytest.mark.parametrize("text,expected", [
    ("50%", r"%50\%%"), ("snake_case", r"%snake\_case%"), ("a\\b", r"%a\\b%"), ("  plain ", "%plain%"),
])
def test_patterns_escape_wildcards(text, expected):
    assert textsearch.like_pattern(text) == expected


def test_every_like_in_the_app_goes_through_the_helper():
    """No `.like(`/`.ilike(` with a hand-made pattern outside app/platform/textsearch.py."""
    offenders = []
    for path in APP.rglob("*.py"):
        if path.name == "textsearch.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.i?like\(", line):
                offenders.append(f"{path.relative_to(APP)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.fixture()
def entries(make_org, make_user):
    from app.exports.models import TimeEntry

    org = make_org("Acme")
    admin = make_user(org, "admin", "admin@acme.example.com")
    for project in ("50% off", "snake_case", "snakeXcase", "back\\slash", "Website"):
        db.session.add(TimeEntry(organization_id=org.id, user_id=admin.id, date=date(2026, 11, 2), project=project,
                                 duration_minutes=30))
    db.session.commit()
    return admin


@pytest.mark.parametrize("typed,found", [
    ("%", ["50% off"]), ("_", ["snake_case"]), ("\\", ["back\\slash"]), ("SNAKE", ["snakeXcase", "snake_case"]),
    ("e_c", ["snake_case"]),
])
def test_export_project_contains_filter_is_literal(entries, typed, found):
    from app.exports.services import export_preview

    result = export_preview(user=entries, dataset="time_entries", fields=["project"], filters={"project": typed},
                            limit=50)
    assert sorted(r[0] for r in result["rows"]) == sorted(found)


def test_usage_endpoint_contains_filter_is_literal(entries):
    from app.exports.services import export_preview
    from app.platform.usage import APIUsageLog

    for endpoint in ("/api/v1/a_b", "/api/v1/axb", "/api/v1/100%"):
        db.session.add(APIUsageLog(organization_id=entries.organization_id, user_id=entries.id, endpoint=endpoint,
                                   method="GET", response_status=200, response_time_ms=3))
    db.session.commit()
    for typed, found in (("_", ["/api/v1/a_b"]), ("%", ["/api/v1/100%"]), ("a_b", ["/api/v1/a_b"])):
        rows = export_preview(user=entries, dataset="api_usage", fields=["endpoint"], filters={"endpoint": typed},
                              limit=50)["rows"]
        assert [r[0] for r in rows] == found, typed


def test_the_helper_matches_literally_on_this_database(entries):
    from app.exports.models import TimeEntry

    def matching(typed):
        return sorted(db.session.scalars(sa.select(TimeEntry.project).where(
            textsearch.contains(TimeEntry.project, typed))))

    assert matching("%") == ["50% off"]
    assert matching("_") == ["snake_case"]
    assert matching("\\") == ["back\\slash"]
    assert matching("") == sorted(["50% off", "snake_case", "snakeXcase", "back\\slash", "Website"])

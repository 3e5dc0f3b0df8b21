"""Timesheet: add, edit, delete entries through the real forms; managers see the team."""
from __future__ import annotations

from datetime import date

import pytest

from app.exports.models import TimeEntry
from app.extensions import db
from tests.exports.conftest import add_entries
from tests.helpers import page_text


def _add(auth, **data):
    payload = {"date": "2026-11-03", "project": "Website", "task": "Design", "duration": "1:30",
               "description": "Mockups", "week": "2026-11-02"}
    payload.update(data)
    return auth.post("/exports/time/entries", payload, page="/exports/time")


def test_add_entry_shows_in_week(people, login):
    client, auth = login(people["agent"])
    response = _add(auth)
    assert response.status_code == 302
    page = page_text(client.get("/exports/time?week=2026-11-03"))
    assert "Mockups" in page and "1:30" in page
    entry = db.session.query(TimeEntry).one()
    assert entry.duration_minutes == 90 and entry.user_id == people["agent"].id


def test_bad_duration_is_a_form_error_and_nothing_saved(people, login):
    client, auth = login(people["agent"])
    response = _add(auth, duration="soon")
    assert response.status_code == 422
    assert "Enter a duration like 1:30" in page_text(response)
    response = auth.post("/exports/time/entries", {"date": "2026-11-03", "project": "", "duration": "1h"},
                         page="/exports/time", headers={"HX-Request": "true"})
    assert response.status_code == 422 and "Enter the project" in page_text(response)
    assert db.session.query(TimeEntry).count() == 0


@pytest.mark.parametrize("typed", ["-0:30", "1:-30", "-30", "+30", "-1h", "infh", "nanh", "inf", "1e3", "1e1h",
                                   "1:75", "1:3", "1.5.3h", "0x10", "\uff11\uff12", "30 min later", "25:00", "0"])
def test_negative_non_finite_and_malformed_durations_are_refused_at_the_field(people, login, typed):
    client, auth = login(people["agent"])
    response = _add(auth, duration=typed)
    assert response.status_code == 422
    text = page_text(response)
    assert "Enter a duration like 1:30" in text or "more than 0 minutes and at most 24 hours" in text
    assert db.session.query(TimeEntry).count() == 0


@pytest.mark.parametrize("typed,minutes", [("1:30", 90), ("90", 90), ("45m", 45), ("1.5h", 90), ("1h30m", 90),
                                           ("0:05", 5), ("24:00", 1440), ("2 h", 120)])
def test_accepted_duration_forms(people, login, typed, minutes):
    client, auth = login(people["agent"])
    assert _add(auth, duration=typed).status_code == 302
    assert db.session.query(TimeEntry).one().duration_minutes == minutes


def test_htmx_add_returns_the_week_fragment(people, login):
    client, auth = login(people["agent"])
    response = _add(auth, headers={"HX-Request": "true"}) if False else auth.post(
        "/exports/time/entries", {"date": "2026-11-03", "project": "Docs", "duration": "45m", "week": "2026-11-02"},
        page="/exports/time", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = page_text(response)
    assert 'id="week"' in html and "<html" not in html and "Docs" in html and "0:45" in html


def test_edit_and_delete(people, login):
    client, auth = login(people["agent"])
    _add(auth)
    entry = db.session.query(TimeEntry).one()
    response = auth.post(f"/exports/time/entries/{entry.id}/edit",
                         {"date": "2026-11-04", "project": "Backend", "task": "", "duration": "2h", "description": ""},
                         page=f"/exports/time/entries/{entry.id}/edit")
    assert response.status_code == 302
    db.session.expire_all()
    assert (entry.project, entry.duration_minutes, entry.date) == ("Backend", 120, date(2026, 11, 4))
    assert auth.post(f"/exports/time/entries/{entry.id}/delete", page="/exports/time").status_code == 302
    assert db.session.query(TimeEntry).count() == 0


def test_managers_see_the_team_agents_only_themselves(people, login):
    add_entries(people["agent"], 1, project="AgentProject", start=date(2026, 11, 2))
    add_entries(people["customer"], 1, project="CustomerProject", start=date(2026, 11, 2))
    client, _ = login(people["manager"])
    page = page_text(client.get("/exports/time?week=2026-11-02"))
    assert "AgentProject" in page and "CustomerProject" not in page  # customers' hours are not the team's
    client, _ = login(people["agent"])
    page = page_text(client.get("/exports/time?week=2026-11-02"))
    assert "AgentProject" in page and "CustomerProject" not in page


def test_other_peoples_entries_answer_404(people, login):
    add_entries(people["customer"], 1)
    add_entries(people["other"], 1)
    mine_not = db.session.query(TimeEntry).filter_by(user_id=people["customer"].id).one()
    foreign = db.session.query(TimeEntry).filter_by(user_id=people["other"].id).one()
    client, auth = login(people["agent"])
    assert client.get(f"/exports/time/entries/{mine_not.id}/edit").status_code == 404
    assert client.get(f"/exports/time/entries/{foreign.id}/edit").status_code == 404
    client, auth = login(people["admin"])
    assert client.get(f"/exports/time/entries/{foreign.id}/edit").status_code == 404
    assert client.get(f"/exports/time/entries/{mine_not.id}/edit").status_code == 200


def test_project_suggestions_come_from_previous_entries(people, login):
    add_entries(people["agent"], 2, project="Apollo")
    client, _ = login(people["agent"])
    assert '<option value="Apollo">' in page_text(client.get("/exports/time"))

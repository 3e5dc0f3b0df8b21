"""Customers see the helpdesk and their own preferences; the rest is closed on the routes unless an admin grants it."""
from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db
from tests.helpers import page_text, signed_in

CLOSED = ["/projects/", "/exports/time", "/exports/", "/workspaces", "/jobs", "/rules/"]


@pytest.fixture()
def customer(make_user, org):
    return make_user(org, "customer", "carol@acme.example.com")


@pytest.mark.parametrize("url", CLOSED)
def test_customer_gets_403_on_closed_areas(app, customer, url):
    client, _ = signed_in(app, customer)
    assert client.get(url).status_code == 403


def test_customer_lands_on_the_helpdesk_and_keeps_preferences(app, customer):
    client, _ = signed_in(app, customer)
    response = client.get("/dashboard")
    assert response.status_code == 302 and response.headers["Location"] == "/tickets/"
    html = page_text(client.get("/tickets/"))
    assert 'href="/projects/"' not in html and 'href="/exports/time"' not in html and 'href="/jobs"' not in html
    assert 'href="/tickets/kb"' in html or "Knowledge base" in html
    assert client.get("/preferences").status_code == 200
    assert client.get("/tickets/kb").status_code == 200


def test_admin_grants_areas_to_customers(app, admin, customer):
    _, auth = signed_in(app, admin)
    response = auth.post("/organization", {"name": "Acme", "subscription_tier": "professional",
                                           "trash_retention_days": "30", "customer_access": ["projects", "jobs"]})
    assert response.status_code == 302
    client, _ = signed_in(app, customer)
    assert client.get("/projects/").status_code == 200
    assert client.get("/dashboard").status_code == 200
    assert client.get("/exports/time").status_code == 403  # not granted
    assert 'href="/projects/"' in page_text(client.get("/dashboard"))


def test_staff_are_not_limited(app, admin, make_user, org):
    agent = make_user(org, "agent", "agent@acme.example.com")
    client, _ = signed_in(app, agent)
    for url in ("/projects/", "/exports/time", "/jobs", "/dashboard"):
        assert client.get(url).status_code == 200, url


def test_customers_hours_are_not_in_the_team_timesheet(app, admin, customer, make_user, org):
    from app.exports.models import TimeEntry

    agent = make_user(org, "agent", "agent@acme.example.com")
    today = date.today()
    for user, project in ((agent, "Agent work"), (customer, "Customer hours")):
        db.session.add(TimeEntry(organization_id=org.id, user_id=user.id, date=today, project=project, task="x",
                                 duration_minutes=60))
    db.session.commit()
    client, _ = signed_in(app, admin)
    html = page_text(client.get(f"/exports/time?week={today.isoformat()}"))
    assert "Agent work" in html and "Customer hours" not in html

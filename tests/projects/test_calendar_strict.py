"""The project calendar read back by a strict RFC 5545 parser (`ical`, which refuses raw CR and control
characters) with every awkward character in titles, notes and the project name."""
from __future__ import annotations

import sqlalchemy as sa
from ical.calendar_stream import IcsCalendarStream

from app.extensions import db
from app.projects import services

AWKWARD = "CR\rLF\nCRLF\r\nsemi;comma,back\\slash:colon \"quote\" tab\there bell\x07 esc\x1b zwsp\u200b " \
          "\u00e9\u4e2d\u6587 \U0001F600 " + "long " * 40


def test_a_strict_parser_reads_every_awkward_value(app, student):
    from app.projects.models import ImportantDate, Project

    project_id = student.create_school(name="Lab; one, two")
    with app.app_context():
        project = db.session.get(Project, project_id)
        db.session.add(ImportantDate(project_id=project.id, kind="deadline", title=("Parser" + AWKWARD)[:200],
                                     date=project.created_at.date(), notes="Notes" + AWKWARD))
        db.session.commit()
        count = db.session.scalar(sa.select(sa.func.count()).select_from(ImportantDate))
    response = student.client.get(f"/projects/{project_id}/calendar.ics")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    calendar = IcsCalendarStream.calendar_from_ics(body)  # raises on anything RFC 5545 forbids
    assert len(calendar.events) == count
    expected = ("Notes" + AWKWARD).replace("\r\n", "\n").replace("\r", "\n").replace("\x07", "").replace("\x1b", "")
    event = calendar.events[0]
    assert event.description == expected
    assert event.summary.startswith("Deadline: Parser" + "CR\nLF\nCRLF\nsemi;comma,back\\slash")
    assert event.summary.endswith("(Lab; one, two)")


def test_event_uids_are_the_same_whatever_host_served_the_file(app, student):
    """A calendar that imports the file again updates its events: the UID may not depend on the host name (it
    was `@<host>`, and `@[` over IPv6). No dates: the page offers no empty calendar."""
    from app.projects.models import ImportantDate, Project

    project_id = student.create_school(name="Hosts")
    assert "Download .ics" not in student.client.get(f"/projects/{project_id}").get_data(as_text=True)
    with app.app_context():
        project = db.session.get(Project, project_id)
        db.session.add(ImportantDate(project_id=project.id, kind="exam", title="Final", date=project.created_at.date()))
        db.session.commit()
    assert "Download .ics" in student.client.get(f"/projects/{project_id}").get_data(as_text=True)
    body = student.client.get(f"/projects/{project_id}/calendar.ics").get_data(as_text=True)
    with app.test_request_context(base_url="http://[::1]:5000"), app.app_context():
        again = services.calendar_ics(db.session.get(Project, project_id))
    uids = [line for line in body.split("\r\n") if line.startswith("UID:")]
    assert len(uids) == 1 and uids == [line for line in again.split("\r\n") if line.startswith("UID:")]
    assert uids[0].endswith("@cairn") and str(project_id) in uids[0]

"""Study projects demo data for `flask seed-demo`, through `app.projects.services`: one school and one
self-study project of the demo admin (projects are personal: each member sees their own), published,
with metadata and important dates around the day the demo was created.

Each step looks for its result first (a project by owner and name, a date by title; metadata
is set by key), so running the loader again completes a run that stopped.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.projects import services
from app.projects.models import SCHOOL, SELF_STUDY, ImportantDate, Project

OWNER = "admin"
# Each project: its fields, metadata (key, JSON or text), and dates (kind, title, days from the demo's creation).
PROJECTS = (
    {
        "fields": {"project_type": SCHOOL, "name": "Distributed systems coursework",
                   "description": "Team project: a replicated key-value store with leader election, tested "
                                  "under network partitions.",
                   "course_name": "Distributed Systems", "course_code": "CS-4520", "teacher_name": "Dr. Lena Ortiz"},
        "span": (-21, 70),
        "meta": (("credits", "6"), ("team", '["Ada", "Max", "Alex"]'), ("language", "Go"),
                 ("repository", "https://git.example.com/cs4520/team-3")),
        "dates": (("milestone", "Design document reviewed", 7), ("deadline", "Project report due", 56),
                  ("exam", "Oral exam", 70)),
    },
    {
        "fields": {"project_type": SELF_STUDY, "name": "Learn Rust in twelve weeks",
                   "description": "Work through the Rust book and build a small command-line tool.",
                   "goal_description": "Write and publish a command-line tool in idiomatic Rust, with tests.",
                   "study_frequency": "several_per_week"},
        "span": (-7, 77),
        "meta": (("hours_per_week", "5"), ("resources", '["The Rust Programming Language", "Rustlings"]'),
                 ("level", "beginner")),
        "dates": (("milestone", "Ownership and borrowing chapters done", 14),
                  ("milestone", "First release of the tool", 63), ("deadline", "Publish on crates.io", 77)),
    },
)


def load_demo(*, organization, users: dict) -> None:
    owner = users[OWNER]
    base = organization.created_at.date()
    for spec in PROJECTS:
        fields = spec["fields"]
        project = db.session.scalars(sa.select(Project).where(
            Project.organization_id == organization.id, Project.owner_id == owner.id,
            Project.name == fields["name"])).first()
        if project is None:
            start, end = (base + timedelta(days=days) for days in spec["span"])
            project = services.project_create(owner=owner, start_date=start, end_date=end, publish=True, **fields)
        for key, raw_value in spec["meta"]:
            services.meta_set(project=project, key=key, raw_value=raw_value)
        for kind, title, days in spec["dates"]:
            exists = db.session.scalar(sa.select(ImportantDate.id).where(ImportantDate.project_id == project.id,
                                                                         ImportantDate.title == title))
            if exists is None:
                services.date_add(project=project, kind=kind, title=title, on=base + timedelta(days=days))

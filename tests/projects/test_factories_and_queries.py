"""Seed 002's factories build valid projects of each type; the list query filters by type and searches
the type tables' own fields (built with the factories, read back through the app's query)."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.projects.models import ImportantDate, Project, ProjectMeta, SchoolProject, SelfStudyProject
from app.projects.services import projects_query
from tests.project_factories import (
    SchoolProjectFactory,
    SelfStudyProjectFactory,
    UserFactory,
    complete_school_project,
    complete_self_study_project,
)


def test_complete_factories_make_projects_with_metadata_and_dates(app_ctx):
    school = complete_school_project()
    study = complete_self_study_project(owner=school.owner)
    for project, model in ((school, SchoolProject), (study, SelfStudyProject)):
        loaded = db.session.get(Project, project.id)
        assert type(loaded) is model  # the polymorphic load returns the project's own type
        assert all(loaded.type_fields().values())
        assert db.session.scalar(sa.select(sa.func.count()).where(ProjectMeta.project_id == project.id)) == 3
        assert db.session.scalar(sa.select(sa.func.count()).where(ImportantDate.project_id == project.id)) == 2
    assert school.organization_id == school.owner.organization_id


def test_type_filter_and_search_read_the_type_tables(app_ctx):
    owner = UserFactory()
    stranger = UserFactory()
    SchoolProjectFactory.create_batch(3, owner=owner)
    compilers = SchoolProjectFactory(owner=owner, course_name="Advanced Compilers")
    SelfStudyProjectFactory.create_batch(2, owner=owner)
    rust = SelfStudyProjectFactory(owner=owner, goal_description="Write a ray tracer in Rust")
    SchoolProjectFactory(owner=stranger, course_name="Advanced Compilers")

    def ids(**filters):
        return [p.id for p in db.session.scalars(projects_query(
            organization_id=owner.organization_id, owner_id=owner.id, **filters))]

    assert len(ids()) == 7
    assert set(ids(project_type="school")) == {p.id for p in db.session.scalars(
        sa.select(SchoolProject).where(SchoolProject.owner_id == owner.id))}
    assert len(ids(project_type="self_study")) == 3
    assert ids(q="compilers") == [compilers.id]  # course name, case-insensitive; the stranger's is not listed
    assert ids(q="ray tracer") == [rust.id]  # a self-study goal

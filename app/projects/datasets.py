"""The projects dataset for exports: a user's own projects, as the projects pages list them
(projects.services.projects_query: organization AND owner, for every role)."""
from __future__ import annotations

import sqlalchemy as sa

from app.exports.datasets import Dataset, Field, Filter, register_dataset


def _projects(user) -> sa.Select:
    from app.projects.models import Project, SchoolProject, SelfStudyProject

    # The tables, not the entities: a column select of the polymorphic Project would not join the type tables.
    project, school, self_study = Project.__table__, SchoolProject.__table__, SelfStudyProject.__table__
    return sa.select(
        project.c.id.label("id"),
        project.c.name.label("name"),
        project.c.project_type.label("type"),
        school.c.course_name.label("course_name"),
        school.c.course_code.label("course_code"),
        school.c.teacher_name.label("teacher"),
        self_study.c.goal_description.label("goal"),
        self_study.c.study_frequency.label("study_frequency"),
        sa.case((project.c.is_draft.is_(True), "draft"), else_="published").label("state"),
        project.c.created_at.label("created_at"),
    ).select_from(
        project.outerjoin(school, school.c.id == project.c.id).outerjoin(self_study, self_study.c.id == project.c.id)
    ).where(project.c.organization_id == user.organization_id, project.c.owner_id == user.id)


register_dataset(Dataset(
    name="projects",
    label="Projects",
    fields=[Field("name", "Name"), Field("type", "Type"), Field("course_name", "Course name"),
            Field("course_code", "Course code"), Field("teacher", "Teacher"), Field("goal", "Goal"),
            Field("study_frequency", "Study frequency"), Field("state", "Draft/published"),
            Field("created_at", "Created", "datetime")],
    build=_projects,
    date_column="created_at",
    filters=[Filter("type", "Type", lambda rows, v: rows.c.type == v.strip().lower())],
    order_by=("created_at", "id"),
))

"""The projects dataset for exports: a user's own projects, as the projects pages list them
(projects.services.projects_query: organization AND owner, for every role)."""
from __future__ import annotations

import sqlalchemy as sa

from app.exports.datasets import Dataset, Field, Filter, register_dataset


def _projects(user) -> sa.Select:
    from app.projects.models import Project

    return sa.select(
        Project.id.label("id"),
        Project.name.label("name"),
        Project.project_type.label("type"),
        Project.course_name.label("course_name"),
        Project.course_code.label("course_code"),
        Project.teacher_name.label("teacher"),
        Project.goal_description.label("goal"),
        Project.study_frequency.label("study_frequency"),
        sa.case((Project.is_draft.is_(True), "draft"), else_="published").label("state"),
        Project.created_at.label("created_at"),
    ).where(Project.organization_id == user.organization_id, Project.owner_id == user.id)


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

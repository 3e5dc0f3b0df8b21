"""Model hooks of the projects area."""
from __future__ import annotations

from app.platform.hooks import model_hook
from app.projects.models import Project


@model_hook("before_save", Project)
def keep_publication_consistent(project: Project, **_context) -> None:
    """A published project has a publication time; a draft has none (the DB checks the first half)."""
    from app.platform.models import utcnow

    if project.is_draft:
        project.published_at = None
    elif project.published_at is None:
        project.published_at = utcnow()


@model_hook("before_save", Project)
def keep_search_text(project: Project, session, **_context) -> None:
    """SQLite's search text (projects/search.py); on PostgreSQL triggers keep the tsvector."""
    if session.get_bind().dialect.name == "postgresql":
        return
    from app.projects.search import document_text

    project.search_vector = document_text([project.name, getattr(project, "course_name", None),
                                           getattr(project, "goal_description", None)])

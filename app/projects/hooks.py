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

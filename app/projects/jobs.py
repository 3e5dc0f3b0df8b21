"""Job kinds of the projects area: they take ids (the platform loads the row) and call services."""
from __future__ import annotations

from flask import url_for

from app.platform.jobs import BackgroundTask, JobKind, register_job_kind, register_periodic
from app.projects import services
from app.projects.models import GeneratedProject, RepositoryExport


def generate(row: GeneratedProject, progress) -> None:
    services.generation_run(row, progress)


def export(row: RepositoryExport, progress) -> None:
    services.export_run(row, progress)


def cleanup_now(row: BackgroundTask, progress) -> None:
    """An admin's "Clean up drafts now": the periodic cleanup, with its report on the task row."""
    result = services.drafts_cleanup(organization_id=row.organization_id)
    if result.get("skipped"):
        from app.platform.jobs import JobError

        raise JobError("Another drafts cleanup is running right now; try again in a minute.")
    row.result = result


register_job_kind(JobKind(
    name="project-generate", model=GeneratedProject, handler=generate,
    result_template="projects/_generation_result.html", title=lambda row: row.title,
    detail_url=lambda row: url_for("projects.generation_detail", project_id=row.project_id, generation_id=row.id)))
register_job_kind(JobKind(
    name="project-export", model=RepositoryExport, handler=export,
    result_template="projects/_export_result.html", title=lambda row: row.title,
    detail_url=lambda row: url_for("projects.generation_detail", project_id=row.generated_project.project_id,
                                   generation_id=row.generated_project_id)))
register_job_kind(JobKind(
    name="projects-drafts-cleanup", model=BackgroundTask, handler=cleanup_now, expensive=False,
    result_template="projects/_cleanup_result.html", title=lambda row: "Clean up abandoned drafts"))

register_periodic("projects-drafts-cleanup", 3600, "app.projects.services.drafts_cleanup")

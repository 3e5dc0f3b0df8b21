"""Dashboard, Jobs page and the one job-status fragment every job row uses."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.core import bp, services
from app.platform.htmx import is_htmx
from app.platform.jobs import JOB_STATUS_LABELS, LOGICAL_STATUSES, JobError, job_kinds, job_retry, kind_of

JOBS_PER_PAGE = 20


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    return render_template("core/landing.html")


@bp.route("/favicon.ico")
def favicon():
    """Browsers and tools that ask for /favicon.ico without reading the page's <link rel=icon>."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/dashboard")
@login_required
def dashboard():
    org_id = current_user.organization_id
    return render_template(
        "core/dashboard.html",
        jobs=services.recent_jobs(org_id, user=current_user, limit=5),
        active_jobs=services.active_job_count(org_id),
    )


@bp.route("/jobs")
@login_required
def jobs():
    kind = request.args.get("kind", "")
    status = request.args.get("status", "")
    if status and status not in LOGICAL_STATUSES:
        status = ""
    if kind not in job_kinds:
        kind = ""
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 1000))
    per_page = JOBS_PER_PAGE
    # Rows of several tables, merged by time: read the first page * per_page + 1 of each, keep this page's slice.
    rows = services.recent_jobs(current_user.organization_id, user=current_user, limit=page * per_page + 1,
                                kind=kind, status=status)
    has_next = len(rows) > page * per_page
    rows = rows[(page - 1) * per_page:page * per_page]
    return render_template("core/jobs.html", rows=rows, kind=kind, status=status, kinds=sorted(job_kinds),
                           statuses=LOGICAL_STATUSES, status_labels=JOB_STATUS_LABELS, page=page, has_next=has_next,
                           highlight=request.args.get("highlight", type=int))


def _job_or_404(kind_name: str, row_id: int):
    row = services.job_row_for(kind_name, row_id, current_user.organization_id, user=current_user)
    if row is None:
        abort(404)
    return row


@bp.route("/jobs/<kind_name>/<rowid:row_id>/status")
@login_required
def job_status(kind_name: str, row_id: int):
    """The self-replacing status panel: polls while the row is not terminal."""
    row = _job_or_404(kind_name, row_id)
    template = "platform/_job_status.html" if is_htmx() else "core/job_detail.html"
    return render_template(template, job=row, kind=kind_of(row))


@bp.route("/jobs/<kind_name>/<rowid:row_id>/retry", methods=["POST"])
@login_required
def job_retry_view(kind_name: str, row_id: int):
    row = _job_or_404(kind_name, row_id)
    if not row.may_retry(current_user):
        abort(403)
    try:
        job_retry(row)
    except JobError as exc:
        flash(str(exc), "error")
    else:
        flash("Queued again.", "info")
    if is_htmx():
        return render_template("platform/_job_status.html", job=row, kind=kind_of(row))
    return redirect(url_for("core.job_status", kind_name=kind_name, row_id=row_id))

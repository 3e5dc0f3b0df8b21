"""Rules job kinds: generations, conflict checks and propagations run on the worker; status lives on their rows."""
from __future__ import annotations

from flask import url_for

from app.platform.jobs import JobKind, register_job_kind
from app.rules import services
from app.rules.models import ConflictCheck, Generation, PropagationRun, StaleScan

register_job_kind(JobKind(
    name="rules_generation",
    model=Generation,
    handler=services.generation_run,
    result_template="rules/_generation_result.html",
    on_reconciled_failure=services.generation_reconciled_failure,
    title=lambda row: row.title,
    detail_url=lambda row: url_for("rules.generation_detail", generation_id=row.id),
))

register_job_kind(JobKind(
    name="rules_propagation",
    model=PropagationRun,
    handler=services.propagation_run,
    result_template="rules/_propagation_result.html",
    title=lambda row: row.title,
    detail_url=lambda row: url_for("rules.propagation_detail", run_id=row.id),
))

register_job_kind(JobKind(
    name="rules_conflict_check",
    model=ConflictCheck,
    handler=services.conflict_check_run,
    result_template="rules/_conflict_result.html",
    title=lambda row: row.title,
    detail_url=lambda row: url_for("rules.conflict_detail", check_id=row.id),
))

register_job_kind(JobKind(
    name="rules_stale_scan",
    model=StaleScan,
    handler=services.stale_scan_run,
    result_template="rules/_stale_scan_result.html",
    title=lambda row: row.title,
    detail_url=lambda row: url_for("rules.names_stale"),
))

"""Exports views: thin. Parse the form, call a service, render the page or fragment."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from app.exports import bp, cron, services
from app.exports.datasets import datasets_for, get_dataset
from app.exports.forms import ExportForm, ExportsSettingsForm, ScheduleForm, ShareForm, TemplateForm, TimeEntryForm
from app.exports.models import AUDIT_ACTIONS, ExportAuditLog, ExportRequest, ExportSchedule, ExportTemplate, TimeEntry
from app.exports.services import Actor, ExportError
from app.exports.writers import CONTENT_TYPES
from app.extensions import db
from app.platform.idempotency import idempotent
from app.platform import storage
from app.platform.formatting import format_datetime
from app.platform.htmx import is_htmx
from app.platform.jobs import JOB_STATUS_LABELS, LOGICAL_STATUSES, kind_of
from app.platform.pagination import paginate
from app.platform.tenancy import get_or_404, roles_required, scoped
from app.platform.parsing import parse_uuid
from app.platform.timezones import day_bounds_utc
from app.platform.timezones import local_today, zone_name_of


def _actor() -> Actor:
    return Actor(current_user._get_current_object(), request.remote_addr,
                 request.headers.get("User-Agent", ""))


def _form_failed(form, exc: ExportError) -> None:
    """A service refused the write: undo what it began, and show why at its field (or atop the form)."""
    db.session.rollback()
    for message, field in exc.refusals:
        if field and hasattr(form, field):
            errors = list(getattr(form, field).errors or [])
            if message not in errors:  # the form's own validator may have said it already
                getattr(form, field).errors = errors + [message]
        elif message not in form.form_errors:
            form.form_errors.append(message)


def _flash_refusal(exc: ExportError) -> None:
    """A service refused a write made from a button (no form to show it at): undo it, say why."""
    db.session.rollback()
    flash(str(exc), "error")


def _status(form) -> int:
    return 422 if form.errors or form.form_errors else 200


# --------------------------------------------------------------------------- timesheet
def _parse_week(value: str | None) -> date:
    try:
        day = date.fromisoformat(value) if value else local_today()
    except ValueError:
        day = local_today()
    return services.week_start(day)


def _members_for_filter():
    from app.accounts.models import User

    if current_user.role not in ("admin", "manager"):
        return []
    return list(db.session.scalars(scoped(User).where(User.is_active.is_(True), User.role != "customer")
                                   .order_by(User.full_name)))


def _week_context(start: date, form: TimeEntryForm | None = None, member_id: int | None = None) -> dict:
    entries = services.time_entries_week(user=current_user, start=start, member_id=member_id)
    days = [start + timedelta(days=i) for i in range(7)]
    by_day = {d: [e for e in entries if e.date == d] for d in days}
    if form is None:
        today = local_today()  # the user's day, in their time zone
        form = TimeEntryForm(formdata=None, date=today if start <= today < start + timedelta(7) else start)
    return {"start": start, "days": days, "by_day": by_day, "total": sum(e.duration_minutes for e in entries),
            "form": form, "suggestions": services.project_suggestions(user=current_user),
            "members": _members_for_filter(), "member_id": member_id,
            "prev_week": start - timedelta(days=7), "next_week": start + timedelta(days=7)}


@bp.route("/time")
@login_required
def timesheet():
    member_id = request.args.get("member", type=int) if current_user.role in ("admin", "manager") else None
    context = _week_context(_parse_week(request.args.get("week")), member_id=member_id)
    return render_template("exports/timesheet.html", **context)


@bp.route("/time/entries", methods=["POST"])
@login_required
def entry_create():
    form = TimeEntryForm()
    start = _parse_week(request.form.get("week"))
    if form.validate():
        try:
            entry = services.time_entry_create(user=current_user, entry_date=form.date.data,
                                               project=form.project.data, task=form.task.data,
                                               duration=form.duration.data, description=form.description.data)
        except ExportError as exc:
            _form_failed(form, exc)
        else:
            flash("Time entry added.", "success")
            start = services.week_start(entry.date)
            if is_htmx():
                return render_template("exports/_week.html", **_week_context(start))
            return redirect(url_for("exports.timesheet", week=start.isoformat()))
    template = "exports/_week.html" if is_htmx() else "exports/timesheet.html"
    return render_template(template, **_week_context(start, form)), 422


def _entry_or_404(entry_id: int) -> TimeEntry:
    entry = get_or_404(TimeEntry, entry_id)
    if not services.time_entry_may_edit(entry, current_user):
        abort(404)
    return entry


@bp.route("/time/entries/<int:entry_id>/edit", methods=["GET", "POST"])
@login_required
def entry_edit(entry_id: int):
    entry = _entry_or_404(entry_id)
    form = TimeEntryForm(obj=entry) if request.method == "GET" else TimeEntryForm()
    if request.method == "GET":
        form.duration.data = entry.duration_label
    elif form.validate():
        try:
            services.time_entry_update(entry=entry, entry_date=form.date.data, project=form.project.data,
                                       task=form.task.data, duration=form.duration.data,
                                       description=form.description.data)
        except ExportError as exc:
            _form_failed(form, exc)
        else:
            flash("Time entry saved.", "success")
            return redirect(url_for("exports.timesheet", week=services.week_start(entry.date).isoformat()))
    return render_template("exports/entry_edit.html", form=form, entry=entry,
                           suggestions=services.project_suggestions(user=current_user)), _status(form)


@bp.route("/time/entries/<int:entry_id>/delete", methods=["POST"])
@login_required
def entry_delete(entry_id: int):
    entry = _entry_or_404(entry_id)
    start = services.week_start(entry.date)
    services.time_entry_delete(entry=entry)
    flash("Time entry deleted.", "success")
    if is_htmx():
        return render_template("exports/_week.html", **_week_context(start))
    return redirect(url_for("exports.timesheet", week=start.isoformat()))


# --------------------------------------------------------------------------- export requests
def _request_or_404(request_id: uuid.UUID) -> ExportRequest:
    row = get_or_404(ExportRequest, request_id)
    if row.requested_by_id != current_user.id and current_user.role != "admin":
        abort(404)
    return row


def _template_or_404(template_id) -> ExportTemplate:
    template_id = parse_uuid(template_id)
    if template_id is None:
        abort(404)
    row = db.session.scalars(services.templates_visible(current_user).where(ExportTemplate.id == template_id)).first()
    if row is None:
        abort(404)
    return row


@bp.route("/")
@login_required
def index():
    stmt = services.requests_visible(current_user).order_by(ExportRequest.created_at.desc(), ExportRequest.id.desc())
    status = request.args.get("status", "")
    if status in LOGICAL_STATUSES:
        stmt = stmt.where(ExportRequest.status_in(status))
    elif status == "expired":
        stmt = stmt.where(ExportRequest.status == "expired")
    else:
        status = ""
    choices = [(s, JOB_STATUS_LABELS[s]) for s in LOGICAL_STATUSES] + [("expired", "Expired")]
    return render_template("exports/index.html", page=paginate(stmt), status=status, status_choices=choices)


def _export_form_context(form: ExportForm, dataset_name: str, template: ExportTemplate | None) -> dict:
    available = datasets_for(current_user)
    dataset = get_dataset(dataset_name)
    if dataset is None or dataset not in available:
        dataset = available[0]
    templates = [t for t in db.session.scalars(services.templates_visible(current_user)
                                               .order_by(ExportTemplate.name)) if t.dataset == dataset.name]
    form.template_id.choices = [("", "No template")] + [(str(t.id), t.name) for t in templates]
    form.selected_fields.choices = [(f.name, f.label) for f in dataset.fields]
    return {"form": form, "dataset": dataset, "datasets": available, "template": template,
            "filter_values": {f.name: request.values.get(f"filter_{f.name}", "") or
                              ((template.default_filters or {}).get(f.name, "") if template else "")
                              for f in dataset.filters}}


def _filters_from_form(dataset, defaults: dict | None = None) -> dict:
    values = {f.name: request.form.get(f"filter_{f.name}", "").strip() for f in dataset.filters}
    for name, value in (defaults or {}).items():
        if name in values and not values[name]:
            values[name] = value
    if dataset.stored_filters is not None:  # taken from the session (never the form), kept with the request
        values.update(dataset.stored_filters(current_user))
    return values


@bp.route("/new", methods=["GET", "POST"])
@login_required
@idempotent("exports.index")
def request_new():
    template = _template_or_404(request.values["template"]) if request.values.get("template") else None
    dataset_name = request.values.get("dataset") or (template.dataset if template else "time_entries")
    if request.method == "GET":
        form = ExportForm(formdata=None)
        if template is not None:
            form.title.data = template.name
            form.format.data = template.format
            form.template_id.data = str(template.id)
            form.selected_fields.data = template.fields
    else:
        form = ExportForm()
    context = _export_form_context(form, dataset_name, template)
    dataset = context["dataset"]
    if request.method == "POST" and dataset.name != dataset_name:
        form.validate()
        form.form_errors.append("Your role can't export this data.")
        return render_template("exports/new.html", **context), 422
    if request.method == "GET":
        if not form.selected_fields.data:
            form.selected_fields.data = dataset.initial_fields()
        return render_template("exports/new.html", **context)
    if form.validate():
        chosen = _template_or_404(form.template_id.data) if form.template_id.data else None
        if chosen is not None and chosen.dataset != dataset.name:
            form.template_id.errors = ["This template exports other data; open it from the Templates page."]
            return render_template("exports/new.html", **context), 422
        defaults = None
        if chosen is not None and template != chosen:
            defaults = _apply_template(form, chosen)  # picked in the menu: its format and fields, not the defaults
        try:
            row = services.export_request_create(
                actor=_actor(), title=form.title.data, description=form.description.data, format=form.format.data,
                dataset=dataset.name, fields=form.selected_fields.data or [], template=chosen,
                filters=_filters_from_form(dataset, defaults), date_from=form.date_from.data,
                date_to=form.date_to.data)
        except ExportError as exc:
            _form_failed(form, exc)
        else:
            flash("Export started. It appears below when it is ready.", "success")
            return redirect(url_for("exports.request_detail", request_id=row.id))
    return render_template("exports/new.html", **context), 422


def _apply_template(form: ExportForm, template: ExportTemplate) -> dict:
    """A template chosen in the form's menu (not the one the page was opened with, whose values the user saw
    and may have changed) decides the format and fields; its default filters fill the empty ones."""
    form.format.data = template.format
    form.selected_fields.data = list(template.fields)
    return dict(template.default_filters or {})


@bp.route("/preview", methods=["POST"])
@login_required
def preview():
    form = ExportForm()
    dataset = get_dataset(request.form.get("dataset", ""))
    if dataset is None:
        abort(404)
    try:
        result = services.export_preview(user=current_user, dataset=dataset.name,
                                         fields=request.form.getlist("selected_fields"),
                                         filters=_filters_from_form(dataset), date_from=_date(form.date_from),
                                         date_to=_date(form.date_to))
    except ExportError as exc:
        return render_template("exports/_preview.html", error=str(exc)), 422
    return render_template("exports/_preview.html", **result)


def _date(field):
    field.process(request.form)
    return field.data if not field.errors else None


@bp.route("/requests/<uuid:request_id>")
@login_required
def request_detail(request_id: uuid.UUID):
    row = _request_or_404(request_id)
    audit = list(db.session.scalars(sa.select(ExportAuditLog).where(ExportAuditLog.export_request_id == row.id)
                                    .order_by(ExportAuditLog.timestamp, ExportAuditLog.id)))
    return render_template("exports/request.html", row=row, job=row, kind=kind_of(row), audit=audit,
                           dataset=get_dataset(row.dataset))


@bp.route("/requests/<uuid:request_id>/download", methods=["POST"])
@login_required
def request_download(request_id: uuid.UUID):
    row = _request_or_404(request_id)
    try:
        token = services.export_download_token(user=current_user, request=row)
    except ExportError as exc:
        return render_template("errors/error.html", status=410 if row.is_expired else 404,
                               title="No file", message=str(exc)), 410 if row.is_expired else 404
    return redirect(url_for("exports.download_file", token=token))


@bp.route("/file/<token>")
@login_required
def download_file(token: str):
    try:
        row = services.export_open_download(actor=_actor(), token=token)
    except services.LinkGone as exc:
        return render_template("errors/error.html", status=410, title="Link expired",
                               message=f"{exc} Open the export again for a fresh link."), 410
    except LookupError as exc:
        return render_template("errors/error.html", status=404, title="Not found", message=str(exc)), 404
    response = send_file(storage.resolve(row.file_path), mimetype=CONTENT_TYPES[row.format], as_attachment=True,
                         download_name=services.download_filename(row), max_age=0, conditional=False, etag=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/requests/<uuid:request_id>/delete", methods=["POST"])
@login_required
def request_delete(request_id: uuid.UUID):
    row = _request_or_404(request_id)
    try:
        services.export_delete(actor=_actor(), request=row)
    except ExportError as exc:
        _flash_refusal(exc)
        return redirect(url_for("exports.request_detail", request_id=request_id))
    flash("Export deleted.", "success")
    return redirect(url_for("exports.index"))


# --------------------------------------------------------------------------- templates
@bp.route("/templates")
@login_required
def templates():
    stmt = services.templates_visible(current_user).order_by(ExportTemplate.organization_id.is_(None).desc(),
                                                            ExportTemplate.name)
    return render_template("exports/templates.html", page=paginate(stmt))


def _template_form_context(form: TemplateForm, dataset_name: str) -> dict:
    available = datasets_for(current_user)
    dataset = get_dataset(dataset_name)
    if dataset is None or dataset not in available:
        dataset = available[0]
    form.fields.choices = [(f.name, f.label) for f in dataset.fields]
    return {"form": form, "dataset": dataset, "datasets": available, "header_values": {}}


def _template_values(form: TemplateForm, dataset) -> dict:
    return {"name": form.name.data, "description": form.description.data, "format": form.format.data,
            "dataset": dataset.name, "fields": form.fields.data or [],
            "headers": [request.form.get(f"header_{f}", "") for f in (form.fields.data or [])],
            "default_filters": _filters_from_form(dataset), "orientation": form.orientation.data}


@bp.route("/templates/new", methods=["GET", "POST"])
@login_required
@idempotent("exports.index")
def template_new():
    form = TemplateForm(formdata=None) if request.method == "GET" else TemplateForm()
    context = _template_form_context(form, request.values.get("dataset", "time_entries"))
    if request.method == "GET":
        form.fields.data = [f.name for f in context["dataset"].fields[:5]]
        return render_template("exports/template_edit.html", template=None, **context)
    if form.validate():
        try:
            template = services.template_create(actor=_actor(), is_public=form.is_public.data,
                                                **_template_values(form, context["dataset"]))
        except ExportError as exc:
            _form_failed(form, exc)
        else:
            flash(f"Template “{template.name}” saved.", "success")
            return redirect(url_for("exports.templates"))
    return render_template("exports/template_edit.html", template=None, **context), 422


@bp.route("/templates/<uuid:template_id>/edit", methods=["GET", "POST"])
@login_required
def template_edit(template_id: uuid.UUID):
    template = _template_or_404(template_id)
    if not services.template_may_edit(template, current_user):
        abort(403)
    if request.method == "GET":
        form = TemplateForm(formdata=None, obj=template)
        form.fields.data = template.fields
        form.orientation.data = "landscape" if template.landscape else "portrait"
    else:
        form = TemplateForm()
    context = _template_form_context(form, template.dataset)
    context["header_values"] = dict(zip(template.fields, template.headers))
    share_form = ShareForm(formdata=None)
    candidates = services.template_share_candidates(template=template, user=current_user)
    share_form.user_ids.choices = [(m.id, m.full_name or m.email) for m in candidates]
    share_form.user_ids.data = [u.id for u in template.shared_with if u.id in {m.id for m in candidates}]
    if request.method == "POST" and form.validate():
        try:
            services.template_update(actor=_actor(), template=template, is_public=form.is_public.data,
                                     **_template_values(form, context["dataset"]))
        except ExportError as exc:
            _form_failed(form, exc)
        else:
            flash("Template saved.", "success")
            return redirect(url_for("exports.templates"))
    return render_template("exports/template_edit.html", template=template, share_form=share_form,
                           **context), _status(form)


@bp.route("/templates/<uuid:template_id>/share", methods=["POST"])
@login_required
def template_share(template_id: uuid.UUID):
    template = _template_or_404(template_id)
    form = ShareForm()
    try:
        services.template_share(actor=_actor(), template=template, user_ids=form.user_ids.data or [])
    except ExportError as exc:
        _flash_refusal(exc)
    else:
        flash("Sharing saved.", "success")
    return redirect(url_for("exports.template_edit", template_id=template.id))


@bp.route("/templates/<uuid:template_id>/delete", methods=["POST"])
@login_required
def template_delete(template_id: uuid.UUID):
    template = _template_or_404(template_id)
    try:
        services.template_delete(actor=_actor(), template=template)
    except ExportError as exc:
        _flash_refusal(exc)
    else:
        flash("Template deleted.", "success")
    return redirect(url_for("exports.templates"))


# --------------------------------------------------------------------------- schedules
def _schedule_or_404(schedule_id: uuid.UUID) -> ExportSchedule:
    row = get_or_404(ExportSchedule, schedule_id)
    if row.user_id != current_user.id and current_user.role != "admin":
        abort(404)
    return row


@bp.route("/schedules")
@login_required
def schedules():
    stmt = services.schedules_visible(current_user).order_by(ExportSchedule.name, ExportSchedule.id)
    return render_template("exports/schedules.html", page=paginate(stmt), describe=cron.describe,
                           may_schedule=services.schedule_allowed(current_user))


def _schedule_form(form: ScheduleForm) -> ScheduleForm:
    form.template_id.choices = [("", "Choose…")] + [
        (str(t.id), f"{t.name} ({t.format.upper()})")
        for t in db.session.scalars(services.templates_visible(current_user).order_by(ExportTemplate.name))]
    return form


def _schedule_values(form: ScheduleForm) -> dict:
    template = None
    if form.template_id.data:
        template = db.session.scalars(services.templates_visible(current_user)
                                      .where(ExportTemplate.id == _uuid(form.template_id.data))).first()
    return {"name": form.name.data or "", "template": template, "cron_pattern": form.cron_pattern.data or "",
            "timezone_name": (form.timezone.data or "").strip(), "recipients": form.email_recipients.data or "",
            "include_download_link": form.include_download_link.data, "attach_file": form.attach_file.data}


def _schedule_form_valid(form: ScheduleForm) -> bool:
    """The form's validators, and when they fail the service's checks too: every mistake shows at once."""
    if form.validate():
        return True
    try:
        services.schedule_check(actor=_actor(), **_schedule_values(form))
    except ExportError as exc:
        _form_failed(form, exc)
    return False


def _uuid(value) -> uuid.UUID:
    """A template id from a form: a UUID, or the nil UUID (no template has it) for anything else."""
    return parse_uuid(value) or uuid.UUID(int=0)


def _schedules_refused():
    return render_template("errors/error.html", status=403, title="Schedules are off for customers",
                           message="Customers can't schedule exports in this organization; ask an admin to allow "
                                   "it in Exports settings."), 403


@bp.route("/schedules/new", methods=["GET", "POST"])
@login_required
@idempotent("exports.index")
def schedule_new():
    if not services.schedule_allowed(current_user):
        return _schedules_refused()
    form = _schedule_form(ScheduleForm(formdata=None) if request.method == "GET" else ScheduleForm())
    if request.method == "GET":
        form.email_recipients.data = current_user.email
        form.timezone.data = zone_name_of(current_user)
    elif _schedule_form_valid(form):
        try:
            schedule = services.schedule_create(actor=_actor(), **_schedule_values(form))
        except ExportError as exc:
            _form_failed(form, exc)
        else:
            flash(f"Schedule saved. Next run: {format_datetime(schedule.next_run)}.", "success")
            return redirect(url_for("exports.schedules"))
    return render_template("exports/schedule_edit.html", form=form, schedule=None,
                           zones=cron.timezone_choices()), _status(form) if request.method == "POST" else 200


@bp.route("/schedules/<uuid:schedule_id>/edit", methods=["GET", "POST"])
@login_required
def schedule_edit(schedule_id: uuid.UUID):
    schedule = _schedule_or_404(schedule_id)
    if request.method == "GET":
        form = _schedule_form(ScheduleForm(formdata=None, obj=schedule))
        form.template_id.data = str(schedule.template_id)
        form.email_recipients.data = ", ".join(schedule.email_recipients)
    else:
        form = _schedule_form(ScheduleForm())
        if _schedule_form_valid(form):
            try:
                services.schedule_update(actor=_actor(), schedule=schedule, **_schedule_values(form))
            except ExportError as exc:
                _form_failed(form, exc)
            else:
                flash("Schedule saved.", "success")
                return redirect(url_for("exports.schedules"))
    return render_template("exports/schedule_edit.html", form=form, schedule=schedule,
                           zones=cron.timezone_choices()), _status(form) if request.method == "POST" else 200


@bp.route("/schedules/<uuid:schedule_id>/toggle", methods=["POST"])
@login_required
def schedule_toggle(schedule_id: uuid.UUID):
    schedule = _schedule_or_404(schedule_id)
    services.schedule_set_active(schedule=schedule, active=not schedule.is_active)
    flash("Schedule resumed." if schedule.is_active else "Schedule paused.", "success")
    return redirect(url_for("exports.schedules"))


@bp.route("/schedules/<uuid:schedule_id>/delete", methods=["POST"])
@login_required
def schedule_delete(schedule_id: uuid.UUID):
    services.schedule_delete(schedule=_schedule_or_404(schedule_id))
    flash("Schedule deleted.", "success")
    return redirect(url_for("exports.schedules"))


@bp.route("/settings", methods=["GET", "POST"])
@roles_required("admin")
def settings():
    organization = current_user.organization
    form = ExportsSettingsForm()
    if request.method == "GET":
        form.customers_may_schedule.data = bool(organization.setting(services.CUSTOMERS_MAY_SCHEDULE, False))
        form.verified_recipients.data = "\n".join(organization.setting(services.VERIFIED_RECIPIENTS, []) or [])
    elif form.validate_on_submit():
        try:
            services.exports_settings_update(actor=_actor(), customers_may_schedule=form.customers_may_schedule.data,
                                             verified_recipients=form.verified_recipients.data)
        except ExportError as exc:
            _form_failed(form, exc)
        else:
            flash("Exports settings saved.", "success")
            return redirect(url_for("exports.settings"))
    return render_template("exports/settings.html", form=form), _status(form)


# --------------------------------------------------------------------------- audit and usage
@bp.route("/audit")
@roles_required("admin", "manager")
def audit():
    from app.accounts.models import User

    stmt = sa.select(ExportAuditLog).where(ExportAuditLog.organization_id == current_user.organization_id)
    action = request.args.get("action", "")
    user_id = request.args.get("user", type=int)
    since = request.args.get("since", "")
    if action:
        stmt = stmt.where(ExportAuditLog.action == action)
    if user_id:
        stmt = stmt.where(ExportAuditLog.user_id == user_id)
    try:
        if since:
            # From the start of that day in the user's time zone (a date can't be compared with a UTC instant).
            start, _end = day_bounds_utc(date.fromisoformat(since), None)
            stmt = stmt.where(ExportAuditLog.timestamp >= start)
    except ValueError:
        since = ""
    stmt = stmt.order_by(ExportAuditLog.timestamp.desc(), ExportAuditLog.id.desc())
    members = list(db.session.scalars(scoped(User).order_by(User.full_name)))
    return render_template("exports/audit.html", page=paginate(stmt), actions=AUDIT_ACTIONS, action=action,
                           user_id=user_id, since=since, members=members)


@bp.route("/usage")
@login_required
def usage():
    days = services.usage_by_day(user=current_user)
    peak = max([d["exports"] for d in days] + [1])
    return render_template("exports/usage.html", days=days, peak=peak,
                           totals={k: sum(d[k] for d in days) for k in ("exports", "records", "bytes", "failed")})

"""Projects views: thin. Parse the form, call a service, render the page or its fragment."""
from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.extensions import db
from app.platform.idempotency import idempotent
from app.platform import storage
from app.platform.downloads import send_download
from app.platform.htmx import is_htmx
from app.platform.jobs import BackgroundTask, job_submit, kind_of
from app.platform.models import SoftDeleteError
from app.platform.pagination import paginate
from app.platform.parsing import parse_uuid
from app.platform.tenancy import get_or_404, roles_required, scoped
from app.platform.transactions import plan_each_statement
from app.platform.validation import ModelValidationError, attach_model_errors
from app.projects import bp, services, templating
from app.projects.forms import (
    AttachmentForm,
    ConfirmForm,
    DateForm,
    ExportForm,
    MetaForm,
    ProjectForm,
    TemplateUploadForm,
)
from app.projects.models import (
    EXPORT_ARCHIVES,
    GeneratedProject,
    Project,
    ProjectAttachment,
    ProjectFile,
    ProjectTemplate,
    RepositoryExport,
)

TABS = {"all": ("All projects", None, None), "school": ("School", "school", None),
        "self_study": ("Self-study", "self_study", None), "drafts": ("Drafts", None, True)}
TEMPLATE_MANAGERS = ("admin", "manager")


@bp.app_context_processor
def _helpers():
    def projects_download_url(export: RepositoryExport) -> str:
        token = storage.sign_download("project-export", export.id, organization_id=export.organization_id,
                                      user_id=current_user.id)
        return url_for("projects.export_download", export_id=export.id, token=token)

    return {"projects_download_url": projects_download_url}


def _form_failed(form, exc: Exception) -> None:
    if isinstance(exc, ModelValidationError):
        attach_model_errors(form, exc)
    elif isinstance(exc, services.ProjectError) and exc.field and hasattr(form, exc.field):
        getattr(form, exc.field).errors = list(getattr(form, exc.field).errors) + [str(exc)]
    else:
        form.form_errors.append(str(exc))


def _project_or_404(project_id) -> Project:
    """The signed-in user's own project; anyone else's answers 404."""
    project = get_or_404(Project, project_id)
    if project.owner_id != current_user.id:
        abort(404)
    return project


def _generation_or_404(project: Project, generation_id) -> GeneratedProject:
    generation = get_or_404(GeneratedProject, generation_id)
    if generation.project_id != project.id:
        abort(404)
    return generation


# --------------------------------------------------------------------------- lists
@bp.route("/")
@login_required
def index():
    tab = request.args.get("tab", "all")
    if tab not in TABS:
        tab = "all"
    _label, project_type, drafts = TABS[tab]
    q = request.args.get("q", "").strip()[:100]
    if q:
        plan_each_statement()
    page = paginate(services.projects_query(organization_id=current_user.organization_id, owner_id=current_user.id,
                                            project_type=project_type, drafts=drafts, q=q))
    context = dict(page=page, tab=tab, tabs=TABS, q=q,
                   draft_hours=services.current_app.config.get("PROJECTS_DRAFT_MAX_AGE_HOURS", 24 * 14))
    if is_htmx() and request.headers.get("HX-Target") == "project-results":
        return render_template("projects/_project_list.html", **context)
    return render_template("projects/index.html", **context)


# --------------------------------------------------------------------------- create / edit
@bp.route("/new", methods=["GET", "POST"])
@login_required
@idempotent("projects.index")
def create():
    form = ProjectForm()
    if request.method == "GET" and request.args.get("type") in ProjectForm.TYPE_FIELDS:
        form.project_type.data = request.args["type"]
    status = 200
    if form.validate_on_submit():
        try:
            project = services.project_create(
                owner=current_user, project_type=form.project_type.data, name=form.name.data,
                description=form.description.data or "", start_date=form.start_date.data,
                end_date=form.end_date.data, publish=request.form.get("action") == "publish", **form.type_values())
        except (services.ProjectError, ModelValidationError, SoftDeleteError) as exc:
            _form_failed(form, exc)
        else:
            flash("Project published." if not project.is_draft else "Draft saved. Publish it when it's ready.",
                  "success")
            return redirect(url_for("projects.detail", project_id=project.id))
    if request.method == "POST":
        status = 422
    return render_template("projects/new.html", form=form), status


@bp.route("/new/fields")
@login_required
def type_fields():
    """HTMX: the fields of the chosen project type."""
    form = ProjectForm(formdata=None)
    chosen = request.args.get("project_type", "school")
    form.project_type.data = chosen if chosen in ProjectForm.TYPE_FIELDS else "school"
    return render_template("projects/_type_fields.html", form=form)


@bp.route("/<uuid:project_id>/edit", methods=["GET", "POST"])
@login_required
def edit(project_id: uuid.UUID):
    project = _project_or_404(project_id)
    form = ProjectForm(obj=project)
    form.project_type.data = project.project_type  # the type is fixed once created
    if form.validate_on_submit():
        try:
            services.project_update(project=project, name=form.name.data, description=form.description.data or "",
                                    start_date=form.start_date.data, end_date=form.end_date.data,
                                    **form.type_values())
        except (services.ProjectError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            flash("Project saved.", "success")
            return redirect(url_for("projects.detail", project_id=project.id))
    status = 422 if request.method == "POST" else 200
    return render_template("projects/edit.html", form=form, project=project), status


@bp.route("/<uuid:project_id>")
@login_required
def detail(project_id: uuid.UUID):
    project = _project_or_404(project_id)
    return _render_detail(project)


def _render_detail(project: Project, status: int = 200, **forms):
    attachments = db.session.scalars(
        scoped(ProjectAttachment, ProjectAttachment.select_active()).where(
            ProjectAttachment.project_id == project.id).order_by(ProjectAttachment.created_at)).all()
    removed = db.session.scalars(
        scoped(ProjectAttachment, ProjectAttachment.select_deleted()).where(
            ProjectAttachment.project_id == project.id).order_by(ProjectAttachment.deleted_at.desc())).all()
    generations = paginate(
        scoped(GeneratedProject).where(GeneratedProject.project_id == project.id)
        .order_by(GeneratedProject.created_at.desc(), GeneratedProject.id.desc()), per_page=20)
    context = dict(project=project, attachments=attachments, removed_attachments=removed, generations=generations,
                   meta_form=forms.get("meta_form") or MetaForm(formdata=None),
                   date_form=forms.get("date_form") or DateForm(formdata=None),
                   attachment_form=forms.get("attachment_form") or AttachmentForm(formdata=None),
                   confirm=ConfirmForm(formdata=None))
    fragment = forms.get("fragment")
    if fragment and is_htmx():
        return render_template(fragment, **context), status
    return render_template("projects/detail.html", **context), status


@bp.route("/<uuid:project_id>/publish", methods=["POST"])
@login_required
def publish(project_id: uuid.UUID):
    project = _project_or_404(project_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.project_publish(project=project)
        except services.ProjectError as exc:
            flash(str(exc), "error")
        else:
            flash("Project published.", "success")
    return redirect(url_for("projects.detail", project_id=project.id))


@bp.route("/<uuid:project_id>/delete", methods=["POST"])
@login_required
def delete(project_id: uuid.UUID):
    project = _project_or_404(project_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.project_delete(project=project)
    except services.ProjectError as exc:
        flash(str(exc), "error")
        return redirect(url_for("projects.detail", project_id=project.id))
    flash("Project deleted.", "success")
    return redirect(url_for("projects.index"))


# --------------------------------------------------------------------------- metadata, dates, attachments
@bp.route("/<uuid:project_id>/meta", methods=["POST"])
@login_required
def meta_add(project_id: uuid.UUID):
    project = _project_or_404(project_id)
    form = MetaForm()
    if form.validate_on_submit():
        try:
            services.meta_set(project=project, key=form.key.data, raw_value=form.value.data or "")
        except (services.ProjectError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            if is_htmx():
                return _render_detail(project, fragment="projects/_meta.html")
            flash("Metadata saved.", "success")
            return redirect(url_for("projects.detail", project_id=project.id) + "#metadata")
    return _render_detail(project, 422, meta_form=form, fragment="projects/_meta.html")


@bp.route("/<uuid:project_id>/meta/<int:meta_id>/delete", methods=["POST"])
@login_required
def meta_remove(project_id: uuid.UUID, meta_id: int):
    project = _project_or_404(project_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.meta_delete(project=project, meta_id=meta_id)
        except services.ProjectError as exc:
            flash(str(exc), "error")
    if is_htmx():
        return _render_detail(project, fragment="projects/_meta.html")
    return redirect(url_for("projects.detail", project_id=project.id) + "#metadata")


@bp.route("/<uuid:project_id>/dates", methods=["POST"])
@login_required
def date_add(project_id: uuid.UUID):
    project = _project_or_404(project_id)
    form = DateForm()
    if form.validate_on_submit():
        try:
            services.date_add(project=project, kind=form.kind.data, title=form.title.data, on=form.date.data,
                              notes=form.notes.data or "")
        except (services.ProjectError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            if is_htmx():
                return _render_detail(project, fragment="projects/_dates.html")
            flash("Date added.", "success")
            return redirect(url_for("projects.detail", project_id=project.id) + "#dates")
    return _render_detail(project, 422, date_form=form, fragment="projects/_dates.html")


@bp.route("/<uuid:project_id>/dates/<int:date_id>/delete", methods=["POST"])
@login_required
def date_remove(project_id: uuid.UUID, date_id: int):
    project = _project_or_404(project_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.date_delete(project=project, date_id=date_id)
        except services.ProjectError as exc:
            flash(str(exc), "error")
    if is_htmx():
        return _render_detail(project, fragment="projects/_dates.html")
    return redirect(url_for("projects.detail", project_id=project.id) + "#dates")


@bp.route("/<uuid:project_id>/calendar.ics")
@login_required
def calendar(project_id: uuid.UUID):
    project = _project_or_404(project_id)
    body = services.calendar_ics(project)
    filename = f"{services.archives.slug_for(project.name)}.ics"
    return send_download(body.encode("utf-8") if isinstance(body, str) else body, filename=filename,
                         mimetype="text/calendar")


@bp.route("/<uuid:project_id>/attachments", methods=["POST"])
@login_required
def attachment_add(project_id: uuid.UUID):
    project = _project_or_404(project_id)
    form = AttachmentForm()
    if form.validate_on_submit():
        upload = form.file.data
        if not upload or not getattr(upload, "filename", ""):
            form.file.errors = ["Choose a file to attach."]
        else:
            try:
                services.attachment_add(project=project, user=current_user, filename=upload.filename,
                                        stream=upload.stream, content_type=upload.mimetype or "")
            except (services.ProjectError, ModelValidationError) as exc:
                db.session.rollback()
                _form_failed(form, exc)
            else:
                flash("File attached.", "success")
                return redirect(url_for("projects.detail", project_id=project.id) + "#attachments")
    return _render_detail(project, 422, attachment_form=form)


@bp.route("/<uuid:project_id>/attachments/<int:attachment_id>")
@login_required
def attachment_download(project_id: uuid.UUID, attachment_id: int):
    project = _project_or_404(project_id)
    attachment = get_or_404(ProjectAttachment, attachment_id)
    if attachment.project_id != project.id:
        abort(404)
    path = storage.resolve(attachment.storage_path)
    if not path.exists():
        abort(404)
    # Never the type the uploader's browser claimed (text/html would run as a page): a download of bytes.
    return send_download(path, filename=attachment.filename, fallback="attachment")


@bp.route("/<uuid:project_id>/attachments/<int:attachment_id>/delete", methods=["POST"])
@login_required
def attachment_remove(project_id: uuid.UUID, attachment_id: int):
    project = _project_or_404(project_id)
    attachment = get_or_404(ProjectAttachment, attachment_id)
    if attachment.project_id != project.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            services.attachment_delete(attachment=attachment, user=current_user)
        except SoftDeleteError as exc:
            flash(str(exc), "error")
        else:
            flash(f"{attachment.filename} moved to the trash.", "success")
    return redirect(url_for("projects.detail", project_id=project.id) + "#attachments")


@bp.route("/<uuid:project_id>/attachments/<int:attachment_id>/restore", methods=["POST"])
@login_required
def attachment_restore(project_id: uuid.UUID, attachment_id: int):
    project = _project_or_404(project_id)
    attachment = get_or_404(ProjectAttachment, attachment_id, include_deleted=True)
    if attachment.project_id != project.id:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            services.attachment_restore(attachment=attachment, user=current_user)
        except SoftDeleteError as exc:
            flash(str(exc), "error")
        else:
            flash(f"{attachment.filename} restored.", "success")
    return redirect(url_for("projects.detail", project_id=project.id) + "#attachments")


# --------------------------------------------------------------------------- generation
def _answers_from(source) -> dict:
    return {k[4:]: v for k, v in source.items() if k.startswith("ans_")}


@bp.route("/<uuid:project_id>/generate", methods=["GET", "POST"])
@login_required
@idempotent("projects.detail")
def generate(project_id: uuid.UUID):
    """Choose a template and answer its questions. GET with ?template=&ans_x= is the share link."""
    project = _project_or_404(project_id)
    confirm = ConfirmForm()
    catalogue = services.template_catalogue(organization_id=project.organization_id, project=project)
    source = request.form if request.method == "POST" else request.args
    key = source.get("template") or (catalogue[0]["key"] if catalogue else "")
    previous = None
    if source.get("previous"):
        previous = _generation_or_404(project, source.get("previous"))
    errors: dict[str, str] = {}
    form_errors: list[str] = []
    try:
        spec = services.template_resolve(organization_id=project.organization_id, key=key)
    except (services.ProjectError, templating.TemplateRefused) as exc:
        spec, form_errors = None, [str(exc)]
    answers = _answers_from(source)
    if request.method == "POST" and spec is not None and confirm.validate_on_submit():
        try:
            row = services.generation_start(project=project, user=current_user, template_key=key,
                                            raw_answers=answers, previous=previous)
        except services.AnswersInvalid as exc:
            errors = exc.errors
        except (services.ProjectError, templating.TemplateRefused) as exc:
            form_errors = [str(exc)]
        else:
            flash("Generation queued.", "success")
            return redirect(url_for("projects.generation_detail", project_id=project.id, generation_id=row.id))
    questions = services.generation_questions(project=project, spec=spec) if spec is not None else []
    values = {}
    for q in questions:
        given = request.method == "POST" or q.name in answers
        if q.kind == "bool":  # an unchecked box sends nothing; share links say "n"
            values[q.name] = answers.get(q.name) in ("y", "on", "true", "1") if given else bool(q.default)
        else:
            values[q.name] = answers.get(q.name, q.default) if given else q.default
    context = dict(project=project, catalogue=catalogue, key=key, spec=spec, questions=questions, values=values,
                   errors=errors, form_errors=form_errors, previous=previous, confirm=confirm)
    status = 422 if request.method == "POST" else 200
    if is_htmx() and request.method == "GET":
        return render_template("projects/_questions.html", **context)
    return render_template("projects/generate.html", **context), status


def _option_params(generation: GeneratedProject) -> dict:
    return {f"ans_{name}": ("y" if value else "n") if isinstance(value, bool) else value
            for name, value in (generation.options or {}).items()}


def share_url(generation: GeneratedProject) -> str:
    params = {"template": generation.template_key}
    params.update(_option_params(generation))
    return url_for("projects.generate", project_id=generation.project_id, _external=True) + "?" + urlencode(params)


@bp.route("/<uuid:project_id>/generations/<uuid:generation_id>")
@login_required
def generation_detail(project_id: uuid.UUID, generation_id: uuid.UUID):
    project = _project_or_404(project_id)
    generation = _generation_or_404(project, generation_id)
    exports = db.session.scalars(scoped(RepositoryExport).where(
        RepositoryExport.generated_project_id == generation.id).order_by(RepositoryExport.created_at.desc())).all()
    form = ExportForm(formdata=None)
    return _render_generation(project, generation, form, exports)


def _render_generation(project, generation, form, exports, status: int = 200):
    return render_template(
        "projects/generation.html", project=project, generation=generation, kind=kind_of(generation),
        tree=services.file_tree(generation.files) if generation.is_usable else [],
        diff=services.generation_diff(generation) if generation.is_usable else None,
        exports=exports, export_form=form, share=share_url(generation), confirm=ConfirmForm(formdata=None),
        regenerate_url=url_for("projects.generate", project_id=project.id, template=generation.template_key,
                               previous=generation.id, **_option_params(generation)),
    ), status


@bp.route("/<uuid:project_id>/generations/<uuid:generation_id>/diff")
@login_required
def generation_diff(project_id: uuid.UUID, generation_id: uuid.UUID):
    """This generation's files against another of the project's (by default the one it regenerated), line by line."""
    project = _project_or_404(project_id)
    generation = _generation_or_404(project, generation_id)
    others = [g for g in db.session.scalars(
        scoped(GeneratedProject).where(GeneratedProject.project_id == project.id, GeneratedProject.id != generation.id)
        .order_by(GeneratedProject.created_at.desc(), GeneratedProject.id.desc()).limit(50)) if g.is_usable]
    against_id = parse_uuid(request.args.get("against")) or generation.previous_id or (others[0].id if others else None)
    against = _generation_or_404(project, against_id) if against_id else None
    if against is not None and not (against.is_usable and generation.is_usable):
        abort(404)
    diffs = services.generation_content_diff(old=against, new=generation) if against is not None else []
    return render_template("projects/diff.html", project=project, generation=generation, against=against,
                           others=others, diffs=diffs)


@bp.route("/<uuid:project_id>/generations/<uuid:generation_id>/files/<uuid:file_id>")
@login_required
def file_view(project_id: uuid.UUID, file_id: uuid.UUID, generation_id: uuid.UUID):
    project = _project_or_404(project_id)
    generation = _generation_or_404(project, generation_id)
    file = db.session.get(ProjectFile, file_id)
    if file is None or file.generated_project_id != generation.id:
        abort(404)
    content = services.file_content(file)
    text = None
    if file.file_type != "binary" and len(content) <= 1 << 20:
        text = content.decode("utf-8", "replace")
    if request.args.get("raw") == "1":
        return send_download(content, filename=file.file_name,
                             mimetype="text/plain; charset=utf-8" if text is not None else "application/octet-stream")
    context = dict(project=project, generation=generation, file=file, text=text,
                   tree=services.file_tree(generation.files))
    if is_htmx():
        return render_template("projects/_file_view.html", **context)
    return render_template("projects/file.html", **context)


@bp.route("/<uuid:project_id>/generations/<uuid:generation_id>/manifest.json")
@login_required
def manifest(project_id: uuid.UUID, generation_id: uuid.UUID):
    project = _project_or_404(project_id)
    generation = _generation_or_404(project, generation_id)
    if not generation.is_usable:
        abort(404)
    body = {"project": project.name, "generation": str(generation.id), "template": generation.template_key,
            "options": generation.options,
            "files": [{"path": f.file_path, "size": f.file_size, "sha256": f.content_hash,
                       "mode": "0755" if f.is_executable else "0644", "type": f.file_type} for f in generation.files]}
    return send_download(json.dumps(body, indent=2, sort_keys=True).encode("utf-8"),
                         filename=f"manifest-{generation.id}.json", mimetype="application/json")


@bp.route("/<uuid:project_id>/generations/<uuid:generation_id>/archive", methods=["POST"])
@login_required
def generation_archive(project_id: uuid.UUID, generation_id: uuid.UUID):
    project = _project_or_404(project_id)
    generation = _generation_or_404(project, generation_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.generation_archive(generation=generation, archived=request.form.get("archived") == "1")
        except services.ProjectError as exc:
            flash(str(exc), "error")
        else:
            flash("Generation archived." if generation.is_archived else "Generation restored.", "success")
    return redirect(url_for("projects.generation_detail", project_id=project.id, generation_id=generation.id))


@bp.route("/<uuid:project_id>/generations/<uuid:generation_id>/exports", methods=["POST"])
@login_required
@idempotent(lambda project_id, generation_id: url_for("projects.detail", project_id=project_id))
def export_create(project_id: uuid.UUID, generation_id: uuid.UUID):
    project = _project_or_404(project_id)
    generation = _generation_or_404(project, generation_id)
    form = ExportForm()
    if form.validate_on_submit():
        try:
            row = services.export_start(generation=generation, user=current_user, export_type=form.export_type.data,
                                        include_git=form.include_git.data, repository_url=form.repository_url.data or "",
                                        branch=form.branch.data or "main", username=form.username.data or "",
                                        token=form.token.data or "")
        except (services.ProjectError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            if is_htmx():
                return render_template("platform/_job_status.html", job=row, kind=kind_of(row))
            flash("Export queued." if row.export_type in EXPORT_ARCHIVES else "Push queued.", "success")
            return redirect(url_for("projects.generation_detail", project_id=project.id, generation_id=generation.id)
                            + "#exports")
    exports = db.session.scalars(scoped(RepositoryExport).where(
        RepositoryExport.generated_project_id == generation.id).order_by(RepositoryExport.created_at.desc())).all()
    form.token.data = ""  # never echo a token back
    return _render_generation(project, generation, form, exports, status=422)


@bp.route("/exports/<uuid:export_id>/download")
@login_required
def export_download(export_id: uuid.UUID):
    export = get_or_404(RepositoryExport, export_id)
    if export.generated_project.project.owner_id != current_user.id or not export.is_archive:
        abort(404)
    try:
        path = services.export_file(export=export, token=request.args.get("token", ""), user=current_user)
    except services.ProjectError as exc:
        return render_template("errors/error.html", status=410, title="Download unavailable", message=str(exc)), 410
    mimetype = {"zip": "application/zip", "tar": "application/x-tar", "tar.gz": "application/gzip"}[export.export_type]
    return send_download(path, filename=export.download_name, mimetype=mimetype, fallback="export")


# --------------------------------------------------------------------------- templates and settings
@bp.route("/templates", methods=["GET", "POST"])
@login_required
def templates():
    form = TemplateUploadForm()
    can_manage = current_user.role in TEMPLATE_MANAGERS
    status = 200
    if request.method == "POST":
        if not can_manage:
            abort(403)
        if form.validate_on_submit():
            upload = form.file.data
            if not upload or not getattr(upload, "filename", ""):
                form.file.errors = ["Choose a .zip file."]
            else:
                data = upload.stream.read(services.MAX_TEMPLATE_UPLOAD_BYTES + 1)
                try:
                    row = services.template_upload(organization_id=current_user.organization_id, user=current_user,
                                                   name=form.name.data or "", filename=upload.filename, data=data)
                except (services.ProjectError, ModelValidationError) as exc:
                    db.session.rollback()
                    _form_failed(form, exc)
                else:
                    flash(f"Template “{row.name}” added: {row.total_files} files.", "success")
                    return redirect(url_for("projects.templates"))
        status = 422
    builtins = list(templating.BUILTIN_TEMPLATES.values())
    page = paginate(scoped(ProjectTemplate).order_by(ProjectTemplate.name))
    return render_template("projects/templates.html", form=form, builtins=builtins, page=page,
                           can_manage=can_manage, confirm=ConfirmForm(formdata=None),
                           limits=templating), status


@bp.route("/templates/<int:template_id>/delete", methods=["POST"])
@roles_required(*TEMPLATE_MANAGERS)
def template_remove(template_id: int):
    template = get_or_404(ProjectTemplate, template_id)
    if ConfirmForm().validate_on_submit():
        services.template_delete(template=template)
        flash("Template deleted. Generations made with it keep their files.", "success")
    return redirect(url_for("projects.templates"))


@bp.route("/settings")
@roles_required("admin")
def settings():
    tasks = db.session.scalars(scoped(BackgroundTask).where(BackgroundTask.kind == "projects-drafts-cleanup")
                               .order_by(BackgroundTask.created_at.desc()).limit(5)).all()
    return render_template("projects/settings.html", confirm=ConfirmForm(formdata=None), tasks=tasks,
                           kind_of=kind_of, private_remotes=services.allow_private_remotes(),
                           draft_hours=services.current_app.config.get("PROJECTS_DRAFT_MAX_AGE_HOURS", 24 * 14))


@bp.route("/settings/cleanup", methods=["POST"])
@roles_required("admin")
def cleanup_now():
    if ConfirmForm().validate_on_submit():
        job_submit(BackgroundTask(organization_id=current_user.organization_id, kind="projects-drafts-cleanup",
                                  title="Clean up abandoned drafts", requested_by_id=current_user.id))
        flash("Drafts cleanup queued.", "success")
    return redirect(url_for("projects.settings"))


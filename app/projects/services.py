"""Projects services: every write owns its transaction; jobs call the `*_run` functions with loaded rows."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import mimetypes
import re
import secrets
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.platform import storage, textsearch
from app.platform.jobs import JobError, job_submit
from app.platform.models import utcnow
from app.projects import archives, gitops, search, templating
from app.projects.models import (
    EXPORT_ARCHIVES,
    EXPORT_GIT,
    SCHOOL,
    SCHOOL_FIELDS,
    SELF_STUDY,
    SELF_STUDY_FIELDS,
    GeneratedProject,
    ImportantDate,
    Project,
    ProjectAttachment,
    ProjectFile,
    ProjectMeta,
    ProjectTemplate,
    RepositoryExport,
    SchoolProject,
    SelfStudyProject,
    WorkflowExecution,
)

log = logging.getLogger("cairn.projects")

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_TEMPLATE_UPLOAD_BYTES = 10 * 1024 * 1024


class ProjectError(ValueError):
    """A refusal the user can act on; `field` names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AnswersInvalid(ProjectError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Some answers need fixing.")
        self.errors = errors


def _commit() -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _clean(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


# --------------------------------------------------------------------------- projects
def project_create(*, owner, project_type: str, name: str, description: str = "", start_date: date | None = None,
                   end_date: date | None = None, publish: bool = False, **type_fields: Any) -> Project:
    """Create a school or self-study project (a draft unless `publish`)."""
    model = {SCHOOL: SchoolProject, SELF_STUDY: SelfStudyProject}.get(project_type)
    if model is None:
        raise ProjectError("Choose a project type: school or self-study.", "project_type")
    own = SCHOOL_FIELDS if project_type == SCHOOL else SELF_STUDY_FIELDS
    project = model(organization_id=owner.organization_id, owner_id=owner.id, name=_clean(name) or "",
                    description=_clean(description) or "", start_date=start_date, end_date=end_date,
                    **{f: _clean(type_fields.get(f)) or None for f in own})
    if publish:
        project.is_draft = False
        project.published_at = utcnow()
    db.session.add(project)
    _commit()
    return project


def project_update(*, project: Project, name: str, description: str = "", start_date: date | None = None,
                   end_date: date | None = None, **type_fields: Any) -> Project:
    project.name = _clean(name) or ""
    project.description = _clean(description) or ""
    project.start_date, project.end_date = start_date, end_date
    own = SCHOOL_FIELDS if project.project_type == SCHOOL else SELF_STUDY_FIELDS
    for field in own:
        setattr(project, field, _clean(type_fields.get(field)) or None)
    _commit()
    return project


def project_publish(*, project: Project) -> Project:
    if not project.is_draft:
        raise ProjectError("This project is already published.")
    project.is_draft = False
    project.published_at = utcnow()
    _commit()
    return project


def project_delete(*, project: Project) -> None:
    """Delete a project. Active attachments PROTECT it: remove them first (they go to the trash)."""
    active = db.session.scalar(sa.select(sa.func.count()).select_from(ProjectAttachment).where(
        ProjectAttachment.project_id == project.id, ProjectAttachment.is_active.is_(True)))
    if active:
        raise ProjectError(f"This project has {active} attachment{'s' if active != 1 else ''}. Delete "
                           f"{'them' if active != 1 else 'it'} first: attachments protect their project.")
    paths = _stored_paths_of([project.id])
    db.session.execute(sa.delete(ProjectAttachment).where(ProjectAttachment.project_id == project.id,
                                                          ProjectAttachment.is_active.is_(False)))
    db.session.delete(project)
    _commit()
    _remove_files(paths)


def _stored_paths_of(project_ids: list[int]) -> list[str]:
    if not project_ids:
        return []
    paths = list(db.session.scalars(sa.select(ProjectAttachment.storage_path).where(
        ProjectAttachment.project_id.in_(project_ids), ProjectAttachment.is_active.is_(False))))
    paths += list(db.session.scalars(sa.select(RepositoryExport.archive_path).join(GeneratedProject).where(
        GeneratedProject.project_id.in_(project_ids), RepositoryExport.archive_path != "")))
    return paths


def _remove_files(paths: list[str]) -> None:
    for path in paths:
        try:
            storage.delete(path)
        except storage.StorageError:
            log.warning("could not remove stored file %s", path)


def projects_query(*, organization_id: int, owner_id: int, project_type: str | None = None,
                   drafts: bool | None = None, q: str = "") -> sa.Select:
    """The user's projects, newest first; `q` searches the words of name, course name and goal.

    On PostgreSQL `q` is a full-text search (projects/search.py: the last word is a
    prefix, results best match first, then newest); on SQLite the same words match
    the same projects, newest first. Any input is safe (punctuation is a separator).
    """
    stmt = sa.select(Project).where(Project.organization_id == organization_id, Project.owner_id == owner_id)
    if project_type:
        stmt = stmt.where(Project.project_type == project_type)
    if drafts is not None:
        stmt = stmt.where(Project.is_draft.is_(drafts))
    q = (q or "").strip()
    newest = (Project.created_at.desc(), Project.id.desc())
    if not q:
        return stmt.order_by(*newest)
    condition, rank = search.condition_and_rank(Project.search_vector, q, db.engine.dialect.name)
    stmt = stmt.where(condition)
    return stmt.order_by(rank.desc(), *newest) if rank is not None else stmt.order_by(*newest)


def projects_query_substring(*, organization_id: int, owner_id: int, q: str) -> sa.Select:
    """The search this replaced (ILIKE '%q%' on the three columns): bench/projects_search.py's baseline."""
    return sa.select(Project).where(
        Project.organization_id == organization_id, Project.owner_id == owner_id,
        textsearch.contains_any([Project.name, SchoolProject.course_name, SelfStudyProject.goal_description],
                                q, max_length=100)).order_by(Project.created_at.desc(), Project.id.desc())


# --------------------------------------------------------------------------- metadata and dates
def parse_meta_value(raw: str) -> Any:
    """JSON when it parses (numbers, lists, objects, true/false), else the text itself."""
    raw = (raw or "").strip()
    try:  # NaN, Infinity and 1e999 are text here: JSON columns (and PostgreSQL) hold finite numbers only
        return json.loads(raw, parse_constant=_not_json, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return raw


def _not_json(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def meta_set(*, project: Project, key: str, raw_value: str) -> ProjectMeta:
    key = (key or "").strip()
    row = db.session.scalars(sa.select(ProjectMeta).where(ProjectMeta.project_id == project.id,
                                                          ProjectMeta.key == key)).first()
    if row is None:
        row = ProjectMeta(project=project, key=key)
        db.session.add(row)
    row.value = parse_meta_value(raw_value)
    project.updated_at = utcnow()
    _commit()
    return row


def meta_delete(*, project: Project, meta_id: int) -> None:
    row = db.session.scalars(sa.select(ProjectMeta).where(ProjectMeta.project_id == project.id,
                                                          ProjectMeta.id == meta_id)).first()
    if row is None:
        raise ProjectError("That metadata entry no longer exists.")
    db.session.delete(row)
    _commit()


def date_add(*, project: Project, kind: str, title: str, on: date | None, notes: str = "") -> ImportantDate:
    row = ImportantDate(project=project, kind=kind, title=_clean(title) or "", date=on, notes=_clean(notes) or "")
    db.session.add(row)
    project.updated_at = utcnow()
    _commit()
    return row


def date_delete(*, project: Project, date_id: int) -> None:
    row = db.session.scalars(sa.select(ImportantDate).where(ImportantDate.project_id == project.id,
                                                            ImportantDate.id == date_id)).first()
    if row is None:
        raise ProjectError("That date no longer exists.")
    db.session.delete(row)
    _commit()


_ICS_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _ics_text(text: str) -> str:
    """An RFC 5545 TEXT value: CRLF, CR and LF become the escaped newline \\n (a raw CR makes strict parsers
    reject the whole calendar); other control characters, which TEXT cannot hold, are dropped (tab stays)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ICS_CONTROL.sub("", text.replace("\\", "\\\\").replace(";", r"\;").replace(",", r"\,"))
    return text.replace("\n", r"\n")


def _ics_fold(line: str) -> str:
    """RFC 5545: lines longer than 75 octets continue on the next line after a space."""
    data, parts = line.encode("utf-8"), []
    while len(data) > 75:
        cut = 75
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # don't split a UTF-8 character
            cut -= 1
        parts.append(data[:cut].decode("utf-8"))
        data = b" " + data[cut:]
    parts.append(data.decode("utf-8"))
    return "\r\n".join(parts)


def calendar_ics(project: Project) -> str:
    """The project's important dates as an iCalendar file (all-day events).

    Each event's UID is the project's UUID and the date's id: globally unique and the same on every download,
    whatever host name the file was fetched through, so a calendar that imports it again updates its events
    instead of adding copies (it was `@<request host>`: a new UID per host name, and `@[` over IPv6)."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Cairn//Projects//EN", "CALSCALE:GREGORIAN",
             f"X-WR-CALNAME:{_ics_text(project.name)}"]
    for d in project.important_dates:
        lines += ["BEGIN:VEVENT", f"UID:project-{project.id}-date-{d.id}@cairn", f"DTSTAMP:{stamp}",
                  f"DTSTART;VALUE=DATE:{d.date:%Y%m%d}", f"DTEND;VALUE=DATE:{d.date + timedelta(days=1):%Y%m%d}",
                  f"SUMMARY:{_ics_text(f'{d.kind.capitalize()}: {d.title} ({project.name})')}",
                  f"CATEGORIES:{d.kind.upper()}"]
        if d.notes:
            lines.append(f"DESCRIPTION:{_ics_text(d.notes)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(_ics_fold(line) for line in lines) + "\r\n"


# --------------------------------------------------------------------------- attachments
def attachment_add(*, project: Project, user, filename: str, stream, content_type: str = "") -> ProjectAttachment:
    name = Path((filename or "").replace("\\", "/")).name.strip()[:255]
    if not name:
        raise ProjectError("Choose a file to attach.", "file")
    relative = f"projects/{project.organization_id}/attachments/{project.id}/{secrets.token_hex(12)}"
    digest, size = hashlib.sha256(), 0
    try:
        with storage.atomic_write(relative) as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > MAX_ATTACHMENT_BYTES:
                    raise ProjectError("Attachments are limited to 20 MB.", "file")
                digest.update(chunk)
                out.write(chunk)
    except storage.StorageFull as exc:  # refused at the field, not a 500; the partial file is gone
        raise ProjectError(str(exc), "file") from None
    row = ProjectAttachment(organization_id=project.organization_id, project=project, filename=name,
                            storage_path=relative, size=size, sha256=digest.hexdigest(), uploaded_by_id=user.id,
                            content_type=(content_type or mimetypes.guess_type(name)[0] or
                                          "application/octet-stream")[:120])
    db.session.add(row)
    try:
        _commit()
    except BaseException:
        storage.delete(relative)
        raise
    return row


def attachment_delete(*, attachment: ProjectAttachment, user) -> None:
    attachment.soft_delete(user=user, reason="Removed from the project page")
    _commit()


def attachment_restore(*, attachment: ProjectAttachment, user) -> None:
    attachment.restore(user=user)
    _commit()


# --------------------------------------------------------------------------- templates
def template_catalogue(*, organization_id: int, project: Project | None = None) -> list[dict]:
    """Built-in templates suited to the project type first, then the organization's uploads."""
    out = []
    for spec in templating.BUILTIN_TEMPLATES.values():
        if project is None or project.project_type in spec.for_types:
            out.append({"key": spec.key, "name": spec.name, "description": spec.description, "builtin": True})
    for row in db.session.scalars(sa.select(ProjectTemplate).where(
            ProjectTemplate.organization_id == organization_id).order_by(ProjectTemplate.name)):
        out.append({"key": f"org-{row.id}", "name": row.name, "description": row.description, "builtin": False})
    return out


def template_resolve(*, organization_id: int, key: str) -> templating.TemplateSpec:
    spec = templating.BUILTIN_TEMPLATES.get(key)
    if spec is not None:
        return spec
    match = re.fullmatch(r"org-(\d+)", key or "")
    row = db.session.get(ProjectTemplate, int(match.group(1))) if match else None
    if row is None or row.organization_id != organization_id:
        raise ProjectError("Choose one of the templates listed.", "template")
    with open(storage.resolve(row.storage_path), "rb") as handle:
        checked = templating.check_template_zip(handle.read())
    return templating.TemplateSpec(key=key, name=row.name, description=row.description,
                                   questions=[templating.Question.from_dict(q) for q in row.questions],
                                   files=checked.files)


def template_upload(*, organization_id: int, user, name: str, filename: str, data: bytes) -> ProjectTemplate:
    if len(data) > MAX_TEMPLATE_UPLOAD_BYTES:
        raise ProjectError("Template uploads are limited to 10 MB.", "file")
    try:
        checked = templating.check_template_zip(data)
    except templating.TemplateRefused as exc:
        raise ProjectError(str(exc), "file") from None
    title = (name or "").strip() or checked.name or Path(filename or "template").stem
    slug = archives.slug_for(title, "template")
    base, n = slug, 2
    while db.session.scalar(sa.select(ProjectTemplate.id).where(ProjectTemplate.organization_id == organization_id,
                                                                 ProjectTemplate.slug == slug)):
        slug, n = f"{base}-{n}", n + 1
    relative = f"projects/{organization_id}/templates/{secrets.token_hex(12)}.zip"
    try:
        with storage.atomic_write(relative) as out:
            out.write(data)
    except storage.StorageFull as exc:
        raise ProjectError(str(exc), "file") from None
    row = ProjectTemplate(organization_id=organization_id, name=title[:200], slug=slug,
                          description=checked.description, questions=[q.to_dict() for q in checked.questions],
                          storage_path=relative, total_files=len(checked.files), total_size=checked.total_size,
                          uploaded_by_id=user.id)
    db.session.add(row)
    try:
        _commit()
    except BaseException:
        storage.delete(relative)
        raise
    return row


def template_delete(*, template: ProjectTemplate) -> None:
    path = template.storage_path
    db.session.delete(template)
    _commit()
    _remove_files([path])


# --------------------------------------------------------------------------- generation
def generation_questions(*, project: Project, spec: templating.TemplateSpec) -> list[templating.Question]:
    owner = project.owner.full_name or project.owner.email if project.owner else ""
    return templating.render_defaults(spec.questions, templating.project_context(project, owner))


def generation_start(*, project: Project, user, template_key: str, raw_answers: dict,
                     previous: GeneratedProject | None = None) -> GeneratedProject:
    """Check the answers and queue a generation (a job). Refusals raise AnswersInvalid with per-question messages."""
    spec = template_resolve(organization_id=project.organization_id, key=template_key)
    answers, errors = templating.clean_answers(generation_questions(project=project, spec=spec), raw_answers)
    if errors:
        raise AnswersInvalid(errors)
    row = GeneratedProject(organization_id=project.organization_id, project=project, template_key=spec.key,
                           template_name=spec.name, options=answers, created_by_id=user.id,
                           status=GeneratedProject.STATUS_NAMES["queued"],
                           previous_id=previous.id if previous is not None else None)
    db.session.add(row)
    db.session.flush()
    row.output_directory = f"projects/{project.organization_id}/generated/{row.id}"
    return job_submit(row)


def blob_path(organization_id: int, sha256: str) -> str:
    return f"projects/{organization_id}/blobs/{sha256[:2]}/{sha256}"


FILE_TYPES = {".py": "python", ".md": "markdown", ".toml": "toml", ".json": "json", ".sh": "shell",
              ".txt": "text", ".yml": "yaml", ".yaml": "yaml", ".html": "html", ".css": "css", ".js": "javascript",
              ".tex": "latex", ".csv": "csv", ".ipynb": "notebook", ".cfg": "config", ".ini": "config"}


def file_type_of(path: str, content: bytes) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in FILE_TYPES:
        return FILE_TYPES[suffix]
    if b"\x00" in content[:4096]:
        return "binary"
    return "text"


def _preview(content: bytes) -> str:
    if b"\x00" in content[:4096]:
        return ""
    return content[:4000].decode("utf-8", "replace")[:1000]


def generation_run(row: GeneratedProject, progress) -> None:
    """The job: render the template, store each file once (by hash), record files and the manifest."""
    execution = WorkflowExecution(organization_id=row.organization_id, project_id=row.project_id,
                                  workflow="generate", status="running", started_at=utcnow())
    db.session.add(execution)
    row.workflow_execution = execution
    db.session.commit()
    try:
        project = row.project
        spec = template_resolve(organization_id=row.organization_id, key=row.template_key)
        execution.step("load template", detail=f"{spec.name}: {len(spec.files)} file templates")
        owner = project.owner.full_name or project.owner.email if project.owner else ""
        context = templating.project_context(project, owner)
        context["answers"] = dict(row.options)
        rendered = templating.render_files(spec.files, context)
        execution.step("render", detail=f"{len(rendered)} files")
        progress(40, f"Rendered {len(rendered)} files")
        db.session.execute(sa.delete(ProjectFile).where(ProjectFile.generated_project_id == row.id))  # a retry
        total = 0
        for item in rendered:
            digest = hashlib.sha256(item.content).hexdigest()
            blob = blob_path(row.organization_id, digest)
            if not storage.resolve(blob).exists():
                with storage.atomic_write(blob) as out:
                    out.write(item.content)
            db.session.add(ProjectFile(generated_project_id=row.id, file_path=item.path,
                                       file_name=item.path.rsplit("/", 1)[-1], file_size=len(item.content),
                                       file_type=file_type_of(item.path, item.content), content_hash=digest,
                                       content_preview=_preview(item.content), is_executable=item.executable))
            total += len(item.content)
        manifest = [{"path": i.path, "size": len(i.content), "sha256": hashlib.sha256(i.content).hexdigest(),
                     "mode": "0755" if i.executable else "0644"} for i in rendered]
        with storage.atomic_write(f"{row.output_directory}/manifest.json") as out:
            out.write(json.dumps({"generation": str(row.id), "template": spec.key, "options": row.options,
                                  "files": manifest}, indent=2, sort_keys=True).encode())
        row.total_files, row.total_size, row.completed_at = len(rendered), total, utcnow()
        execution.step("store files", detail=f"{len(rendered)} files, {total} bytes")
        execution.status, execution.finished_at = "completed", utcnow()
        db.session.flush()
    except templating.TemplateRefused as exc:
        _fail_execution(execution.id, str(exc))
        raise JobError(str(exc)) from None
    except ProjectError as exc:
        _fail_execution(execution.id, str(exc))
        raise JobError(str(exc)) from None
    except Exception as exc:
        _fail_execution(execution.id, f"{type(exc).__name__}: {exc}")
        raise


def _fail_execution(execution_id: int, message: str) -> None:
    db.session.rollback()
    execution = db.session.get(WorkflowExecution, execution_id)
    if execution is not None:
        execution.step("failed", status="failed", detail=message[:500])
        execution.status, execution.finished_at = "failed", utcnow()
        db.session.commit()


def generation_diff(row: GeneratedProject) -> dict[str, list[str]] | None:
    """Files added, removed, changed and unchanged since the generation this one regenerated."""
    if row.previous_id is None:
        return None
    old = dict(db.session.execute(sa.select(ProjectFile.file_path, ProjectFile.content_hash).where(
        ProjectFile.generated_project_id == row.previous_id)).all())
    new = {f.file_path: f.content_hash for f in row.files}
    return {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
            "changed": sorted(p for p in set(new) & set(old) if new[p] != old[p]),
            "unchanged": sorted(p for p in set(new) & set(old) if new[p] == old[p])}


def generation_content_diff(*, old: GeneratedProject, new: GeneratedProject) -> list:
    """What changed from `old` to `new`, line by line (app.projects.diffing); unchanged files are not read."""
    from app.projects.diffing import generations_diff

    def files_of(row: GeneratedProject) -> dict:
        return {f.file_path: (f.content_hash, lambda f=f: file_content(f)) for f in row.files}

    return generations_diff(files_of(old), files_of(new))


def generation_archive(*, generation: GeneratedProject, archived: bool) -> None:
    completed = GeneratedProject.STATUS_NAMES["succeeded"]
    if archived and generation.status != completed:
        raise ProjectError("Only a completed generation can be archived.")
    if not archived and generation.status != GeneratedProject.ARCHIVED:
        raise ProjectError("This generation is not archived.")
    generation.status = GeneratedProject.ARCHIVED if archived else completed
    _commit()


def file_content(file: ProjectFile) -> bytes:
    with open(storage.resolve(blob_path(file.generated_project.organization_id, file.content_hash)), "rb") as h:
        return h.read()


def file_tree(files: list[ProjectFile]) -> list[dict]:
    """Rows for the Explore tree: directories once, then their files, depth for indentation."""
    rows, seen = [], set()
    for f in sorted(files, key=lambda f: f.file_path.split("/")):
        parts = f.file_path.split("/")
        for depth in range(len(parts) - 1):
            directory = "/".join(parts[: depth + 1])
            if directory not in seen:
                seen.add(directory)
                rows.append({"dir": True, "name": parts[depth], "depth": depth, "path": directory})
        rows.append({"dir": False, "name": parts[-1], "depth": len(parts) - 1, "file": f})
    return rows


# --------------------------------------------------------------------------- exports
def allow_private_remotes() -> bool:
    """The operator's GIT_ALLOW_PRIVATE_REMOTES (environment), never an organization's setting."""
    return gitops.private_remotes_allowed()


def export_start(*, generation: GeneratedProject, user, export_type: str, include_git: bool = False,
                 repository_url: str = "", branch: str = "main", username: str = "", token: str = "") -> RepositoryExport:
    if not generation.is_usable:
        raise ProjectError("Only a completed generation can be exported.")
    if export_type not in EXPORT_ARCHIVES + EXPORT_GIT:
        raise ProjectError("Choose an export type.", "export_type")
    config: dict[str, Any] = {}
    if export_type in EXPORT_GIT:
        try:
            remote = gitops.check_remote_url(repository_url, allow_private=allow_private_remotes())
        except gitops.RemoteRefused as exc:
            raise ProjectError(str(exc), "repository_url") from None
        branch = (branch or "main").strip()
        if not gitops.BRANCH_PATTERN.fullmatch(branch) or ".." in branch:
            raise ProjectError("Branch: letters, digits, '.', '_', '-' and '/' only.", "branch")
        config = {"branch": branch, "username": (username or "").strip()[:100], "host": remote.host}
    row = RepositoryExport(organization_id=generation.organization_id, generated_project=generation,
                           export_type=export_type, include_git=bool(include_git) or export_type in EXPORT_GIT,
                           repository_url=(repository_url or "").strip() if export_type in EXPORT_GIT else "",
                           repository_name=_repo_name(repository_url) if export_type in EXPORT_GIT else "",
                           config=config, credential=seal_token(token) if export_type in EXPORT_GIT else "",
                           created_by_id=user.id)
    db.session.add(row)
    return job_submit(row)


def _fernet():
    """Fernet (AES-128-CBC + HMAC) keyed from SECRET_KEY: push tokens are encrypted at rest."""
    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"cairn-projects-push-token:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_token(token: str) -> str:
    token = (token or "").strip()
    return _fernet().encrypt(token.encode()).decode() if token else ""


def open_token(sealed: str) -> str:
    from cryptography.fernet import InvalidToken

    if not sealed:
        return ""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise JobError("The saved token can't be read any more (the server's secret key changed). "
                       "Start a new export with the token.") from None


def _repo_name(url: str) -> str:
    tail = re.split(r"[/:]", (url or "").rstrip("/"))[-1]
    return tail[:-4] if tail.endswith(".git") else tail


def _entries(generation: GeneratedProject) -> list[archives.Entry]:
    org = generation.organization_id

    def opener(sha: str):
        return lambda: open(storage.resolve(blob_path(org, sha)), "rb")

    return [archives.Entry(path=f.file_path, executable=f.is_executable, open=opener(f.content_hash), size=f.file_size)
            for f in generation.files]


def _author(user, generation: GeneratedProject) -> str:
    person = user or generation.created_by or generation.project.owner
    email = re.sub(r"[<>\s]", "", person.email) if person else "cairn@localhost"
    # git needs a name: one of only spaces or of only '<>' would leave the author line blank.
    name = " ".join(re.sub(r"[<>]", "", person.full_name or "").split()) if person else ""
    return f"{name or email.split('@')[0] or 'Cairn'} <{email}>"


def _git_files(generation: GeneratedProject) -> list[tuple[str, bytes, bool]]:
    return [(f.file_path, file_content(f), f.is_executable) for f in generation.files]


def _commit_time(generation: GeneratedProject) -> int:
    return int((generation.completed_at or generation.created_at).timestamp())


def export_run(row: RepositoryExport, progress) -> None:
    """The job: build the archive atomically, or push a one-commit repository."""
    generation = row.generated_project
    progress(10, "Collecting files")
    if row.export_type in EXPORT_GIT:
        _export_push(row, generation, progress)
        return
    prefix = archives.slug_for(generation.project.name) + "/"
    entries = _entries(generation)
    workdir = None
    try:
        if row.include_git:
            workdir = storage.new_work_dir("cairn-git-")  # under STORAGE_DIR; the hourly sweep takes a kill's
            gitops.build_repository(workdir, _git_files(generation), author=_author(row.created_by, generation),
                                    message=f"Generate {generation.project.name}", timestamp=_commit_time(generation))
            for path in sorted(p for p in (workdir / ".git").rglob("*") if p.is_file()):
                relative = path.relative_to(workdir).as_posix()
                entries.append(archives.Entry(path=relative, executable=False, open=lambda p=path: open(p, "rb"),
                                              size=path.stat().st_size))
        relative = f"projects/{row.organization_id}/exports/{row.id}.{row.export_type}"
        with storage.atomic_write(relative) as out:
            if row.export_type == "zip":
                archives.write_zip(out, entries, prefix=prefix)
            else:
                archives.write_tar(out, entries, prefix=prefix, compress=row.export_type == "tar.gz")
    finally:
        if workdir is not None:
            storage.remove_work_dir(workdir)
    stored = storage.describe(relative)
    row.archive_path, row.archive_size, row.archive_sha256 = relative, stored.size, stored.sha256
    row.completed_at = utcnow()
    progress(90, f"Archive written ({stored.size} bytes)")


def _export_push(row: RepositoryExport, generation: GeneratedProject, progress) -> None:
    try:  # checked again here, resolved once: the push connects to exactly this address
        remote = gitops.check_remote_url(row.repository_url, allow_private=allow_private_remotes())
    except gitops.RemoteRefused as exc:
        raise JobError(str(exc)) from None
    workdir = storage.new_work_dir("cairn-push-")
    try:
        branch = row.config.get("branch", "main")
        gitops.build_repository(workdir, _git_files(generation), author=_author(row.created_by, generation),
                                message=f"Generate {generation.project.name}", timestamp=_commit_time(generation),
                                branch=branch)
        progress(50, "Pushing")
        try:
            gitops.push(workdir, remote, branch=branch, username=row.config.get("username", ""),
                        password=open_token(row.credential))
        except gitops.PushFailed as exc:
            raise JobError(str(exc)) from None
    finally:
        storage.remove_work_dir(workdir)
    row.credential = ""  # the token is only kept for a retry of a failed push
    row.completed_at = utcnow()


def export_file(*, export: RepositoryExport, token: str, user) -> Path:
    """The archive a signed link grants, after the tenant check; refusals are ProjectError."""
    try:
        export_id = storage.verify_download(token, kind="project-export", organization_id=user.organization_id,
                                            user_id=user.id)
    except storage.LinkExpired:
        raise ProjectError("This download link has expired. Open the export again for a fresh link.")
    except storage.LinkInvalid:
        raise ProjectError("This download link is not valid.")
    if export_id != export.id or not export.is_terminal or export.logical_status != "succeeded" \
            or not export.archive_path:
        raise ProjectError("This download link is not valid.")
    full = storage.resolve(export.archive_path)  # the path comes from the row, never from the link
    if not full.exists() or full.stat().st_size != export.archive_size:
        raise ProjectError("The archive is missing on the server. Export it again.")
    return full


# --------------------------------------------------------------------------- drafts cleanup
CLEANUP_LOCK_KEY = 0x43A1_5D_01  # pg advisory lock id ("cairn drafts")
CLEANUP_REDIS_KEY = "cairn:lock:projects-drafts-cleanup"


@contextmanager
def cleanup_lock() -> Iterator[bool]:
    """Yield True while this process holds the drafts-cleanup lock, False if another holds it.

    PostgreSQL: a session advisory lock on its own connection (dies with the holder).
    Elsewhere: a Redis key with an expiry (the embedded queue's fakeredis in one process).
    """
    if db.engine.dialect.name == "postgresql":
        connection = db.engine.connect()
        try:
            got = connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": CLEANUP_LOCK_KEY}).scalar()
            connection.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": CLEANUP_LOCK_KEY})
                    connection.commit()
        finally:
            connection.close()
        return
    redis = current_app.extensions["cairn_redis"]
    token = secrets.token_hex(8)
    got = bool(redis.set(CLEANUP_REDIS_KEY, token, nx=True, ex=3600))
    try:
        yield got
    finally:
        if got and (redis.get(CLEANUP_REDIS_KEY) or b"").decode() == token:
            redis.delete(CLEANUP_REDIS_KEY)


def _after(key: tuple) -> Any:
    """(updated_at, id) > key, written so the index range starts at `key` (a row comparison may not)."""
    return sa.and_(Project.updated_at >= key[0], sa.or_(Project.updated_at > key[0], Project.id > key[1]))


def _up_to(key: tuple) -> Any:
    """(updated_at, id) <= key."""
    return sa.and_(Project.updated_at <= key[0], sa.or_(Project.updated_at < key[0], Project.id <= key[1]))


def drafts_cleanup(hours: int | None = None, batch_size: int | None = None, now: datetime | None = None,
                   organization_id: int | None = None) -> dict:
    """Delete drafts untouched for `hours` in batches (one transaction each). Reports what it removed.

    Each batch is a window of `idx_project_draft_cleanup` in (updated_at, id) order: one indexed
    read finds the window's last key, and the DELETE takes the same window with the same
    conditions (no long id lists). Drafts with attachments are kept (PROTECT); their owner decides.
    """
    hours = hours or int(current_app.config.get("PROJECTS_DRAFT_MAX_AGE_HOURS", 24 * 14))
    batch_size = batch_size or int(current_app.config.get("PROJECTS_CLEANUP_BATCH", 1000))
    now = now or utcnow()
    with cleanup_lock() as acquired:
        if not acquired:
            log.info("drafts cleanup: another cleanup holds the lock; skipped")
            return {"removed": 0, "batches": 0, "skipped": True}
        removed = batches = 0
        has_attachment = sa.select(ProjectAttachment.id).where(ProjectAttachment.project_id == Project.id).exists()
        cutoff = now - timedelta(hours=hours)
        conditions = [Project.is_draft.is_(True), Project.updated_at < cutoff, ~has_attachment]
        if organization_id is not None:
            conditions.append(Project.organization_id == organization_id)
        last_seen = None
        while True:
            window = list(conditions) + ([_after(last_seen)] if last_seen is not None else [])
            keys = db.session.execute(
                sa.select(Project.updated_at, Project.id).where(*window)
                .order_by(Project.updated_at, Project.id).offset(batch_size - 1).limit(1)).first()
            upper = [_up_to((keys.updated_at, keys.id))] if keys is not None else []  # else: the rest
            paths = list(db.session.scalars(
                sa.select(RepositoryExport.archive_path).join(GeneratedProject).join(Project)
                .where(*window, *upper, RepositoryExport.archive_path != "")))
            result = db.session.execute(sa.delete(Project).where(*window, *upper)
                                        .execution_options(synchronize_session=False))
            db.session.commit()
            _remove_files(paths)
            removed += result.rowcount or 0
            batches += 1 if result.rowcount else 0
            if keys is None:
                break
            last_seen = (keys.updated_at, keys.id)
        log.info("drafts cleanup: removed %s abandoned drafts (older than %s h) in %s batches", removed, hours,
                 batches)
        return {"removed": removed, "batches": batches, "skipped": False, "hours": hours}




"""Generation templates: built-in ones, organization uploads (checked zips), questions, sandboxed rendering.

A template is a set of files whose paths and (for `.jinja` files of uploads, every
file of built-ins) contents are rendered in Jinja's sandbox with limits on output size and
work (`projects.sandbox.BoundedSandbox`), from the project's data, metadata, dates and the
answers to the template's questions. Question patterns run on RE2 (`platform.patterns`).
"""
from __future__ import annotations

import io
import json
import re
import stat
import zipfile
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError

from app.platform.patterns import PATTERN_HELP, check_pattern, fullmatch
from app.projects.archives import UnsafePath, check_member_path, slug_for
from app.projects.models import SCHOOL_FIELDS, SELF_STUDY_FIELDS
from app.projects.sandbox import BoundedSandbox, RenderLimit, render_in

MAX_TEMPLATE_FILES = 500
MAX_TEMPLATE_BYTES = 20 * 1024 * 1024  # uncompressed, all files together
MAX_TEMPLATE_FILE_BYTES = 5 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100
MAX_RENDERED_FILE_BYTES = 5 * 1024 * 1024
QUESTIONS_FILE = "cairn-template.json"


class TemplateRefused(ValueError):
    """An upload or an answer that can't be used; the message says why."""


# --------------------------------------------------------------------------- questions
@dataclass
class Question:
    name: str
    label: str
    kind: str = "text"  # text | choice | bool
    default: Any = ""
    choices: list[str] = field(default_factory=list)
    pattern: str = ""
    pattern_message: str = ""
    help: str = ""
    required: bool = True

    @classmethod
    def from_dict(cls, data: dict) -> "Question":
        if not isinstance(data, dict) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", str(data.get("name", ""))):
            raise TemplateRefused("Each question needs a name of lowercase letters, digits and underscores.")
        kind = data.get("type", "text")
        if kind not in ("text", "choice", "bool"):
            raise TemplateRefused(f"Question {data['name']!r}: type must be text, choice or bool.")
        choices = [str(c) for c in data.get("choices", [])]
        if kind == "choice" and not choices:
            raise TemplateRefused(f"Question {data['name']!r}: a choice question needs choices.")
        pattern = str(data.get("pattern", ""))
        if pattern and check_pattern(pattern):
            raise TemplateRefused(f"Question {data['name']!r}: the pattern is not a valid regex "
                                  f"({check_pattern(pattern)} {PATTERN_HELP})")
        return cls(name=data["name"], label=str(data.get("label") or data["name"]), kind=kind,
                   default=data.get("default", False if kind == "bool" else ""), choices=choices, pattern=pattern,
                   pattern_message=str(data.get("pattern_message", "")), help=str(data.get("help", "")),
                   required=bool(data.get("required", kind != "bool")))

    def to_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "type": self.kind, "default": self.default,
                "choices": self.choices, "pattern": self.pattern, "pattern_message": self.pattern_message,
                "help": self.help, "required": self.required}

    def clean(self, raw: Any) -> tuple[Any, str | None]:
        """(value, error message or None) for a submitted answer."""
        if self.kind == "bool":
            return raw in (True, "y", "on", "true", "1", "yes"), None
        value = (raw if raw is not None else "")
        value = str(value).strip()
        if not value and self.required:
            return value, f"{self.label} is required."
        if self.kind == "choice" and value and value not in self.choices:
            return value, f"{self.label} must be one of: {', '.join(self.choices)}."
        if len(value) > 500:  # before the pattern: a pattern never reads more than 500 characters
            return value, f"{self.label} is limited to 500 characters."
        if self.pattern and value and not fullmatch(self.pattern, value):
            return value, self.pattern_message or f"{self.label} doesn't have the expected form."
        return value, None


def clean_answers(questions: list[Question], raw: dict) -> tuple[dict, dict[str, str]]:
    answers, errors = {}, {}
    for question in questions:
        value, error = question.clean(raw.get(question.name, question.default if question.kind != "bool" else None))
        answers[question.name] = value
        if error:
            errors[question.name] = error
    return answers, errors


# --------------------------------------------------------------------------- built-in templates
@dataclass
class TemplateFile:
    path: str
    content: bytes
    executable: bool = False
    render: bool = True


@dataclass
class TemplateSpec:
    key: str
    name: str
    description: str
    questions: list[Question]
    files: list[TemplateFile]
    for_types: tuple[str, ...] = ("school", "self_study")


def _q(**kw) -> Question:
    return Question(**kw)


_COURSE_README = """# {{ project.name }}

{% if project.course_name %}Course: **{{ project.course_name }}** ({{ project.course_code }}), taught by {{ project.teacher_name }}.
{% endif %}{{ project.description }}

## Important dates
{% for d in dates %}- {{ d.date }} · {{ d.kind }}: {{ d.title }}
{% else %}- none yet
{% endfor %}
## Metadata
{% for key, value in meta | dictsort %}- {{ key }}: {{ value }}
{% else %}- none
{% endfor %}
Author: {{ answers.author }}
"""

_COURSE_REPORT = """# {{ answers.report_title }}

{{ answers.author }} · {{ project.course_code }} · {{ project.teacher_name }}

## Introduction

## Method

## Results

## Conclusion
"""

_SUBMIT = """#!/bin/sh
# Packs the {{ project.course_code }} submission of {{ answers.author }}.
set -e
cd "$(dirname "$0")"
tar czf "{{ slug }}-submission.tar.gz" report src
echo "Created {{ slug }}-submission.tar.gz"
"""

_PLAN = """# Study plan: {{ project.name }}

Goal: {{ project.goal_description }}

Rhythm: {{ project.study_frequency }} sessions of {{ answers.session_minutes }} minutes.
Level: {{ answers.level }}

## Milestones
{% for d in dates %}- [ ] {{ d.date }} · {{ d.title }}
{% else %}- [ ] Set your first milestone
{% endfor %}"""

_LOG = """# Study log

| date | minutes | what I did |
|------|---------|------------|
"""

_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{{ answers.package_name }}"
version = "0.1.0"
description = "{{ project.name }}"
requires-python = ">={{ answers.python_version }}"
license = { text = "{{ answers.license }}" }
authors = [{ name = "{{ answers.author }}" }]
"""

_INIT = '''"""{{ project.name }}."""

__version__ = "0.1.0"
'''

_TEST = """from {{ answers.package_name }} import __version__


def test_version():
    assert __version__ == "0.1.0"
"""

_RUN_TESTS = """#!/bin/sh
set -e
python -m pytest -q "$@"
"""

_GITIGNORE = "__pycache__/\n*.pyc\n.venv/\ndist/\nbuild/\n*.egg-info/\n"

_PKG_README = """# {{ answers.package_name }}

{{ project.name }}{% if project.goal_description %}: {{ project.goal_description }}{% endif %}

```sh
pip install -e .
./run_tests.sh
```

License: {{ answers.license }}
"""

_AUTHOR = _q(name="author", label="Author", default="{{ owner }}", help="Shown in the generated files.")
PACKAGE_PATTERN = r"[a-z][a-z0-9_]{0,49}"

BUILTIN_TEMPLATES: dict[str, TemplateSpec] = {
    spec.key: spec for spec in [
        TemplateSpec(
            key="course-project", name="Course project",
            description="A README with course details and dates, a report outline and a submission script.",
            questions=[_AUTHOR, _q(name="report_title", label="Report title", default="{{ project.name }} report"),
                       _q(name="include_src", label="Include a src/ folder", kind="bool", default=True,
                          required=False)],
            files=[TemplateFile("README.md", _COURSE_README.encode()),
                   TemplateFile("report/report.md", _COURSE_REPORT.encode()),
                   TemplateFile("{% if answers.include_src %}src/.gitkeep{% endif %}", b""),
                   TemplateFile("submit.sh", _SUBMIT.encode(), executable=True)],
            for_types=("school",)),
        TemplateSpec(
            key="self-study-plan", name="Self-study plan",
            description="A study plan with milestones from your dates, and a study log.",
            questions=[_AUTHOR, _q(name="level", label="Level", kind="choice", default="beginner",
                                   choices=["beginner", "intermediate", "advanced"]),
                       _q(name="session_minutes", label="Minutes per session", default="45",
                          pattern=r"[1-9][0-9]{0,2}", pattern_message="Minutes per session must be 1 to 999.")],
            files=[TemplateFile("PLAN.md", _PLAN.encode()), TemplateFile("LOG.md", _LOG.encode()),
                   TemplateFile("notes/README.md", b"# Notes for {{ project.name }}\n")],
            for_types=("self_study",)),
        TemplateSpec(
            key="python-package", name="Python package",
            description="A pyproject-based package with a test and an executable test runner.",
            questions=[_AUTHOR, _q(name="package_name", label="Package name", default="{{ slug | replace('-', '_') }}",
                                   pattern=PACKAGE_PATTERN,
                                   pattern_message="Package name: lowercase letters, digits and underscores, "
                                                   "starting with a letter."),
                       _q(name="python_version", label="Minimum Python", kind="choice", default="3.11",
                          choices=["3.10", "3.11", "3.12", "3.13"]),
                       _q(name="license", label="License", kind="choice", default="MIT",
                          choices=["MIT", "Apache-2.0", "GPL-3.0-or-later", "Proprietary"])],
            files=[TemplateFile("pyproject.toml", _PYPROJECT.encode()), TemplateFile("README.md", _PKG_README.encode()),
                   TemplateFile("src/{{ answers.package_name }}/__init__.py", _INIT.encode()),
                   TemplateFile("tests/test_version.py", _TEST.encode()),
                   TemplateFile("run_tests.sh", _RUN_TESTS.encode(), executable=True),
                   TemplateFile(".gitignore", _GITIGNORE.encode(), render=False)]),
    ]
}


# --------------------------------------------------------------------------- rendering
MAX_DEFAULT_CHARS = 10_000  # a rendered question default (answers themselves are at most 500 characters)


def sandbox(max_chars: int = MAX_RENDERED_FILE_BYTES) -> BoundedSandbox:
    """A sandbox for one rendering job: limited in output, value sizes and work (see projects.sandbox)."""
    return BoundedSandbox(max_chars=max_chars, undefined=StrictUndefined, autoescape=False,
                          keep_trailing_newline=True)


def project_context(project, owner_name: str = "") -> dict:
    """What templates see: plain data only (the sandbox still guards attribute access)."""
    own = project.type_fields()  # the other type's fields are empty strings, so every template renders
    data = {
        "name": project.name, "type": project.project_type, "description": project.description or "",
        **{name: own.get(name) or "" for name in (*SCHOOL_FIELDS, *SELF_STUDY_FIELDS)},
        "start_date": project.start_date.isoformat() if project.start_date else "",
        "end_date": project.end_date.isoformat() if project.end_date else "",
    }
    dates = [{"kind": d.kind, "title": d.title, "date": d.date.isoformat(), "notes": d.notes}
             for d in project.important_dates]
    return {"project": data, "meta": dict(project.meta), "dates": dates, "slug": slug_for(project.name),
            "owner": owner_name}


def render_defaults(questions: list[Question], context: dict) -> list[Question]:
    """Questions whose text defaults are themselves templates ("{{ project.name }} report")."""
    env = sandbox(MAX_DEFAULT_CHARS)
    out = []
    for q in questions:
        default, help_text = q.default, q.help
        if isinstance(default, str) and "{" in default:
            try:
                default = render_in(env, default, context)
            except TemplateError:
                default = ""
            except RenderLimit as exc:  # shown under the question instead of its help
                default, help_text = "", f"This question's default was refused: {exc}."
        out.append(Question(**{**q.__dict__, "default": default, "help": help_text}))
    return out


@dataclass
class RenderedFile:
    path: str
    content: bytes
    executable: bool


def render_files(files: list[TemplateFile], context: dict) -> list[RenderedFile]:
    """Render paths and contents. A path that renders empty is skipped (conditional files)."""
    env = sandbox()
    out: dict[str, RenderedFile] = {}
    for tf in files:
        try:
            path = render_in(env, tf.path, context).strip()
        except RenderLimit as exc:
            raise TemplateRefused(f"The file name {tf.path[:80]!r} was refused: {exc}.") from exc
        except TemplateError as exc:
            raise TemplateRefused(f"The file name {tf.path!r} could not be rendered: {exc}") from exc
        if not path:
            continue
        try:
            check_member_path(path)
        except UnsafePath as exc:
            raise TemplateRefused(f"The template produced an unsafe path: {exc}") from exc
        content = tf.content
        if tf.render:
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None:
                try:
                    content = render_in(env, text, context).encode("utf-8")
                except RenderLimit as exc:
                    raise TemplateRefused(f"{path}: refused, {exc}.") from exc
                except TemplateError as exc:
                    raise TemplateRefused(f"{tf.path}: {exc}") from exc
        if len(content) > MAX_RENDERED_FILE_BYTES:
            raise TemplateRefused(f"{path}: the rendered file is larger than 5 MB.")
        out[path] = RenderedFile(path, content, tf.executable)
    return [out[p] for p in sorted(out)]


# --------------------------------------------------------------------------- uploads
@dataclass
class CheckedTemplate:
    name: str
    description: str
    questions: list[Question]
    files: list[TemplateFile]
    total_size: int


SAMPLE_CONTEXT = {"project": {"name": "Sample project", "type": "school", "description": "", "course_name": "",
                              "course_code": "", "teacher_name": "", "goal_description": "", "study_frequency": "",
                              "start_date": "", "end_date": ""},
                  "meta": {}, "dates": [], "slug": "sample-project", "owner": "Sample Owner"}


def _check_defaults(questions: list[Question]) -> None:
    """Refuse an upload whose question defaults break the rendering limits (try them on a sample project)."""
    env = sandbox(MAX_DEFAULT_CHARS)
    for question in questions:
        if isinstance(question.default, str) and "{" in question.default:
            try:
                render_in(env, question.default, SAMPLE_CONTEXT)
            except RenderLimit as exc:
                raise TemplateRefused(f"Question {question.name!r}: its default is refused: {exc}.") from None
            except TemplateError:
                pass  # names of the real project's data may be missing here: rendered for real later


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def check_template_zip(data: bytes) -> CheckedTemplate:
    """Open an uploaded template zip and refuse anything unsafe, with a clear reason.

    Refused: not a zip, too many files, a path outside the template (`../`, absolute,
    backslashes), symlinks, declared or actual sizes over the limits (zip bombs: the
    actual bytes are counted while reading, never trusting the header), suspicious
    compression ratios, and an invalid `cairn-template.json`.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise TemplateRefused("This file is not a zip archive.")
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if not infos:
        raise TemplateRefused("The zip archive is empty.")
    if len(infos) > MAX_TEMPLATE_FILES:
        raise TemplateRefused(f"The template has {len(infos)} files; the limit is {MAX_TEMPLATE_FILES}.")
    declared = sum(i.file_size for i in infos)
    if declared > MAX_TEMPLATE_BYTES:
        raise TemplateRefused(f"The template would unpack to {declared:,} bytes; the limit is {MAX_TEMPLATE_BYTES:,}.")
    files: list[TemplateFile] = []
    meta: dict = {}
    total = 0
    seen: set[str] = set()
    for info in infos:
        try:
            path = check_member_path(info.filename)
        except UnsafePath as exc:
            raise TemplateRefused(f"Refused: {exc}")
        if _is_symlink(info):
            raise TemplateRefused(f"Refused: {path!r} is a symbolic link; templates may only contain regular files.")
        if info.flag_bits & 0x1:
            raise TemplateRefused(f"Refused: {path!r} is encrypted.")
        if info.file_size > MAX_TEMPLATE_FILE_BYTES:
            raise TemplateRefused(f"Refused: {path!r} is larger than 5 MB.")
        if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO and info.file_size > 1 << 20:
            raise TemplateRefused(f"Refused: {path!r} is compressed suspiciously well (a zip bomb?).")
        content = _read_limited(archive, info, path)
        total += len(content)
        if total > MAX_TEMPLATE_BYTES:
            raise TemplateRefused(f"Refused: the template unpacks to more than {MAX_TEMPLATE_BYTES:,} bytes.")
        if path.lower() in seen:
            raise TemplateRefused(f"Refused: {path!r} appears twice.")
        seen.add(path.lower())
        if path == QUESTIONS_FILE:
            try:
                meta = json.loads(content.decode("utf-8"))
                assert isinstance(meta, dict)
            except Exception:
                raise TemplateRefused(f"{QUESTIONS_FILE} is not a JSON object.")
            continue
        mode = (info.external_attr >> 16) if info.create_system == 3 else 0
        render = path.endswith(".jinja")
        files.append(TemplateFile(path[: -len(".jinja")] if render else path, content,
                                  executable=bool(mode & 0o111), render=render))
    if not files:
        raise TemplateRefused("The template has no files besides its questions.")
    questions = [Question.from_dict(q) for q in meta.get("questions", [])] if isinstance(meta.get("questions", []), list) else []
    _check_defaults(questions)
    return CheckedTemplate(name=str(meta.get("name", ""))[:200], description=str(meta.get("description", ""))[:2000],
                           questions=questions, files=files, total_size=total)


def _read_limited(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> bytes:
    """Read at most the declared size (+1 byte to notice a lie)."""
    try:
        with archive.open(info) as handle:
            content = handle.read(min(info.file_size, MAX_TEMPLATE_FILE_BYTES) + 1)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
        raise TemplateRefused(f"Refused: {path!r} could not be read ({exc}).")
    if len(content) > info.file_size:
        raise TemplateRefused(f"Refused: {path!r} is larger than its header says (a zip bomb?).")
    return content

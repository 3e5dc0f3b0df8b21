"""Rules services: writes own the transaction; reads return selects or rows.

Callers pass the workspace explicitly (views use `current_workspace()`, jobs
load it from the row), so the same functions serve pages, JSON and workers.
"""
from __future__ import annotations

import itertools
import logging
import re
from typing import Any, Iterable, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.platform import textsearch
from app.platform.jobs import FAILED
from app.platform.models import SoftDeleteError, utcnow
from app.rules import catalogue, renderer
from app.rules.models import (
    CASINGS,
    DIMENSION_KINDS,
    PROPAGATION_SCOPES,
    SCOPES,
    SEVERITIES,
    SEVERITY_RANK_SQL,
    TRUNCATIONS,
    ConflictCheck,
    ConflictResult,
    Dimension,
    DimensionValue,
    GeneratedName,
    Generation,
    Platform,
    PropagationRun,
    Rule,
    RuleField,
    RulePreview,
    StaleScan,
    Submission,
)
from app.platform.parsing import parse_id

log = logging.getLogger("cairn.rules")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_GENERATION_SIZE = 1_000_000
MAX_PASTED_NAMES = 5_000  # the conflict-check form: a page's worth of pasted names
MAX_CHECK_SIZE = 200_000  # names one JSON request may send (~5 MB); a generation's output is checked whole
CHECK_CHUNK = 50_000  # names matched per round of queries; the job reports progress between rounds
SAMPLE_LIMIT = 200


class RulesError(ValueError):
    """A refusal the user can read, optionally tied to a form field."""

    def __init__(self, message: str, field: str | None = None, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.problems = problems or []


def _commit(duplicate_message: str = "That name is already used in this workspace.", field: str | None = None) -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise RulesError(duplicate_message, field) from exc


def _int_or_none(value: Any) -> Optional[int]:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RulesError(f"{value!r} is not a whole number.")
    if number < 1 or number > 255:
        raise RulesError("Lengths must be between 1 and 255.")
    return number


# ---------------------------------------------------------------------------
# Dimensions and values
# ---------------------------------------------------------------------------
def _next_position(model, *conditions) -> int:
    return (db.session.scalar(sa.select(sa.func.max(model.position)).where(*conditions)) or 0) + 1


def _check_dimension(key: str, kind: str, min_length, max_length) -> tuple[Optional[int], Optional[int]]:
    if not KEY_RE.match(key or ""):
        raise RulesError("Use lowercase letters, digits and underscores, starting with a letter (e.g. environment).",
                         "key")
    if key == renderer.SEQ:
        raise RulesError("'seq' is reserved for the sequence number.", "key")
    if kind not in DIMENSION_KINDS:
        raise RulesError("Choose list or free text.", "kind")
    low, high = _int_or_none(min_length), _int_or_none(max_length)
    if low and high and low > high:
        raise RulesError("The minimum length is larger than the maximum.", "min_length")
    return low, high


def dimension_create(*, workspace, key: str, label: str = "", description: str = "", kind: str = "list",
                     min_length=None, max_length=None) -> Dimension:
    key = (key or "").strip().lower()
    low, high = _check_dimension(key, kind, min_length, max_length)
    dim = Dimension(organization_id=workspace.organization_id, workspace_id=workspace.id, key=key,
                    label=(label or "").strip()[:120], description=description or "", kind=kind,
                    min_length=low, max_length=high,
                    position=_next_position(Dimension, Dimension.workspace_id == workspace.id))
    db.session.add(dim)
    _commit(f"A dimension with key {key!r} already exists in this workspace (perhaps deleted: restore it).", "key")
    return dim


def dimension_update(*, dimension: Dimension, label: str, description: str = "", min_length=None,
                     max_length=None) -> Dimension:
    low, high = _check_dimension(dimension.key, dimension.kind, min_length, max_length)
    dimension.label = (label or "").strip()[:120]
    dimension.description = description or ""
    dimension.min_length, dimension.max_length = low, high
    _commit()
    return dimension


def _soft(row, user, *, delete: bool, reason: str = ""):
    try:
        row.soft_delete(user=user, reason=reason) if delete else row.restore(user=user)
    except SoftDeleteError as exc:
        raise RulesError(str(exc)) from exc
    _commit("Restoring it would duplicate an active row with the same name.")
    return row


def rules_using_dimension(dimension: Dimension) -> list[Rule]:
    """Active rules of the dimension's workspace with a field whose pattern has {key} or {key:code}."""
    candidates = db.session.scalars(
        Rule.select_active().join(RuleField, RuleField.rule_id == Rule.id)
        .where(Rule.workspace_id == dimension.workspace_id,
               RuleField.pattern.contains("{" + dimension.key, autoescape=True))
        .distinct().order_by(Rule.name))
    return [rule for rule in candidates
            if any(dimension.key in renderer.placeholders(f.pattern) for f in rule.fields)]


def dimension_delete(*, dimension: Dimension, user) -> Dimension:
    """Soft-delete a dimension no active rule uses.

    A pattern naming a deleted dimension can neither be previewed nor
    generated, so deleting one in use is refused with the rules to edit
    first (as Azure Naming Tool refuses deleting a component a resource
    type still uses). Names already made from it keep their values.
    """
    using = rules_using_dimension(dimension)
    if using:
        shown = ", ".join(r.name for r in using[:10]) + (f" and {len(using) - 10} more" if len(using) > 10 else "")
        raise RulesError(f"{dimension.display} is used by {len(using)} rule(s): {shown}. Remove the "
                         f"{{{dimension.key}}} placeholder from their patterns first, then delete it.")
    return _soft(dimension, user, delete=True)


def dimension_restore(*, dimension: Dimension, user) -> Dimension:
    return _soft(dimension, user, delete=False)


def _move(rows: list, row, direction: str) -> None:
    """Swap `row` with its neighbour in `rows` (ordered by position) and renumber 1..n."""
    index = rows.index(row)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    for position, item in enumerate(rows, start=1):
        item.position = position


def dimension_move(*, dimension: Dimension, direction: str) -> None:
    rows = list(db.session.scalars(
        Dimension.select_active().where(Dimension.workspace_id == dimension.workspace_id)
        .order_by(Dimension.position, Dimension.id)))
    if dimension in rows:
        _move(rows, dimension, direction)
    _commit()


def _check_value(dimension: Dimension, value: str, short_code: str) -> str:
    value = (value or "").strip()
    if not value:
        raise RulesError("Enter a value.", "value")
    if len(value) > 100:
        raise RulesError("Values are at most 100 characters.", "value")
    if len(short_code or "") > 20:
        raise RulesError("Short codes are at most 20 characters.", "short_code")
    return value


def value_create(*, dimension: Dimension, value: str, label: str = "", short_code: str = "") -> DimensionValue:
    if dimension.kind != "list":
        raise RulesError("Free-text dimensions have no list of values.")
    value = _check_value(dimension, value, short_code)
    row = DimensionValue(organization_id=dimension.organization_id, workspace_id=dimension.workspace_id,
                         dimension=dimension, value=value, label=(label or "").strip()[:120],
                         short_code=(short_code or "").strip(),
                         position=_next_position(DimensionValue, DimensionValue.dimension_id == dimension.id))
    db.session.add(row)
    _commit(f"{dimension.display} already has the value {value!r}.", "value")
    return row


def value_update(*, value_row: DimensionValue, value: str, label: str = "", short_code: str = "") -> str | None:
    """Change a value; returns the old value when it was renamed (the caller offers propagation)."""
    new = _check_value(value_row.dimension, value, short_code)
    old = value_row.value
    if new != old or (short_code or "").strip() != value_row.short_code:
        sequences_snapshot(names_using(value_row.workspace_id, value_row.dimension.key, old))
    value_row.value = new
    value_row.label = (label or "").strip()[:120]
    value_row.short_code = (short_code or "").strip()
    _commit(f"{value_row.dimension.display} already has the value {new!r}.", "value")
    return old if old != new else None


def value_move(*, value_row: DimensionValue, direction: str) -> None:
    rows = list(db.session.scalars(
        DimensionValue.select_active().where(DimensionValue.dimension_id == value_row.dimension_id)
        .order_by(DimensionValue.position, DimensionValue.id)))
    if value_row in rows:
        _move(rows, value_row, direction)
    _commit()


class ConfirmationNeeded(RulesError):
    """The action is allowed but has consequences the user must accept first (they send `confirmed`)."""

    def __init__(self, message: str, affected: int) -> None:
        super().__init__(message)
        self.affected = affected


def value_delete(*, value_row: DimensionValue, user, confirmed: bool = False) -> DimensionValue:
    """Soft-delete a list value; when active names were built from it, only once the user confirms.

    Those names stay as they are (they record the value they were made
    from); the value just can't be chosen for new generations. Deleting it
    without a word would leave the user surprised that "prod" names exist
    while "prod" is gone, so the first request explains and asks.
    """
    affected = names_using_count(value_row.workspace_id, value_row.dimension.key, value_row.value)
    if affected and not confirmed:
        raise ConfirmationNeeded(
            f"{affected:,} active name(s) were built from {value_row.dimension.display} = {value_row.value!r}. "
            "They keep their value, but new generations can no longer choose it. Delete it anyway?", affected)
    return _soft(value_row, user, delete=True)


def value_restore(*, value_row: DimensionValue, user) -> DimensionValue:
    return _soft(value_row, user, delete=False)


def dimensions_of(workspace, *, include_deleted: bool = False) -> list[Dimension]:
    stmt = sa.select(Dimension).where(Dimension.workspace_id == workspace.id)
    if not include_deleted:
        stmt = stmt.where(Dimension.is_active.is_(True))
    return list(db.session.scalars(stmt.order_by(Dimension.position, Dimension.id)))


def active_values(dimension: Dimension) -> list[DimensionValue]:
    return [v for v in dimension.values if v.is_active]


# ---------------------------------------------------------------------------
# Platforms
# ---------------------------------------------------------------------------
def _platform_fields(data: dict) -> dict:
    allowed = (data.get("allowed_chars") or "").strip()
    if allowed:
        try:
            renderer.charset(allowed)
        except (renderer.CharSetError, renderer.RegexError) as exc:
            raise RulesError(f"Not a valid character set: {exc}. Write it like a-z0-9- (or ^/\\: for all but those).",
                             "allowed_chars")
    regex = (data.get("regex") or "").strip()
    if regex:
        try:
            renderer.compile_pattern(regex)
        except renderer.RegexError as exc:
            raise RulesError(f"Not a valid regular expression: {str(exc).rstrip('.')}.", "regex")
    low, high = _int_or_none(data.get("min_length")), _int_or_none(data.get("max_length"))
    if low and high and low > high:
        raise RulesError("The minimum length is larger than the maximum.", "min_length")
    uniqueness = (data.get("uniqueness_scope") or "").strip()
    if uniqueness and uniqueness not in catalogue.UNIQUENESS:
        raise RulesError("Choose where names must be unique.", "uniqueness_scope")
    name = (data.get("name") or "").strip()
    if not name:
        raise RulesError("Enter a name.", "name")
    return {
        "uniqueness_scope": uniqueness,
        "name": name[:120],
        "description": data.get("description") or "",
        "max_length": high,
        "min_length": low,
        "allowed_chars": allowed[:200],
        "regex": regex[:500],
        "lowercase_only": bool(data.get("lowercase_only")),
        "invalid_first_chars": (data.get("invalid_first_chars") or "")[:50],
        "invalid_last_chars": (data.get("invalid_last_chars") or "")[:50],
        "invalid_consecutive_chars": (data.get("invalid_consecutive_chars") or "")[:50],
    }


def platform_create(*, workspace, **data) -> Platform:
    platform = Platform(organization_id=workspace.organization_id, workspace_id=workspace.id, **_platform_fields(data))
    db.session.add(platform)
    _commit("A platform with that name already exists in this workspace.", "name")
    return platform


def platform_update(*, platform: Platform, catalogue_version: Optional[int] = None, **data) -> Platform:
    fields = _platform_fields(data)
    sequences_snapshot(names_in_scope(platform.workspace_id, "platform", platform.id))
    for key, value in fields.items():
        setattr(platform, key, value)
    if catalogue_version is not None:
        platform.catalogue_version = catalogue_version
    _commit("A platform with that name already exists in this workspace.", "name")
    return platform


def platform_add_from_catalogue(*, workspace, key: str) -> Platform:
    """Add a catalogue entry as one of the workspace's platforms, in one step."""
    entry = catalogue.get(key)
    if entry is None:
        raise RulesError("That entry is not in the catalogue.", "key")
    existing = db.session.scalars(sa.select(Platform).where(Platform.workspace_id == workspace.id,
                                                            Platform.catalogue_key == entry.key)).first()
    if existing is not None:
        state = "" if existing.is_active else " (deleted: restore it from the platforms list)"
        raise RulesError(f"{entry.name} is already a platform of this workspace as {existing.name}{state}.", "key")
    platform = Platform(organization_id=workspace.organization_id, workspace_id=workspace.id,
                        catalogue_key=entry.key, catalogue_version=entry.version,
                        **_platform_fields(entry.platform_fields()))
    db.session.add(platform)
    _commit(f"A platform named {entry.name} already exists in this workspace.", "key")
    return platform


def platform_update_from_catalogue(*, platform: Platform) -> Platform:
    """Take the catalogue entry's current rules (the platform keeps its name); names it leaves stale are offered
    for regeneration by the caller, as after any platform change."""
    entry = platform.catalogue_entry
    if entry is None:
        raise RulesError("This platform was not added from the catalogue, or its entry is gone.")
    platform_update(platform=platform, **{**entry.platform_fields(), "name": platform.name},
                    catalogue_version=entry.version)
    return platform


def platform_delete(*, platform: Platform, user) -> Platform:
    return _soft(platform, user, delete=True)


def platform_restore(*, platform: Platform, user) -> Platform:
    return _soft(platform, user, delete=False)


def constraints_of(platform: Optional[Platform]) -> renderer.Constraints:
    if platform is None:
        return renderer.Constraints()
    return renderer.Constraints(
        max_length=platform.max_length, min_length=platform.min_length, allowed_chars=platform.allowed_chars, regex=platform.regex,
        lowercase_only=platform.lowercase_only, invalid_first_chars=platform.invalid_first_chars,
        invalid_last_chars=platform.invalid_last_chars, invalid_consecutive_chars=platform.invalid_consecutive_chars)


# ---------------------------------------------------------------------------
# Rules and fields
# ---------------------------------------------------------------------------
def _platform_in(workspace, platform_id) -> Platform:
    platform_id = parse_id(platform_id)
    if platform_id is None:
        raise RulesError("Choose a platform.", "platform_id")
    platform = db.session.scalars(Platform.select_active().where(
        Platform.workspace_id == workspace.id, Platform.id == platform_id)).first()
    if platform is None:
        raise RulesError("Choose a platform of this workspace.", "platform_id")
    return platform


def rule_create(*, workspace, name: str, platform_id, description: str = "") -> Rule:
    name = (name or "").strip()
    if not name:
        raise RulesError("Enter a name.", "name")
    rule = Rule(organization_id=workspace.organization_id, workspace_id=workspace.id, name=name[:120],
                description=description or "", platform=_platform_in(workspace, platform_id))
    db.session.add(rule)
    _commit("A rule with that name already exists in this workspace.", "name")
    return rule


def rule_update(*, rule: Rule, name: str, platform_id, description: str = "") -> Rule:
    name = (name or "").strip()
    if not name:
        raise RulesError("Enter a name.", "name")
    workspace = _workspace_of(rule)
    platform = _platform_in(workspace, platform_id)
    if platform.id != rule.platform_id:
        sequences_snapshot(names_in_scope(rule.workspace_id, "rule", rule.id))
    rule.name, rule.description = name[:120], description or ""
    rule.platform = platform
    _commit("A rule with that name already exists in this workspace.", "name")
    return rule


def rule_delete(*, rule: Rule, user) -> Rule:
    return _soft(rule, user, delete=True)


def rule_restore(*, rule: Rule, user) -> Rule:
    return _soft(rule, user, delete=False)


def _workspace_of(row):
    from app.accounts.models import Workspace

    return db.session.get(Workspace, row.workspace_id)


def field_spec_check(*, workspace, data: dict) -> renderer.FieldSpec:
    """Validate a field's settings (form or JSON) into a FieldSpec, or raise RulesError."""
    pattern = (data.get("pattern") or "").strip()
    if not pattern:
        raise RulesError("Enter a pattern such as {environment}-{project}-{seq:3}.", "pattern")
    try:
        keys = renderer.placeholders(pattern)
    except renderer.PatternError as exc:
        raise RulesError(str(exc), "pattern") from exc
    known = {d.key for d in dimensions_of(workspace)}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise RulesError(f"Unknown dimension(s): {', '.join(unknown)}. Define them on the Dimensions page first.",
                         "pattern")
    casing = data.get("casing") or "as_is"
    if casing not in CASINGS:
        raise RulesError("Choose a casing.", "casing")
    truncation = data.get("truncation") or "refuse"
    if truncation not in TRUNCATIONS:
        raise RulesError("Choose a truncation strategy.", "truncation")
    delimiter = data.get("delimiter") or ""
    if len(delimiter) > 5 or delimiter.isalnum():
        raise RulesError("A delimiter is up to 5 punctuation characters, e.g. - or _.", "delimiter")
    fallbacks = (data.get("fallback_delimiters") or "").replace(",", "").replace(" ", "")
    if len(fallbacks) > 20:
        raise RulesError("At most 20 fallback delimiters.", "fallback_delimiters")
    return renderer.FieldSpec(pattern=pattern[:500], casing=casing, delimiter=delimiter,
                              fallback_delimiters=fallbacks, max_length=_int_or_none(data.get("max_length")),
                              truncation=truncation, free_text_keys=free_text_keys(workspace.id))


def _apply_spec(field: RuleField, spec: renderer.FieldSpec) -> None:
    field.pattern, field.casing, field.delimiter = spec.pattern, spec.casing, spec.delimiter
    field.fallback_delimiters, field.max_length, field.truncation = spec.fallback_delimiters, spec.max_length, spec.truncation


def field_create(*, rule: Rule, name: str, **data) -> RuleField:
    name = (name or "").strip()
    if not name:
        raise RulesError("Name the field (e.g. the resource type: storage account).", "name")
    spec = field_spec_check(workspace=_workspace_of(rule), data=data)
    field = RuleField(rule=rule, name=name[:120], position=len(rule.fields) + 1)
    _apply_spec(field, spec)
    db.session.add(field)
    _commit()
    return field


def field_update(*, field: RuleField, name: str, **data) -> RuleField:
    name = (name or "").strip()
    if not name:
        raise RulesError("Name the field.", "name")
    spec = field_spec_check(workspace=_workspace_of(field.rule), data=data)
    sequences_snapshot(names_in_scope(field.rule.workspace_id, "field", field.id))
    field.name = name[:120]
    _apply_spec(field, spec)
    _commit()
    return field


def field_delete(*, field: RuleField) -> None:
    db.session.delete(field)
    _commit()


def free_text_keys(workspace_id: int) -> frozenset:
    """Keys of the workspace's free-text dimensions: the only values a length repair may shorten."""
    return frozenset(db.session.scalars(sa.select(Dimension.key).where(
        Dimension.workspace_id == workspace_id, Dimension.kind == "free_text")))


def spec_of(field: RuleField, free_text: frozenset | None = None) -> renderer.FieldSpec:
    if free_text is None:
        free_text = free_text_keys(field.rule.workspace_id)
    return renderer.FieldSpec(pattern=field.pattern, casing=field.casing, delimiter=field.delimiter,
                              fallback_delimiters=field.fallback_delimiters, max_length=field.max_length,
                              truncation=field.truncation, free_text_keys=free_text)


# ---------------------------------------------------------------------------
# Previews
# ---------------------------------------------------------------------------
def _codes_for(workspace_id: int, values: dict[str, Any]) -> dict[str, str]:
    """Short codes of the chosen list values, keyed by dimension key."""
    codes: dict[str, str] = {}
    pairs = [(k, str(v)) for k, v in values.items() if v not in (None, "")]
    if not pairs:
        return codes
    rows = db.session.execute(
        sa.select(Dimension.key, DimensionValue.value, DimensionValue.short_code)
        .join(DimensionValue, DimensionValue.dimension_id == Dimension.id)
        .where(Dimension.workspace_id == workspace_id, DimensionValue.is_active.is_(True),
               Dimension.key.in_([k for k, _ in pairs])))
    wanted = set(pairs)
    for key, value, code in rows:
        if (key, value) in wanted and code:
            codes[key] = code
    return codes


def preview_render(*, rule: Rule, test_data: dict, specs: list[tuple[str, renderer.FieldSpec]] | None = None,
                   seq: int = 1) -> list[dict]:
    """Render every field of `rule` (or the unsaved `specs` being edited) on the sample values."""
    values = {k: str(v) for k, v in (test_data or {}).items() if v not in (None, "")}
    codes = _codes_for(rule.workspace_id, values)
    constraints = constraints_of(rule.platform)
    free_text = free_text_keys(rule.workspace_id)
    specs = specs if specs is not None else [(f.name, spec_of(f, free_text)) for f in rule.fields]
    examples = []
    for name, spec in specs:
        result = renderer.render(spec, values, codes=codes, seq=seq, constraints=constraints)
        examples.append({"field": name, "pattern": spec.pattern, **result.as_dict()})
    return examples


def rule_preview_save(*, rule: Rule, test_data: dict, user, label: str = "") -> RulePreview:
    examples = preview_render(rule=rule, test_data=test_data)
    validation = {
        "ok": all(e["value"] is not None for e in examples),
        "repairs": sum(len(e["repairs"]) for e in examples),
        "refusals": sum(len(e["refusals"]) for e in examples),
        "platform": rule.platform.name,
        "fields": [{"field": f.name, "pattern": f.pattern, "casing": f.casing, "delimiter": f.delimiter,
                    "max_length": f.max_length, "truncation": f.truncation} for f in rule.fields],
    }
    preview = RulePreview(organization_id=rule.organization_id, workspace_id=rule.workspace_id, rule=rule,
                          label=(label or "").strip()[:120] or f"{rule.name} at {utcnow():%Y-%m-%d %H:%M}",
                          test_data={k: str(v) for k, v in (test_data or {}).items()},
                          generated_examples=examples, validation_results=validation,
                          created_by_id=getattr(user, "id", None))
    db.session.add(preview)
    _commit()
    return preview


def preview_compare(a: RulePreview, b: RulePreview) -> list[dict]:
    """Rows of a side-by-side comparison: per field, both results and whether they differ."""
    left = {e["field"]: e for e in a.generated_examples}
    right = {e["field"]: e for e in b.generated_examples}
    rows = []
    for name in list(dict.fromkeys(list(left) + list(right))):
        l, r = left.get(name), right.get(name)
        rows.append({"field": name, "left": l, "right": r,
                     "differs": (l or {}).get("value") != (r or {}).get("value")
                     or (l or {}).get("pattern") != (r or {}).get("pattern")})
    return rows


# ---------------------------------------------------------------------------
# Generations
# ---------------------------------------------------------------------------
def _clean_values(workspace, rule: Rule, fields: list[RuleField], dimension_values: dict) -> dict[str, list[str]]:
    """Check the chosen values per dimension the fields use; list dimensions take only their active values."""
    keys = list(dict.fromkeys(k for f in fields for k in renderer.placeholders(f.pattern)))
    dims = {d.key: d for d in dimensions_of(workspace)}
    cleaned: dict[str, list[str]] = {}
    problems = []
    for key in keys:
        raw = (dimension_values or {}).get(key) or []
        if isinstance(raw, str):
            raw = [raw]
        chosen = list(dict.fromkeys(str(v).strip() for v in raw if str(v).strip()))
        dim = dims.get(key)
        if dim is None:
            problems.append(f"The dimension {key!r} no longer exists.")
            continue
        if not chosen:
            problems.append(f"Choose at least one value for {dim.display}.")
            continue
        if dim.kind == "list":
            allowed = {v.value for v in active_values(dim)}
            bad = [v for v in chosen if v not in allowed]
            if bad:
                problems.append(f"{dim.display} has no value {', '.join(map(repr, bad[:5]))}.")
        else:
            for v in chosen:
                if dim.min_length and len(v) < dim.min_length:
                    problems.append(f"{dim.display}: {v!r} is shorter than {dim.min_length} characters.")
                if dim.max_length and len(v) > dim.max_length:
                    problems.append(f"{dim.display}: {v!r} is longer than {dim.max_length} characters.")
        cleaned[key] = chosen
    if problems:
        raise RulesError(problems[0], "dimension_values", problems)
    return cleaned


def generation_create(*, workspace, rule_id, dimension_values: dict, field_filter: Iterable = (), user=None,
                      validate_only: bool = False, continue_on_error: bool = False, auto_increment: bool = False,
                      note: str = "") -> Generation:
    """Check the request, record a submission and a pending generation, and queue the job."""
    from app.platform.jobs import job_submit

    rule = db.session.scalars(Rule.select_active().where(Rule.workspace_id == workspace.id,
                                                         Rule.id == (parse_id(rule_id) or -1))).first()
    if rule is None:
        raise RulesError("Choose a rule of this workspace.", "rule")
    try:
        wanted = {int(f) for f in (field_filter or [])}
    except (TypeError, ValueError):
        raise RulesError("Fields are given by id.", "field_filter")
    fields = [f for f in rule.fields if not wanted or f.id in wanted]
    if wanted and len(fields) != len(wanted):
        raise RulesError("Some chosen fields don't belong to this rule.", "field_filter")
    if not fields:
        raise RulesError("This rule has no fields yet: add one on the rule's page.", "rule")
    values = _clean_values(workspace, rule, fields, dimension_values)
    size = len(fields)
    for chosen in values.values():
        size *= len(chosen)
    if size > MAX_GENERATION_SIZE:
        raise RulesError(f"That is {size:,} names; one generation makes at most {MAX_GENERATION_SIZE:,}.",
                         "dimension_values")
    submission = Submission(organization_id=workspace.organization_id, workspace_id=workspace.id,
                            note=(note or "")[:255], submitted_by_id=getattr(user, "id", None))
    generation = Generation(organization_id=workspace.organization_id, workspace_id=workspace.id, rule=rule,
                            submission=submission, dimension_values=values,
                            field_filter=sorted(wanted), requested_by_id=getattr(user, "id", None),
                            options={"validate_only": bool(validate_only), "continue_on_error": bool(continue_on_error),
                                     "auto_increment": bool(auto_increment), "size": size})
    db.session.add_all([submission, generation])
    job_submit(generation)
    return generation


def _insert_names(rows: list[dict]) -> set[str]:
    """Insert name rows, skipping values already active in the workspace. Returns the values inserted.

    ON CONFLICT against the partial unique index: concurrent generations can
    neither duplicate a name nor fail on each other's rows.
    """
    if not rows:
        return set()
    if db.session.get_bind().dialect.name == "postgresql":
        return _insert_names_postgresql(rows)
    from sqlalchemy.dialects.sqlite import insert

    inserted: set[str] = set()
    table = GeneratedName.__table__
    for start in range(0, len(rows), 500):  # SQLite binds at most 32,766 parameters per statement
        stmt = insert(table).values(rows[start:start + 500]).on_conflict_do_nothing(
            index_elements=["workspace_id", "value"], index_where=sa.text("is_active"))
        inserted.update(db.session.execute(stmt.returning(table.c.value)).scalars())
    return inserted


_PG_INSERT = sa.text(
    "INSERT INTO strings (organization_id, workspace_id, value, normalized, reversed_value, dimension_values, "
    "rule_id, field_id, generation_id, submission_id, created_by_id, is_active, delete_reason, created_at, updated_at) "
    "SELECT :org, :ws, t.value, t.normalized, reverse(t.value), CAST(t.dims AS jsonb), :rule, t.field_id, :gen, :sub, "
    ":by, true, '', :now, :now "
    "FROM unnest(CAST(:values AS text[]), CAST(:normalized AS text[]), CAST(:dims AS text[]), "
    "CAST(:fields AS integer[])) AS t(value, normalized, dims, field_id) "
    "ON CONFLICT (workspace_id, value) WHERE is_active DO NOTHING RETURNING value")


def _insert_names_postgresql(rows: list[dict]) -> set[str]:
    """One statement with array parameters: no per-row SQL to compile, however big the chunk."""
    import json

    first = rows[0]
    params = {"org": first["organization_id"], "ws": first["workspace_id"], "rule": first["rule_id"],
              "gen": first["generation_id"], "sub": first["submission_id"], "by": first["created_by_id"],
              "now": first["created_at"], "values": [r["value"] for r in rows],
              "normalized": [r["normalized"] for r in rows],
              "dims": [json.dumps(r["dimension_values"]) for r in rows], "fields": [r["field_id"] for r in rows]}
    return set(db.session.execute(_PG_INSERT, params).scalars())


def _existing_values(workspace_id: int, values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), 1000):
        chunk = values[start:start + 1000]
        found.update(db.session.scalars(sa.select(GeneratedName.value).where(
            GeneratedName.workspace_id == workspace_id, GeneratedName.is_active.is_(True),
            GeneratedName.value.in_(chunk))))
    return found


def _name_row(generation: Generation, field: RuleField, value: str, combo: dict, now) -> dict:
    return {"organization_id": generation.organization_id, "workspace_id": generation.workspace_id,
            "value": value, "normalized": renderer.normalize(value)[:255], "reversed_value": value[::-1],
            "dimension_values": combo, "rule_id": generation.rule_id, "field_id": field.id,
            "generation_id": generation.id, "submission_id": generation.submission_id,
            "created_by_id": generation.requested_by_id, "is_active": True, "delete_reason": "",
            "created_at": now, "updated_at": now}


class _Tally:
    def __init__(self) -> None:
        self.errors: list[dict] = []
        self.error_count = 0
        self.sample: list[dict] = []
        self.made = 0
        self.incremented = 0
        self.conflicts = 0

    def error(self, value: str | None, field: str, combo: dict, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < SAMPLE_LIMIT:
            self.errors.append({"value": value, "field": field, "values": combo, "reason": reason})


def _product_plan(generation: Generation):
    """What rendering a generation needs: dimension keys, their chosen values, short codes, field specs, platform."""
    rule = generation.rule
    wanted = set(generation.field_filter or [])
    fields = [f for f in rule.fields if not wanted or f.id in wanted]
    keys = list(generation.dimension_values)
    lists = [generation.dimension_values[k] for k in keys]
    dims = {d.key: d for d in dimensions_of(_workspace_of(generation))}
    codes_by_key = {key: {v.value: v.short_code for v in (dims[key].values if key in dims else [])
                          if v.is_active and v.short_code} for key in keys}
    return keys, lists, codes_by_key, [(f, spec_of(f)) for f in fields], constraints_of(rule.platform)


def generation_output(generation: Generation) -> Iterable[str]:
    """Every name the generation's product renders to (first sequence number; refused ones left out).

    What a conflict check of a validate-only generation checks: the whole
    output, rendered again rather than stored (it may be a million names).
    """
    keys, lists, codes_by_key, specs, constraints = _product_plan(generation)
    for combo_values in itertools.product(*lists):
        combo = dict(zip(keys, combo_values))
        codes = {k: codes_by_key[k].get(v, "") for k, v in combo.items()}
        for _field, spec in specs:
            result = renderer.render(spec, combo, codes=codes, seq=1, constraints=constraints)
            if result.ok:
                yield result.value


def generation_run(generation: Generation, progress) -> None:
    """The job: render the cartesian product in chunks and store the names (or only check them).

    Each chunk is committed with its progress report. Whatever stops a run, it
    never leaves half an output behind for good: a run first removes what an
    earlier attempt of this generation stored (a retry after a kill, a database
    restart or a time-out makes each name exactly once, and auto-increment makes
    no second set); a failure it sees removes its names unless the generation
    continues on errors; and a run killed outright is cleaned up when the
    reconciler fails it (`generation_reconciled_failure`).
    """
    from app.platform.jobs import JobError, JobSuperseded

    options = generation.options or {}
    keys, lists, codes_by_key, specs, constraints = _product_plan(generation)
    fields = [field for field, _ in specs]
    total = max(1, options.get("size") or 1)
    tally = _Tally()
    chunk_size = 5000
    combos = itertools.product(*lists)
    done = 0
    if _remove_names(generation.id, options, commit=False):  # else committed with the first chunk
        progress(0, "Removed the names of an earlier attempt")
    try:
        while True:
            batch = list(itertools.islice(combos, max(1, chunk_size // max(1, len(fields)))))
            if not batch:
                break
            _generate_chunk(generation, batch, keys, codes_by_key, specs, constraints, options, tally)
            done += len(batch) * len(fields)
            progress(min(99, done * 100 / total), f"{done:,} of {total:,} names")
    except JobSuperseded:
        raise  # the row has a new owner (a retry): its names are that run's to keep or remove
    except BaseException as exc:
        if isinstance(exc, JobError) or not options.get("continue_on_error"):
            _undo_after_failure(generation.id, options)
        raise
    if tally.error_count and not options.get("continue_on_error"):
        _undo(generation, options)
        first = tally.errors[0]
        raise JobError(f"{tally.error_count:,} name(s) could not be made; nothing was kept. First: "
                       f"{first['value'] or first['field']}: {first['reason']}")
    generation.result_count = tally.made
    generation.result = {"errors": tally.errors, "error_count": tally.error_count, "sample": tally.sample,
                         "incremented": tally.incremented, "conflicts": tally.conflicts,
                         "validate_only": bool(options.get("validate_only"))}


def _remove_names(generation_id: int, options: dict, *, only_if_failed: bool = False, commit: bool = True) -> int:
    """Delete the names stored by generation `generation_id`. Returns how many."""
    if options.get("validate_only"):
        return 0
    stmt = sa.delete(GeneratedName).where(GeneratedName.generation_id == generation_id)
    if only_if_failed:  # the reconciler's clean-up must not remove what a retry (running again) made meanwhile
        stmt = stmt.where(sa.exists().where(Generation.id == generation_id,
                                            Generation.status == Generation.status_value(FAILED)))
    removed = db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount
    if commit:
        db.session.commit()
    return removed


def _undo(generation: Generation, options: dict) -> None:
    _remove_names(generation.id, options)


def _undo_after_failure(generation_id: int, options: dict) -> None:
    """Remove a failed run's names; if that fails too (the database went away), the reconciler or a retry will."""
    try:
        db.session.rollback()
        _remove_names(generation_id, options)
    except Exception:
        db.session.rollback()
        log.exception("generation #%s: could not remove the names of the failed run; a retry removes them",
                      generation_id)


def generation_reconciled_failure(generation_id: int, reason: str) -> None:
    """The reconciler failed a generation whose job died unseen (killed): without continue-on-error,
    nothing it made is kept."""
    generation = db.session.get(Generation, generation_id)
    if generation is None or (generation.options or {}).get("continue_on_error"):
        return
    removed = _remove_names(generation_id, generation.options or {}, only_if_failed=True)
    if removed:
        log.warning("generation #%s failed (%s); removed the %s name(s) it had stored", generation_id, reason, removed)


def _generate_chunk(generation, batch, keys, codes_by_key, specs, constraints, options, tally) -> None:
    pending: list[tuple[RuleField, renderer.FieldSpec, dict, str, int]] = []
    for combo_values in batch:
        combo = dict(zip(keys, combo_values))
        codes = {k: codes_by_key[k].get(v, "") for k, v in combo.items()}
        for field, spec in specs:
            result = renderer.render(spec, combo, codes=codes, seq=1, constraints=constraints)
            if not result.ok:
                tally.error(None, field.name, combo, "; ".join(result.refusals))
                continue
            pending.append((field, spec, combo, result.value, 1))
    validate_only = options.get("validate_only")
    auto = options.get("auto_increment")
    now = utcnow()
    rounds = 0
    while pending:
        rounds += 1
        seen: set[str] = set()
        unique, clashes = [], []
        for item in pending:
            (clashes if item[3] in seen else unique).append(item)
            seen.add(item[3])
        if validate_only:
            taken = _existing_values(generation.workspace_id, [i[3] for i in unique])
            inserted = {i[3] for i in unique} - taken
        else:
            inserted = _insert_names([_name_row(generation, f, v, c, now) for f, _, c, v, _ in unique])
        retry = []
        for index, item in enumerate(unique + clashes):
            field, spec, combo, value, seq = item
            if value in inserted and index < len(unique):
                tally.made += 1
                if seq > 1:
                    tally.incremented += 1
                if validate_only and len(tally.sample) < SAMPLE_LIMIT:
                    tally.sample.append({"value": value, "field": field.name})
                continue
            tally.conflicts += 1
            if auto and renderer.has_seq(spec.pattern) and rounds < 50:
                nxt = seq + 1
                codes = {k: codes_by_key[k].get(v, "") for k, v in combo.items()}
                result = renderer.render(spec, combo, codes=codes, seq=nxt, constraints=constraints)
                if result.ok:
                    retry.append((field, spec, combo, result.value, nxt))
                    continue
                tally.error(value, field.name, combo, "; ".join(result.refusals))
                continue
            tally.error(value, field.name, combo, "already taken by an active name in this workspace")
        pending = retry


ONE_NAME_TRIES = 1000  # sequence numbers tried by "one name now" before it gives up


def name_now(*, workspace, rule: Rule, field_id=None, values: dict, user) -> dict:
    """"One name now": render one name from the chosen values, take the first free sequence number, and record
    it like a generated name (a submission, then the name with its rule, field, values and sequence number).

    Returns {"name", "repairs", "skipped"} (the taken names passed over); a refusal raises RulesError with the
    renderer's reasons in `problems`.
    """
    fields = [f for f in rule.fields if field_id in (None, "") or str(f.id) == str(field_id)]
    if not fields:
        raise RulesError("Choose a field of this rule." if rule.fields else "Add a field to this rule first.",
                         "field")
    field = fields[0]
    chosen = _clean_values(workspace, rule, [field], {k: [v] for k, v in (values or {}).items() if v})
    combo = {key: options[0] for key, options in chosen.items()}
    cache = _RenderCache(workspace.id)
    spec, constraints = cache.spec(field)
    skipped: list[str] = []
    for seq in range(1, ONE_NAME_TRIES + 1):
        result = renderer.render(spec, combo, codes=cache.codes_for(combo), seq=seq, constraints=constraints)
        if not result.ok:
            raise RulesError("This name can't be made: " + "; ".join(result.refusals), "values", result.refusals)
        name = _record_one_name(workspace, rule, field, combo, result.value, seq, user)
        if name is not None:
            return {"name": name, "repairs": result.repairs, "skipped": skipped}
        if not renderer.has_seq(spec.pattern):
            raise RulesError(f"{result.value!r} is already an active name, and the pattern has no sequence number "
                             "to make another.", "values")
        skipped.append(result.value)
    raise RulesError(f"The first {ONE_NAME_TRIES} sequence numbers are all taken.", "values")


def name_repairs(name: GeneratedName) -> list[str]:
    """The repairs rendering `name` takes under the current rules (what "one name now" explains)."""
    if not _usable(name):
        return []
    cache = _RenderCache(name.workspace_id)
    spec, constraints = cache.spec(name.field)
    combo = dict(name.dimension_values or {})
    result = renderer.render(spec, combo, codes=cache.codes_for(combo), seq=name.sequence or 1,
                             constraints=constraints)
    return result.repairs if result.value == name.value else []


def _record_one_name(workspace, rule, field, combo, value, seq, user) -> Optional[GeneratedName]:
    """Store the name if nobody has it (the partial unique index decides, races included); None if taken."""
    if _existing_values(workspace.id, [value]):
        return None
    submission = Submission(organization_id=workspace.organization_id, workspace_id=workspace.id,
                            note="One name now", submitted_by_id=getattr(user, "id", None))
    name = GeneratedName(organization_id=workspace.organization_id, workspace_id=workspace.id, value=value,
                         normalized=renderer.normalize(value)[:255], reversed_value=value[::-1],
                         dimension_values=combo, rule_id=rule.id, field_id=field.id, submission=submission,
                         sequence=seq, created_by_id=getattr(user, "id", None))
    try:
        with db.session.begin_nested():
            db.session.add_all([submission, name])
            db.session.flush()
    except IntegrityError:
        return None
    db.session.commit()
    return name


def generations_query(workspace, *, status: str = "", rule_id: str = "", user_id: str = "") -> sa.Select:
    stmt = sa.select(Generation).where(Generation.workspace_id == workspace.id)
    if status in ("pending", "in_progress", "completed", "failed"):
        stmt = stmt.where(Generation.status == status)
    if parse_id(rule_id) is not None:
        stmt = stmt.where(Generation.rule_id == parse_id(rule_id))
    if parse_id(user_id) is not None:
        stmt = stmt.where(Generation.requested_by_id == parse_id(user_id))
    return stmt.order_by(Generation.created_at.desc(), Generation.id.desc())


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------
def names_query(workspace, *, q: str = "", rule_id: str = "", status: str = "active", dimension: str = "",
                value: str = "", generation_id: str = "") -> sa.Select:
    stmt = sa.select(GeneratedName).where(GeneratedName.workspace_id == workspace.id)
    if status == "released":
        stmt = stmt.where(GeneratedName.is_active.is_(False))
    elif status != "all":
        stmt = stmt.where(GeneratedName.is_active.is_(True))
    if q:
        stmt = stmt.where(textsearch.contains(GeneratedName.value, q))
    if parse_id(rule_id) is not None:
        stmt = stmt.where(GeneratedName.rule_id == parse_id(rule_id))
    if parse_id(generation_id) is not None:
        stmt = stmt.where(GeneratedName.generation_id == parse_id(generation_id))
    if dimension and value:
        # A dimension key becomes part of a JSON path (SQLite: `$."key"`): only a well-formed key gets that far
        # (a quote would break the path: a 500); no dimension has any other key, so nothing matches.
        stmt = stmt.where(GeneratedName.dimension_values[dimension].as_string() == value if KEY_RE.match(dimension)
                          else sa.false())
    return stmt.order_by(GeneratedName.created_at.desc(), GeneratedName.id.desc())


def name_release(*, name: GeneratedName, user, reason: str = "") -> GeneratedName:
    return _soft(name, user, delete=True, reason=reason or "released")


def name_restore(*, name: GeneratedName, user) -> GeneratedName:
    try:
        name.restore(user=user)
    except SoftDeleteError as exc:
        raise RulesError(str(exc)) from exc
    _commit(f"{name.value!r} has been taken again since it was released.")
    return name


# ---------------------------------------------------------------------------
# Conflict checks
# ---------------------------------------------------------------------------
def _split_proposed(proposed, limit: int, bigger: str = "") -> list[str]:
    if isinstance(proposed, str):
        proposed = proposed.splitlines()
    if not isinstance(proposed, (list, tuple)):
        raise RulesError("Send the proposed names as a list of strings.", "proposed_strings")
    values = list(dict.fromkeys(str(v).strip() for v in (proposed or []) if str(v).strip()))
    if not values:
        raise RulesError("Paste at least one name, one per line.", "proposed_strings")
    if len(values) > limit:
        raise RulesError(f"That is {len(values):,} names; check at most {limit:,} at a time. {bigger}".strip(),
                         "proposed_strings")
    too_long = [v for v in values if len(v) > 255]
    if too_long:
        raise RulesError(f"Names are at most 255 characters ({too_long[0][:30]}… is longer).", "proposed_strings")
    return values


def _check_target(workspace, scope: str, platform_id, rule_id) -> tuple[Optional[Platform], Optional[Rule]]:
    """The platform whose rules are checked and the rule/platform that bounds the scope."""
    if scope not in SCOPES:
        raise RulesError("Choose a scope: workspace, platform or rule.", "scope")
    rule = platform = None
    if rule_id not in (None, ""):
        rule = db.session.scalars(Rule.select_active().where(Rule.workspace_id == workspace.id,
                                                             Rule.id == _as_int(rule_id))).first()
        if rule is None:
            raise RulesError("Choose a rule of this workspace.", "rule_id")
        platform = rule.platform
    if platform_id not in (None, "") and rule is None:
        platform = _platform_in(workspace, platform_id)
    if scope == "rule" and rule is None:
        raise RulesError("Choose the rule to check against.", "rule_id")
    if scope == "platform" and platform is None:
        raise RulesError("Choose the platform to check against.", "platform_id")
    return platform, rule


def conflict_check_create(*, workspace, proposed, scope: str = "workspace", platform_id=None, rule_id=None,
                          user=None, limit: int = MAX_CHECK_SIZE, bigger: str = "") -> ConflictCheck:
    """Record a check of proposed names and queue it; the job stores the findings (`conflict_check_run`).

    `limit` is the caller's: the pasted form keeps a page's worth
    (MAX_PASTED_NAMES, `bigger` says where larger checks go), the JSON API
    takes MAX_CHECK_SIZE, and a generation's output is checked whole.
    """
    from app.platform.jobs import job_submit

    values = _split_proposed(proposed, limit, bigger)
    platform, rule = _check_target(workspace, scope, platform_id, rule_id)
    check = ConflictCheck(organization_id=workspace.organization_id, workspace_id=workspace.id,
                          proposed_strings=values, proposed_count=len(values), scope=scope, platform=platform,
                          rule=rule, checked_by_id=getattr(user, "id", None))
    return job_submit(check)


def conflict_check_of_generation(*, generation: Generation, user=None) -> ConflictCheck:
    """Queue a check of everything a validate-only generation would make, against its rule's platform."""
    from app.platform.jobs import SUCCEEDED, job_submit

    if not (generation.options or {}).get("validate_only") or generation.logical_status != SUCCEEDED:
        raise RulesError("Only a completed validate-only generation can be checked before its names are stored.")
    if generation.rule is None or not generation.rule.is_active:
        raise RulesError("The generation's rule has been deleted.")
    check = ConflictCheck(organization_id=generation.organization_id, workspace_id=generation.workspace_id,
                          generation=generation, proposed_strings=[], scope="workspace",
                          proposed_count=(generation.options or {}).get("size") or 0,
                          platform_id=generation.rule.platform_id, checked_by_id=getattr(user, "id", None))
    return job_submit(check)


def conflict_check_run(check: ConflictCheck, progress) -> None:
    """The job: match the names against the workspace's active names in chunks and store every finding.

    Findings are kept in memory and written at the end, in the transaction
    that marks the check completed: a check shows all its findings or none.
    A retry starts over (old findings deleted).
    """
    from app.platform.jobs import JobError

    workspace = _workspace_of(check)
    if check.generation_id is not None:
        if check.generation is None:
            raise JobError("The generation this check was for has been deleted.")
        progress(1, "Rendering the generation's names")
        values = list(dict.fromkeys(generation_output(check.generation)))
        check.proposed_count = len(values)
    else:
        values = list(check.proposed_strings or [])
    db.session.execute(sa.delete(ConflictResult).where(ConflictResult.check_id == check.id))
    findings: list[tuple[str, str, str, Optional[int]]] = []
    for start in range(0, len(values), CHECK_CHUNK):
        findings.extend(find_conflicts(workspace, values[start:start + CHECK_CHUNK], scope=check.scope,
                                       platform=check.platform, rule=check.rule))
        done = min(len(values), start + CHECK_CHUNK)
        progress(5 + 90 * done / max(1, len(values)), f"{done:,} of {len(values):,} names checked")
    _store_findings(check, findings)


def _store_findings(check: ConflictCheck, findings: list[tuple[str, str, str, Optional[int]]]) -> None:
    now = utcnow()
    table = ConflictResult.__table__
    for start in range(0, len(findings), 5000):
        db.session.execute(sa.insert(table), [
            {"check_id": check.id, "proposed_value": value, "severity": severity, "message": message,
             "conflicting_string_id": string_id, "created_at": now, "updated_at": now}
            for value, severity, message, string_id in findings[start:start + 5000]])
    counts: dict[str, int] = {}
    for _value, severity, _message, _sid in findings:
        counts[severity] = counts.get(severity, 0) + 1
    check.conflicts_found = len(findings)
    check.severity_counts = {s: counts[s] for s in reversed(SEVERITIES) if s in counts}
    check.max_severity = max(counts, key=SEVERITIES.index) if counts else None


def conflict_results_query(check: ConflictCheck, *, severity: str = "") -> sa.Select:
    """A check's findings, worst severity first, then in the order they were found (the page, its fragment
    and the JSON API all list them so)."""
    stmt = sa.select(ConflictResult).where(ConflictResult.check_id == check.id)
    if severity in SEVERITIES:
        stmt = stmt.where(ConflictResult.severity == severity)
    return stmt.order_by(sa.literal_column(SEVERITY_RANK_SQL), ConflictResult.id)  # idx_conflict_result_worst_first


def _as_int(value) -> int:
    number = parse_id(value)
    return -1 if number is None else number


def find_conflicts(workspace, values: list[str], *, scope: str = "workspace", platform=None, rule=None):
    """(value, severity, message, conflicting string id) for every finding among `values` (one chunk).

    critical: breaks the platform's rules (the renderer's own check, in Python);
    then at most one of error (exact active duplicate), warning (the same once
    case and delimiters are ignored) and info (one edit away), matched set-based
    in SQL against the active names in scope (`_match_names`).
    """
    constraints = constraints_of(platform) if platform is not None else None
    uniqueness = platform.uniqueness_scope if platform is not None and scope == "platform" else ""
    matches = _match_names(workspace, values, scope, platform, rule, uniqueness)
    found: list[tuple[str, str, str, Optional[int]]] = []
    for value in values:
        if constraints is not None:
            problems = renderer.violations(value, constraints)
            if problems:
                found.append((value, "critical", f"Breaks {platform.name}'s rules: {'; '.join(problems)}.", None))
        match = matches.get(value)
        if match is not None:
            severity, string_id, other = match
            message = _FINDING_MESSAGES[severity].format(value=value, other=other)
            if severity == "error" and uniqueness:
                severity, message = _uniqueness_finding(value, platform, uniqueness)
            found.append((value, severity, message, string_id))
    return found


def _uniqueness_finding(value: str, platform: Platform, uniqueness: str) -> tuple[str, str]:
    """An exact duplicate, judged by where the platform's names must be unique."""
    entry = platform.catalogue_entry
    where = (entry.scope_label if entry else "") or catalogue.UNIQUENESS[uniqueness].lower()
    if uniqueness == "global":
        return "error", (f"{value!r} is already an active name in this organization: {platform.name} names are "
                         "unique globally.")
    if uniqueness == "account":
        return "error", f"{value!r} is already an active name: {platform.name} names are unique within the {where}."
    return "warning", (f"{value!r} is already an active name of {platform.name}: a clash only if both are in the "
                       f"same {where}.")


_FINDING_MESSAGES = {
    "error": "{value!r} is already an active name.",
    "warning": "Same as {other!r} once case and delimiters are ignored.",
    "info": "One edit away from {other!r}.",
}

# The proposed names of one chunk, staged once and joined against `strings` by the three queries below.
# One row per value and candidate length m (len - 1, len, len + 1): two names one edit apart (one
# insertion, deletion or substitution) share, at the longer-or-equal one's length m, either its first
# m // 2 characters or its last m - m // 2, so `head`/`tail` meet the expression indexes
# idx_string_active_len_head/_tail exactly; the candidates found are then checked for one edit.
_PROBE_TABLE = "rules_conflict_probe"
# Bandit B608 reviewed below (docs/security-scan.md): these statements are assembled from this module's constants and
# fixed fragments only (the table name above, `_ONE_EDIT_SQL`, the scope clauses); every user value is a bound
# parameter (:ws, :values, :rule_id...).
_PROBE_COLUMNS = ("value", "normalized", "len", "m", "head", "tail")
_PROBE_DDL = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PROBE_TABLE} (value TEXT NOT NULL, normalized TEXT NOT NULL, "
              "len INTEGER NOT NULL, m INTEGER NOT NULL, head TEXT NOT NULL, tail TEXT NOT NULL)")
_EXACT_SQL = (f"SELECT p.value, min(s.id), p.value FROM {_PROBE_TABLE} p JOIN strings s "  # nosec B608
              "ON s.workspace_id = :ws AND s.is_active AND s.value = p.value{scope} "
              "WHERE p.m = p.len GROUP BY p.value")
_NORMALIZED_SQL = (f"SELECT x.value, s.id, s.value FROM (SELECT p.value AS value, min(s.id) AS sid "  # nosec B608
                   f"FROM {_PROBE_TABLE} p JOIN strings s ON s.workspace_id = :ws AND s.is_active "
                   "AND s.normalized = p.normalized AND s.value <> p.value{scope} WHERE p.m = p.len "
                   "GROUP BY p.value) x JOIN strings s ON s.id = x.sid")
# One edit away: per staged row, the first active name of length m sharing its head (else its tail) that is
# one edit away. Correlated subqueries with LIMIT 1 stop at the first neighbour: in a workspace of very
# regular names (one rule, a few characters apart) a half can be shared by a thousand names, and a join
# would check every one of them (measured: 7x slower there, 3x slower on unrelated names).
_NEAR_CANDIDATE = ("(SELECT s.id FROM strings s WHERE s.workspace_id = :ws AND s.is_active AND length(s.value) = p.m "
                   "AND {half}{scope} AND {one_edit} LIMIT 1)")
_NEAR_SQL = ("SELECT x.value, s.id, s.value FROM (SELECT c.value AS value, min(c.sid) AS sid FROM ("  # nosec B608
             "SELECT p.value AS value, coalesce("
             + _NEAR_CANDIDATE.replace("{half}", "substr(s.value, 1, length(s.value) / 2) = p.head") + ", "
             + _NEAR_CANDIDATE.replace("{half}", "substr(s.value, length(s.value) / 2 + 1) = p.tail")
             + f") AS sid FROM {_PROBE_TABLE} p) c WHERE c.sid IS NOT NULL GROUP BY c.value) x "
             "JOIN strings s ON s.id = x.sid")
# PostgreSQL: fuzzystrmatch (migration 0006) in C; SQLite: the renderer's own function, registered below.
_ONE_EDIT_SQL = {"postgresql": "levenshtein_less_equal(s.value, p.value, 1) = 1",
                 "sqlite": "rules_one_edit(s.value, p.value)"}
# SQLite compares an index expression with a column of the outer query only without the column's affinity:
# `length(s.value) = p.m` uses just the index's first column (a scan of the workspace, or of the whole
# organization for a global platform, per probe), `= +p.m` uses all three.
_SQLITE_NEAR_KEYS = (("= p.m ", "= +p.m "), ("= p.head", "= +p.head"), ("= p.tail", "= +p.tail"))


def _probe_rows(values: list[str]) -> list[tuple]:
    rows = []
    for value in values:
        n, normal = len(value), renderer.normalize(value)[:255]
        for m in (n - 1, n, n + 1):
            if m >= 1:
                rows.append((value, normal, n, m, value[:m // 2], value[n - (m - m // 2):]))
    return rows


# PostgreSQL stages from two arrays and derives the rest (as _probe_rows does): sending six arrays of three
# rows per name costs more in the driver than the whole match.
_PG_STAGE = (f"INSERT INTO {_PROBE_TABLE} SELECT t.value, t.normalized, length(t.value), length(t.value) + d.d, "  # nosec B608
             "substr(t.value, 1, (length(t.value) + d.d) / 2), "
             "substr(t.value, length(t.value) - ((length(t.value) + d.d) - (length(t.value) + d.d) / 2) + 1) "
             "FROM unnest(CAST(:values AS text[]), CAST(:normalized AS text[])) AS t(value, normalized) "
             "CROSS JOIN (VALUES (-1), (0), (1)) AS d(d) WHERE length(t.value) + d.d >= 1")


def _stage_probes(values: list[str], dialect: str) -> None:
    if dialect == "postgresql":
        # These statements are many index lookups, each cheap; their summed cost estimate passes
        # jit_above_cost, and compiling them (about a second) costs more than running them.
        db.session.execute(sa.text("SET LOCAL jit = off"))
        db.session.execute(sa.text(_PROBE_DDL + " ON COMMIT DELETE ROWS"))
        db.session.execute(sa.text(f"DELETE FROM {_PROBE_TABLE}"))  # nosec B608
        db.session.execute(sa.text(_PG_STAGE), {"values": values,
                                                "normalized": [renderer.normalize(v)[:255] for v in values]})
        db.session.execute(sa.text(f"ANALYZE {_PROBE_TABLE}"))  # a temp table has no statistics until told
        return
    rows = _probe_rows(values)
    connection = db.session.connection().connection.driver_connection
    connection.create_function("rules_one_edit", 2, renderer.one_edit_apart, deterministic=True)
    db.session.execute(sa.text(_PROBE_DDL))
    db.session.execute(sa.text(f"DELETE FROM {_PROBE_TABLE}"))  # nosec B608
    db.session.execute(sa.text(f"INSERT INTO {_PROBE_TABLE} VALUES (:value, :normalized, :len, :m, :head, :tail)"),  # nosec B608
                       [dict(zip(_PROBE_COLUMNS, row)) for row in rows])


def _match_names(workspace, values: list[str], scope: str, platform, rule,
                 uniqueness: str = "") -> dict[str, tuple[str, int, str]]:
    """value -> (severity, conflicting string id, its value) for the worst of exact / normalised / near.

    A platform whose names are unique globally is checked against the names
    of every workspace of the organization made for the same platform (the
    same catalogue entry, or itself).
    """
    if not values:
        return {}
    dialect = db.session.get_bind().dialect.name
    _stage_probes(values, dialect)
    params: dict[str, Any] = {"ws": workspace.id}
    scope_sql, tenant = "", ""
    if scope == "rule" and rule is not None:
        scope_sql, params["rule_id"] = " AND s.rule_id = :rule_id", rule.id
    elif scope == "platform" and platform is not None and uniqueness == "global":
        tenant, params["org"] = "s.organization_id = :org", workspace.organization_id
        scope_sql = (" AND s.rule_id IN (SELECT r.id FROM rules r JOIN rule_platforms rp ON rp.id = r.platform_id "
                     "WHERE rp.organization_id = :org AND (rp.id = :platform_id OR (rp.catalogue_key <> '' "
                     "AND rp.catalogue_key = :catalogue_key)))")
        params["platform_id"], params["catalogue_key"] = platform.id, platform.catalogue_key
    elif scope == "platform" and platform is not None:
        scope_sql = " AND s.rule_id IN (SELECT id FROM rules WHERE platform_id = :platform_id)"
        params["platform_id"] = platform.id
    found: dict[str, tuple[str, int, str]] = {}
    # Least severe first: a worse match of the same value replaces it.
    for severity, sql in (("info", _NEAR_SQL), ("warning", _NORMALIZED_SQL), ("error", _EXACT_SQL)):
        if tenant:
            sql = sql.replace("s.workspace_id = :ws", tenant)
        if dialect == "sqlite" and severity == "info":
            for plain, bare in _SQLITE_NEAR_KEYS:
                sql = sql.replace(plain, bare)
        statement = sa.text(sql.replace("{scope}", scope_sql).replace("{one_edit}", _ONE_EDIT_SQL[dialect]))
        for value, string_id, other in db.session.execute(statement, params):
            found[value] = (severity, string_id, other)
    db.session.execute(sa.text(f"DELETE FROM {_PROBE_TABLE}"))  # nosec B608
    return found


# ---------------------------------------------------------------------------
# Import / export
# ---------------------------------------------------------------------------
EXPORT_VERSION = 1


def workspace_export(workspace) -> dict:
    return {
        "cairn_rules_export": EXPORT_VERSION,
        "workspace": workspace.name,
        "dimensions": [
            {"key": d.key, "label": d.label, "description": d.description, "kind": d.kind,
             "min_length": d.min_length, "max_length": d.max_length,
             "values": [{"value": v.value, "label": v.label, "short_code": v.short_code} for v in active_values(d)]}
            for d in dimensions_of(workspace)],
        "platforms": [
            {k: getattr(p, k) for k in ("name", "description", "max_length", "min_length", "allowed_chars", "regex",
                                          "lowercase_only", "invalid_first_chars", "invalid_last_chars",
                                          "invalid_consecutive_chars", "uniqueness_scope", "catalogue_key",
                                          "catalogue_version")}
            for p in db.session.scalars(Platform.select_active().where(Platform.workspace_id == workspace.id)
                                        .order_by(Platform.name))],
        "rules": [
            {"name": r.name, "description": r.description, "platform": r.platform.name,
             "fields": [{"name": f.name, "pattern": f.pattern, "casing": f.casing, "delimiter": f.delimiter,
                         "fallback_delimiters": f.fallback_delimiters, "max_length": f.max_length,
                         "truncation": f.truncation} for f in r.fields]}
            for r in db.session.scalars(Rule.select_active().where(Rule.workspace_id == workspace.id)
                                        .order_by(Rule.name))],
    }


def workspace_import(*, workspace, document: Any) -> dict:
    """Create or update dimensions, platforms and rules from an export. All or nothing.

    Every problem is collected first and reported together; if there is any,
    nothing is written. Existing rows are matched by key/name and updated.
    """
    problems: list[str] = []
    if not isinstance(document, dict) or document.get("cairn_rules_export") != EXPORT_VERSION:
        raise RulesError("This is not a Cairn rules export (version 1).", "file")
    counts = {"dimensions": 0, "values": 0, "platforms": 0, "rules": 0, "fields": 0}
    try:
        with db.session.no_autoflush:
            _import_all(workspace, document, problems, counts)
        if problems:
            raise RulesError(f"{len(problems)} problem(s); nothing was imported.", "file", problems)
        db.session.flush()
    except RulesError as exc:
        db.session.rollback()
        if not exc.problems:
            exc.problems = [str(exc)]
        raise
    except (IntegrityError, TypeError, ValueError, AttributeError) as exc:
        db.session.rollback()
        raise RulesError("The document has an unexpected shape; nothing was imported.", "file", [str(exc)[:300]])
    db.session.commit()
    counts["stale"], counts["stale_exact"] = stale_estimate(workspace.id)
    return counts


def _catch(problems: list[str], where: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except RulesError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _import_all(workspace, document: dict, problems: list[str], counts: dict) -> None:
    sequences_snapshot(names_in_scope(workspace.id, "workspace", None))  # before any value, code or field changes
    dims = {d.key: d for d in dimensions_of(workspace, include_deleted=True)}
    for i, item in enumerate(document.get("dimensions") or []):
        key = str(item.get("key", "")).strip().lower()
        where = f"dimension {str(item.get('key', '')).strip() or i + 1}"
        checked = _catch(problems, where, _check_dimension, key, item.get("kind", "list"), item.get("min_length"),
                         item.get("max_length"))
        if checked is None:
            continue
        dim = dims.get(key)
        if dim is None:
            dim = Dimension(organization_id=workspace.organization_id, workspace_id=workspace.id, key=key,
                            kind=item.get("kind", "list"), position=len(dims) + 1)
            db.session.add(dim)
            dims[key] = dim
        elif not dim.is_active:
            dim.is_active, dim.deleted_at, dim.delete_reason = True, None, ""
        dim.label = str(item.get("label") or "")[:120]
        dim.description = str(item.get("description") or "")
        dim.min_length, dim.max_length = checked
        counts["dimensions"] += 1
        existing = {v.value: v for v in dim.values}
        for j, v in enumerate(item.get("values") or []):
            value = _catch(problems, f"{where} value {j + 1}", _check_value, dim, str(v.get("value", "")),
                           str(v.get("short_code") or ""))
            if value is None:
                continue
            row = existing.get(value)
            if row is None:
                row = DimensionValue(organization_id=workspace.organization_id, workspace_id=workspace.id,
                                     value=value, position=j + 1)
                dim.values.append(row)
                existing[value] = row
            row.label, row.short_code = str(v.get("label") or "")[:120], str(v.get("short_code") or "")
            row.is_active = True
            counts["values"] += 1
    db.session.flush()
    platforms = {p.name: p for p in db.session.scalars(sa.select(Platform).where(Platform.workspace_id == workspace.id))}
    for i, item in enumerate(document.get("platforms") or []):
        fields = _catch(problems, f"platform {item.get('name') or i + 1}", _platform_fields, dict(item))
        if fields is None:
            continue
        platform = platforms.get(fields["name"])
        if platform is None:
            platform = Platform(organization_id=workspace.organization_id, workspace_id=workspace.id)
            db.session.add(platform)
            platforms[fields["name"]] = platform
        for k, v in fields.items():
            setattr(platform, k, v)
        platform.catalogue_key = str(item.get("catalogue_key") or "")[:200]
        version = item.get("catalogue_version")
        platform.catalogue_version = version if isinstance(version, int) else None
        platform.is_active = True
        counts["platforms"] += 1
    db.session.flush()
    rules = {r.name: r for r in db.session.scalars(sa.select(Rule).where(Rule.workspace_id == workspace.id))}
    known_keys = {k for k, d in dims.items() if d.is_active}
    for i, item in enumerate(document.get("rules") or []):
        name = str(item.get("name") or "").strip()
        where = f"rule {name or i + 1}"
        platform = platforms.get(item.get("platform"))
        before = len(problems)
        if not name:
            problems.append(f"{where}: it has no name.")
        if platform is None:
            problems.append(f"{where}: unknown or invalid platform {item.get('platform')!r}.")
        specs = []
        for j, f in enumerate(item.get("fields") or []):
            spec = _catch(problems, f"{where} field {f.get('name') or j + 1}", _import_spec, known_keys, dict(f))
            if spec is not None:
                specs.append((str(f.get("name") or f"Field {j + 1}")[:120], spec))
        if len(problems) > before:
            continue
        rule = rules.get(name)
        if rule is None:
            rule = Rule(organization_id=workspace.organization_id, workspace_id=workspace.id, name=name[:120])
            db.session.add(rule)
            rules[name] = rule
        rule.description, rule.platform, rule.is_active = str(item.get("description") or ""), platform, True
        _import_fields(rule, specs)
        counts["fields"] += len(specs)
        counts["rules"] += 1


def _import_fields(rule: Rule, specs: list[tuple[str, renderer.FieldSpec]]) -> None:
    """Update the rule's fields in place, matched by name: its names keep their link to their field."""
    existing: dict[str, list[RuleField]] = {}
    for field in rule.fields:
        existing.setdefault(field.name, []).append(field)
    for position, (field_name, spec) in enumerate(specs, start=1):
        matches = existing.get(field_name) or []
        field = matches.pop(0) if matches else None
        if field is None:
            field = RuleField(name=field_name)
            rule.fields.append(field)
        field.position = position
        _apply_spec(field, spec)
    for gone in (f for fields in existing.values() for f in fields):
        rule.fields.remove(gone)


def _import_spec(known_keys: set[str], data: dict) -> renderer.FieldSpec:
    try:
        keys = renderer.placeholders(str(data.get("pattern") or ""))
    except renderer.PatternError as exc:
        raise RulesError(str(exc)) from exc
    unknown = [k for k in keys if k not in known_keys]
    if unknown:
        raise RulesError(f"unknown dimension(s) {', '.join(unknown)}")

    casing, truncation = data.get("casing") or "as_is", data.get("truncation") or "refuse"
    if casing not in CASINGS or truncation not in TRUNCATIONS:
        raise RulesError("unknown casing or truncation")
    delimiter = str(data.get("delimiter") or "")
    if len(delimiter) > 5 or delimiter.isalnum():
        raise RulesError("a delimiter is up to 5 punctuation characters")
    return renderer.FieldSpec(pattern=str(data["pattern"])[:500], casing=casing, delimiter=delimiter,
                              fallback_delimiters=str(data.get("fallback_delimiters") or "")[:20],
                              max_length=_int_or_none(data.get("max_length")), truncation=truncation)


# ---------------------------------------------------------------------------
# Propagation: names keep their identity (id, sequence number, rule field) when rules change
# ---------------------------------------------------------------------------
STALE_SHOWN = 500  # stale names names_stale() returns with what they'd become; the count covers all of them
STALE_PAGE = 100  # stale names per page of Names -> Stale
STALE_INLINE = 2_000  # up to this many names in scope are rendered on the request; past it, a StaleScan job


class _RenderCache:
    """What re-rendering a workspace's names needs, loaded once: short codes, specs and constraints per field."""

    def __init__(self, workspace_id: int, code_overrides: dict[tuple[str, str], str] | None = None) -> None:
        self.codes: dict[str, dict[str, str]] = {}
        rows = db.session.execute(
            sa.select(Dimension.key, DimensionValue.value, DimensionValue.short_code)
            .join(DimensionValue, DimensionValue.dimension_id == Dimension.id)
            .where(Dimension.workspace_id == workspace_id, DimensionValue.is_active.is_(True)))
        for key, value, code in rows:
            if code:
                self.codes.setdefault(key, {})[value] = code
        for (key, value), code in (code_overrides or {}).items():
            self.codes.setdefault(key, {})[value] = code
        self.free_text = free_text_keys(workspace_id)
        self._specs: dict[int, tuple[renderer.FieldSpec, renderer.Constraints]] = {}

    def codes_for(self, combo: dict) -> dict[str, str]:
        return {k: self.codes.get(k, {}).get(str(v), "") for k, v in combo.items()}

    def spec(self, field: RuleField) -> tuple[renderer.FieldSpec, renderer.Constraints]:
        if field.id not in self._specs:
            self._specs[field.id] = (spec_of(field, self.free_text), constraints_of(field.rule.platform))
        return self._specs[field.id]


def _locate_sequence(name: GeneratedName, cache: _RenderCache) -> Optional[int]:
    """Read a name's sequence number off its value: render its values under the current rules and take the
    digits where the sequence goes, if everything else agrees (None when it doesn't: the name is stale)."""
    spec, constraints = cache.spec(name.field)
    if not renderer.has_seq(spec.pattern):
        return 1
    combo = dict(name.dimension_values or {})
    result = renderer.render(spec, combo, codes=cache.codes_for(combo), seq=1, constraints=constraints)
    if not result.ok or result.seq_span is None or len(result.value) != len(name.value):
        return None
    start, end = result.seq_span
    digits = name.value[start:end]
    if digits.isdigit() and name.value[:start] == result.value[:start] and name.value[end:] == result.value[end:]:
        return int(digits)
    return None


def _usable(name: GeneratedName) -> bool:
    return name.field is not None and name.rule is not None and name.rule.is_active


def sequences_snapshot(stmt: sa.Select, cache: _RenderCache | None = None) -> None:
    """Record the sequence number of every name `stmt` selects that has none yet, under the rules as they are.

    Called just before a change to what those names render from (a value,
    short code, field, rule or platform): afterwards the number could no longer
    be read off the name. Flushed in the caller's transaction.
    """
    ids = list(db.session.scalars(stmt.with_only_columns(GeneratedName.id).where(GeneratedName.sequence.is_(None))))
    for start in range(0, len(ids), 1000):
        names = list(db.session.scalars(sa.select(GeneratedName).where(GeneratedName.id.in_(ids[start:start + 1000]))))
        if names and cache is None:
            cache = _RenderCache(names[0].workspace_id)
        for name in names:
            if _usable(name):
                name.sequence = _locate_sequence(name, cache)


def _rerender(name: GeneratedName, cache: _RenderCache, combo: dict | None = None) -> tuple[Optional[str], str]:
    """(the value the name renders to now, or None, and why not)."""
    if not _usable(name):
        return None, "its rule or field is gone"
    spec, constraints = cache.spec(name.field)
    seq = name.sequence if name.sequence is not None else _locate_sequence(name, cache)
    if seq is None:
        return None, "its sequence number is unknown (it was made under rules that have changed since)"
    combo = dict(name.dimension_values or {}) if combo is None else combo
    result = renderer.render(spec, combo, codes=cache.codes_for(combo), seq=seq, constraints=constraints)
    return (result.value, "") if result.ok else (None, "; ".join(result.refusals))


def names_using(workspace_id: int, key: str, value: str) -> sa.Select:
    return sa.select(GeneratedName).where(
        GeneratedName.workspace_id == workspace_id, GeneratedName.is_active.is_(True),
        GeneratedName.dimension_values[key].as_string() == value)


def names_using_count(workspace_id: int, key: str, value: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(names_using(workspace_id, key, value).subquery())) or 0


def names_in_scope(workspace_id: int, scope: str, target_id: Optional[int]) -> sa.Select:
    """The active, rule-made names a change of a value, field, rule, platform (or anything) can make stale."""
    stmt = sa.select(GeneratedName).where(  # names of deleted rules are kept as they are, never stale
        GeneratedName.workspace_id == workspace_id, GeneratedName.is_active.is_(True),
        GeneratedName.field_id.is_not(None),
        GeneratedName.rule_id.in_(sa.select(Rule.id).where(Rule.workspace_id == workspace_id,
                                                           Rule.is_active.is_(True))))
    if scope == "value":
        row = db.session.get(DimensionValue, target_id or -1)
        if row is None or row.workspace_id != workspace_id:
            return stmt.where(sa.false())
        return stmt.where(GeneratedName.dimension_values[row.dimension.key].as_string() == row.value)
    if scope == "field":
        return stmt.where(GeneratedName.field_id == target_id)
    if scope == "rule":
        return stmt.where(GeneratedName.rule_id == target_id)
    if scope == "platform":
        return stmt.where(GeneratedName.rule_id.in_(sa.select(Rule.id).where(Rule.platform_id == target_id)))
    return stmt


def names_in_scope_count(workspace_id: int, scope: str = "workspace", target_id: Optional[int] = None) -> int:
    """How many names a change in scope can make stale: one SQL count, whatever the size of the workspace."""
    ids = names_in_scope(workspace_id, scope, target_id).with_only_columns(GeneratedName.id)
    return db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0


def stale_ids(workspace_id: int, scope: str = "workspace", target_id: Optional[int] = None,
              progress: Any = None) -> tuple[list[int], int]:
    """(ids of the names in scope that render differently now, in id order; how many names were rendered).

    Renders every name in scope again, 2,000 at a time, dropping each batch from
    the session once judged: the StaleScan job runs it on a million names, the
    page inline on a small workspace. `progress(checked)` is told after each batch.
    """
    cache = _RenderCache(workspace_id)
    base = names_in_scope(workspace_id, scope, target_id).order_by(GeneratedName.id)
    found, checked, last_id = [], 0, 0
    while True:
        names = list(db.session.scalars(base.where(GeneratedName.id > last_id).limit(2000)))
        if not names:
            break
        last_id = names[-1].id
        for name in names:
            if _rerender(name, cache)[0] != name.value:
                found.append(name.id)
        for name in names:
            db.session.expunge(name)
        checked += len(names)
        if progress is not None:
            progress(checked)
    return found, checked


def stale_rows(workspace_id: int, ids: list[int]) -> list[dict]:
    """The names of `ids` (one page of them) with what each would become now; a name regenerated or released
    since it was found is shown as such."""
    cache = _RenderCache(workspace_id)
    by_id = {n.id: n for n in db.session.scalars(sa.select(GeneratedName).where(
        GeneratedName.workspace_id == workspace_id, GeneratedName.id.in_(ids)))}
    rows = []
    for name_id in ids:
        name = by_id.get(name_id)
        if name is None:
            continue
        new, note = _rerender(name, cache)
        current = name.is_active and new != name.value
        rows.append({"name": name, "new": new, "note": note if current else "up to date now", "current": current})
    return rows


def names_stale(workspace_id: int, scope: str = "workspace", target_id: Optional[int] = None,
                limit: Optional[int] = STALE_SHOWN) -> tuple[int, list[dict]]:
    """(how many names in scope render differently now, the first `limit` of them with what they'd become).

    Renders every name in scope: for a workspace of any size use a StaleScan job
    (the page) or `stale_estimate` (the offer after a change)."""
    ids, _ = stale_ids(workspace_id, scope, target_id)
    return len(ids), stale_rows(workspace_id, ids[:limit] if limit is not None else ids) if limit != 0 else []


def stale_estimate(workspace_id: int, scope: str = "workspace", target_id: Optional[int] = None) -> tuple[int, bool]:
    """(stale names, exact?) for the "Regenerate names?" offer, without rendering a big workspace on the request.

    Up to STALE_INLINE names in scope are rendered and counted exactly; past that
    the SQL count of names in scope is returned as an upper bound (the propagation
    job renders each one and changes only those that differ)."""
    in_scope = names_in_scope_count(workspace_id, scope, target_id)
    if in_scope <= STALE_INLINE:
        return len(stale_ids(workspace_id, scope, target_id)[0]), True
    return in_scope, False


def value_stale_count(value_row: DimensionValue, old_value: str | None) -> tuple[int, bool]:
    """Names a value change left stale: all built from a renamed value, else those its short code changed."""
    if old_value:
        return names_using_count(value_row.workspace_id, value_row.dimension.key, old_value), True
    return stale_estimate(value_row.workspace_id, "value", value_row.id)


def stale_scan_start(*, workspace, user) -> StaleScan:
    """Queue finding the workspace's stale names (Names -> Stale shows the scan's status, then its findings)."""
    from app.platform.jobs import job_submit

    return job_submit(StaleScan(organization_id=workspace.organization_id, workspace_id=workspace.id,
                                requested_by_id=getattr(user, "id", None)))


def stale_scan_latest(workspace_id: int) -> Optional[StaleScan]:
    return db.session.scalars(sa.select(StaleScan).where(StaleScan.workspace_id == workspace_id)
                              .order_by(StaleScan.id.desc()).limit(1)).first()


def stale_scan_run(scan: StaleScan, progress) -> None:
    """The job: render every active rule-made name of the workspace again and keep the ids of those that differ."""
    total = max(1, names_in_scope_count(scan.workspace_id))

    def report(checked: int) -> None:
        progress(min(99, checked * 100 // total), f"{checked:,} of {total:,} names checked")

    ids, checked = stale_ids(scan.workspace_id, progress=report)
    scan.stale_ids, scan.checked = ids, checked
    db.session.flush()


def propagation_start(*, workspace, user, value_row: DimensionValue | None = None, old_value: str = "",
                      scope: str = "value", target_id: Optional[int] = None) -> PropagationRun:
    """Queue regenerating names in place: those of a renamed value, or the stale ones of a scope."""
    from app.platform.jobs import job_submit

    if scope not in PROPAGATION_SCOPES:
        raise RulesError("Choose what to regenerate.")
    run = PropagationRun(organization_id=workspace.organization_id, workspace_id=workspace.id, scope=scope,
                         requested_by_id=getattr(user, "id", None), old_value="", new_value="")
    if value_row is not None:
        run.dimension_value_id, run.dimension_key = value_row.id, value_row.dimension.key
        run.old_value, run.new_value = (old_value or value_row.value), value_row.value
        run.scope, run.target_id = "value", value_row.id
        run.target_label = f"{value_row.dimension.display} = {value_row.value}"
    else:
        run.target_id, run.target_label = target_id, _scope_label(workspace, scope, target_id)
    return job_submit(run)


def _scope_label(workspace, scope: str, target_id: Optional[int]) -> str:
    model = {"field": RuleField, "rule": Rule, "platform": Platform}.get(scope)
    row = db.session.get(model, target_id or -1) if model else None
    if scope == "field" and row is not None and row.rule.workspace_id == workspace.id:
        return f"field {row.name} of {row.rule.name}"
    if row is not None and getattr(row, "workspace_id", None) == workspace.id:
        return f"{scope} {row.name}"
    if model is not None:
        raise RulesError(f"Choose a {scope} of this workspace.")
    return f"workspace {workspace.name}"


def propagation_run(run: PropagationRun, progress) -> None:
    """Regenerate each name in place (same row, same sequence number, same field); record old -> new."""
    if run.is_rename:
        stmt = names_using(run.workspace_id, run.dimension_key, run.old_value)
        value_row = db.session.get(DimensionValue, run.dimension_value_id or -1)
        code = value_row.short_code if value_row else ""
        overrides = {(run.dimension_key, run.new_value): code, (run.dimension_key, run.old_value): code}
    else:
        stmt, overrides = names_in_scope(run.workspace_id, run.scope, run.target_id), {}
    cache = _RenderCache(run.workspace_id, overrides)
    names = list(db.session.scalars(stmt.order_by(GeneratedName.id)))
    changes = []
    for index, name in enumerate(names, start=1):
        combo = dict(name.dimension_values or {})
        if run.is_rename:
            combo[run.dimension_key] = run.new_value
        change = _propagate_one(name, cache, combo)
        if change is not None:
            changes.append(change)
        if index % 500 == 0:
            run.changes = list(changes)
            progress(index * 100 / len(names), f"{index:,} of {len(names):,} names")
    run.changes = changes
    db.session.flush()
    _mail_propagation(run, changes)


def _propagate_one(name: GeneratedName, cache: _RenderCache, combo: dict) -> Optional[dict]:
    if name.sequence is None and _usable(name):
        name.sequence = _locate_sequence(name, cache)  # under the old values: before the combo changes
    new, note = _rerender(name, cache, combo)
    old = name.value
    if new is None:
        return {"id": name.id, "old": old, "new": None, "sequence": name.sequence, "note": note}
    if new == old and combo == name.dimension_values:
        return None
    try:
        with db.session.begin_nested():
            name.value, name.normalized = new, renderer.normalize(new)[:255]
            name.reversed_value, name.dimension_values = new[::-1], combo
            db.session.flush()
    except IntegrityError:
        db.session.refresh(name)
        return {"id": name.id, "old": old, "new": None, "sequence": name.sequence,
                "note": f"{new!r} is already taken"}
    return {"id": name.id, "old": old, "new": new, "sequence": name.sequence, "note": ""}


def _mail_propagation(run: PropagationRun, changes: list[dict]) -> None:
    from app.accounts.models import User
    from app.platform import mail

    changed = sum(1 for c in changes if c["new"])
    if run.is_rename:
        subject = f"Names regenerated after renaming {run.old_value}"
        body = f"The value {run.old_value!r} of {run.dimension_key} was renamed to {run.new_value!r}.\n"
    else:
        subject = f"Stale names regenerated ({run.target_label})"
        body = f"The rules of {run.target_label} changed.\n"
    body += f"{changed} name(s) were regenerated (same id and sequence number); {len(changes) - changed} could not be.\n"
    body += "\n".join(f"{c['old']} -> {c['new'] or 'unchanged (' + c['note'] + ')'}" for c in changes[:50])
    for user in db.session.scalars(User.select_active().where(User.organization_id == run.organization_id)):
        mail.notify(user, subject, body, category="propagation")


# Undo of a delete (the flash's Undo button, platform/undo.py): the same restore as the trash's, with its checks.
from app.platform.undo import register_restore  # noqa: E402

for _model in (Dimension, DimensionValue, Platform, Rule):
    register_restore(_model, lambda *, row, user: _soft(row, user, delete=False))

"""Rules pages: thin views (read the form, call a service, render a page or its fragment)."""
from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.accounts.models import User
from app.extensions import db
from app.platform.idempotency import idempotent
from app.platform.htmx import is_htmx
from app.platform.jobs import kind_of
from app.platform.pagination import Page, paginate
from app.platform.parsing import parse_page
from app.platform.tenancy import current_workspace, get_or_404, scoped, staff_required
from app.platform.undo import flash_undo
from app.platform.transactions import plan_each_statement
from app.rules import bp, catalogue, renderer, services
from app.rules.models import (
    CASINGS,
    TRUNCATION_LABELS,
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
)
from app.rules.services import RulesError

FIELD_KEYS = ("name", "pattern", "casing", "delimiter", "fallback_delimiters", "max_length", "truncation")
PLATFORM_KEYS = ("name", "description", "min_length", "max_length", "allowed_chars", "regex", "lowercase_only",
                 "invalid_first_chars", "invalid_last_chars", "invalid_consecutive_chars", "uniqueness_scope")
CATALOGUE_SHOWN = 100


def _ws():
    workspace = current_workspace()
    if workspace is None:
        abort(404)
    return workspace


def _errors(exc: RulesError) -> dict:
    return {exc.field or "_form": str(exc)}


def _form(*keys: str) -> dict:
    return {k: request.form.get(k, "") for k in keys}


@bp.context_processor
def rules_globals():
    return {"casings": CASINGS, "truncations": TRUNCATION_LABELS,
            "uniqueness_choices": list(catalogue.UNIQUENESS.items()), "uniqueness_labels": catalogue.UNIQUENESS}


# --------------------------------------------------------------------------- dimensions
@bp.route("/dimensions", methods=["GET", "POST"])
@staff_required
def dimensions():
    workspace = _ws()
    errors, data, status = {}, {}, 200
    if request.method == "POST":
        data = _form("key", "label", "description", "kind", "min_length", "max_length")
        try:
            dim = services.dimension_create(workspace=workspace, **data)
        except RulesError as exc:
            errors, status = _errors(exc), 422
        else:
            flash(f"Dimension {dim.display} created. Add its values below.", "success")
            return redirect(url_for("rules.dimension_detail", dimension_id=dim.id))
    all_dims = services.dimensions_of(workspace, include_deleted=True)
    return render_template("rules/dimensions.html", active=[d for d in all_dims if d.is_active],
                           deleted=[d for d in all_dims if not d.is_active], errors=errors, data=data), status


@bp.route("/dimensions/<int:dimension_id>", methods=["GET", "POST"])
@staff_required
def dimension_detail(dimension_id: int):
    dim = get_or_404(Dimension, dimension_id)
    errors, status = {}, 200
    if request.method == "POST":
        try:
            services.dimension_update(dimension=dim, **_form("label", "description", "min_length", "max_length"))
        except RulesError as exc:
            errors, status = _errors(exc), 422
            db.session.rollback()
        else:
            flash("Dimension saved.", "success")
            return redirect(url_for("rules.dimension_detail", dimension_id=dim.id))
    return _render_dimension(dim, errors=errors, status=status)


def _render_dimension(dim, *, errors=None, value_errors=None, value_data=None, status=200):
    values = list(db.session.scalars(sa.select(DimensionValue).where(DimensionValue.dimension_id == dim.id)
                                     .order_by(DimensionValue.position, DimensionValue.id)))
    return render_template("rules/dimension.html", dim=dim, values=[v for v in values if v.is_active],
                           used_by=services.rules_using_dimension(dim),
                           deleted_values=[v for v in values if not v.is_active], errors=errors or {},
                           value_errors=value_errors or {}, value_data=value_data or {}), status


def _row_action(row, action: str, *, delete, restore, deleted_message: str, restored_message: str, move=None):
    """Delete or restore a soft-deletable row; move it up/down too when it is ordered (dimensions, values)."""
    try:
        if move is not None and action in ("up", "down") and row.is_active:
            move(direction=action)
        elif action == "delete":
            delete(user=current_user)
            flash_undo(deleted_message, row)
        elif action == "restore":
            restore(user=current_user)
            flash(restored_message, "success")
        else:
            abort(404)
    except RulesError as exc:
        flash(str(exc), "error")


@bp.route("/dimensions/<int:dimension_id>/<action>", methods=["POST"])
@staff_required
def dimension_action(dimension_id: int, action: str):
    dim = get_or_404(Dimension, dimension_id, include_deleted=True)
    _row_action(
        dim, action,
        move=lambda **kw: services.dimension_move(dimension=dim, **kw),
        delete=lambda **kw: services.dimension_delete(dimension=dim, **kw),
        restore=lambda **kw: services.dimension_restore(dimension=dim, **kw),
        deleted_message=f"Dimension {dim.display} deleted. Restore it from the list below.",
        restored_message=f"Dimension {dim.display} restored.")
    return redirect(url_for("rules.dimensions"))


@bp.route("/dimensions/<int:dimension_id>/values", methods=["POST"])
@staff_required
def value_new(dimension_id: int):
    dim = get_or_404(Dimension, dimension_id)
    data = _form("value", "label", "short_code")
    try:
        services.value_create(dimension=dim, **data)
    except RulesError as exc:
        return _render_dimension(dim, value_errors=_errors(exc), value_data=data, status=422)
    flash(f"Value {data['value'].strip()} added.", "success")
    return redirect(url_for("rules.dimension_detail", dimension_id=dim.id))


@bp.route("/values/<int:value_id>", methods=["GET", "POST"])
@staff_required
def value_edit(value_id: int):
    row = get_or_404(DimensionValue, value_id)
    errors, status = {}, 200
    if request.method == "POST":
        old_code = row.short_code
        try:
            old = services.value_update(value_row=row, **_form("value", "label", "short_code"))
        except RulesError as exc:
            db.session.rollback()
            errors, status = _errors(exc), 422
        else:
            flash("Value saved.", "success")
            back = url_for("rules.dimension_detail", dimension_id=row.dimension_id)
            if old:
                affected, exact = services.value_stale_count(row, old)
                what = f"were built from {old!r}, now renamed to {row.value!r}"
            elif row.short_code != old_code:
                affected, exact = services.value_stale_count(row, None)
                what = f"use the short code of {row.value!r}, changed from {old_code!r} to {row.short_code!r}"
            else:
                affected, exact = 0, True
            if affected:
                return _propagate_offer(affected, what, back, exact=exact, scope="value", target_id=row.id,
                                        old_value=old or "")
            return redirect(back)
    return render_template("rules/value_edit.html", row=row, errors=errors), status


def _propagate_offer(affected: int, what: str, back: str, exact: bool = True, **hidden):
    return render_template("rules/propagate_offer.html", affected=affected, what=what, back=back, hidden=hidden,
                           exact=exact)


def _saved_or_offer(workspace, scope: str, target_id: int, what: str, back: str):
    """After a change to what a rule renders: offer to regenerate the names it left stale, else go back.

    Counted without rendering a big workspace on the request (`stale_estimate`): exact up to
    STALE_INLINE names in scope, else the SQL count of the names the change can reach."""
    affected, exact = services.stale_estimate(workspace.id, scope, target_id)
    if affected:
        return _propagate_offer(affected, what, back, exact=exact, scope=scope, target_id=target_id)
    return redirect(back)


@bp.route("/propagate", methods=["POST"])
@staff_required
def propagate():
    """Regenerate names in place: those of a renamed value, or the stale names of a value, field, rule,
    platform or the whole workspace."""
    workspace = _ws()
    scope, target_id = request.form.get("scope", "workspace"), request.form.get("target_id", type=int)
    old = (request.form.get("old_value") or "").strip()
    try:
        if scope == "value":
            row = get_or_404(DimensionValue, target_id)
            run = services.propagation_start(workspace=workspace, user=current_user, value_row=row, old_value=old)
        else:
            run = services.propagation_start(workspace=workspace, user=current_user, scope=scope, target_id=target_id)
    except RulesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("rules.names_stale"))
    flash("Regenerating the names: each keeps its id and sequence number.", "success")
    return redirect(url_for("rules.propagation_detail", run_id=run.id))


@bp.route("/values/<int:value_id>/propagate", methods=["POST"])
@staff_required
def value_propagate(value_id: int):
    row = get_or_404(DimensionValue, value_id)
    old = (request.form.get("old_value") or "").strip()
    if not old or old == row.value:
        flash("Nothing to propagate.", "info")
        return redirect(url_for("rules.dimension_detail", dimension_id=row.dimension_id))
    run = services.propagation_start(workspace=_ws(), value_row=row, old_value=old, user=current_user)
    flash("Regenerating the names built from the old value.", "success")
    return redirect(url_for("rules.propagation_detail", run_id=run.id))


@bp.route("/values/<int:value_id>/<action>", methods=["POST"])
@staff_required
def value_action(value_id: int, action: str):
    row = get_or_404(DimensionValue, value_id, include_deleted=True)
    if action == "delete":
        try:
            services.value_delete(value_row=row, user=current_user, confirmed=bool(request.form.get("confirmed")))
        except services.ConfirmationNeeded as exc:
            return render_template("rules/value_delete_confirm.html", row=row, message=str(exc),
                                   affected=exc.affected)
        except RulesError as exc:
            flash(str(exc), "error")
        else:
            flash(f"Value {row.value} deleted.", "success")
        return redirect(url_for("rules.dimension_detail", dimension_id=row.dimension_id))
    _row_action(
        row, action,
        move=lambda **kw: services.value_move(value_row=row, **kw),
        delete=lambda **kw: services.value_delete(value_row=row, **kw),
        restore=lambda **kw: services.value_restore(value_row=row, **kw),
        deleted_message=f"Value {row.value} deleted.", restored_message=f"Value {row.value} restored.")
    return redirect(url_for("rules.dimension_detail", dimension_id=row.dimension_id))


@bp.route("/propagations/<int:run_id>")
@staff_required
def propagation_detail(run_id: int):
    run = get_or_404(PropagationRun, run_id)
    return render_template("rules/propagation.html", run=run, kind=kind_of(run))


# --------------------------------------------------------------------------- platforms
@bp.route("/platforms", methods=["GET", "POST"])
@staff_required
def platforms():
    workspace = _ws()
    errors, data, status = {}, {}, 200
    if request.method == "POST":
        data = _form(*PLATFORM_KEYS)
        try:
            platform = services.platform_create(workspace=workspace, **data)
        except RulesError as exc:
            errors, status = _errors(exc), 422
        else:
            flash(f"Platform {platform.name} created.", "success")
            return redirect(url_for("rules.platforms"))
    rows = list(db.session.scalars(scoped(Platform).order_by(Platform.is_active.desc(), Platform.name)))
    return render_template("rules/platforms.html", rows=rows, errors=errors, data=data), status


@bp.route("/platforms/<int:platform_id>", methods=["GET", "POST"])
@staff_required
def platform_edit(platform_id: int):
    platform = get_or_404(Platform, platform_id)
    errors, data, status = {}, {k: getattr(platform, k) for k in PLATFORM_KEYS}, 200
    if request.method == "POST":
        data = _form(*PLATFORM_KEYS)
        try:
            services.platform_update(platform=platform, **data)
        except RulesError as exc:
            db.session.rollback()
            errors, status = _errors(exc), 422
        else:
            flash("Platform saved.", "success")
            return _saved_or_offer(_ws(), "platform", platform.id, f"were made for {platform.name}, whose rules "
                                   "changed", url_for("rules.platforms"))
    return render_template("rules/platform_edit.html", platform=platform, errors=errors, data=data), status


@bp.route("/platforms/catalogue")
@staff_required
def platform_catalogue():
    q, provider = request.args.get("q", "").strip(), request.args.get("provider", "")
    found = catalogue.search(q, provider)
    added = {p.catalogue_key: p for p in db.session.scalars(scoped(Platform).where(Platform.catalogue_key != ""))}
    return render_template("rules/catalogue.html", results=found[:CATALOGUE_SHOWN], total=len(found), q=q,
                           provider=provider, providers=catalogue.providers(), added=added)


@bp.route("/platforms/catalogue/add", methods=["POST"])
@staff_required
def platform_catalogue_add():
    try:
        platform = services.platform_add_from_catalogue(workspace=_ws(), key=request.args.get("key", ""))
    except RulesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("rules.platform_catalogue", q=request.args.get("q", ""),
                                provider=request.args.get("provider", "")))
    flash(f"Platform {platform.name} added from the catalogue. Rules can target it now.", "success")
    return redirect(url_for("rules.platforms"))


@bp.route("/platforms/<int:platform_id>/catalogue-update", methods=["POST"])
@staff_required
def platform_catalogue_update(platform_id: int):
    platform = get_or_404(Platform, platform_id)
    try:
        services.platform_update_from_catalogue(platform=platform)
    except RulesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("rules.platform_edit", platform_id=platform.id))
    flash(f"{platform.name} now follows version {platform.catalogue_version} of its catalogue entry.", "success")
    return _saved_or_offer(_ws(), "platform", platform.id, f"were made for {platform.name}, whose rules the "
                           "catalogue changed", url_for("rules.platforms"))


@bp.route("/platforms/<int:platform_id>/<action>", methods=["POST"])
@staff_required
def platform_action(platform_id: int, action: str):
    platform = get_or_404(Platform, platform_id, include_deleted=True)
    _row_action(platform, action,
                delete=lambda user: services.platform_delete(platform=platform, user=user),
                restore=lambda user: services.platform_restore(platform=platform, user=user),
                deleted_message=f"Platform {platform.name} deleted.",
                restored_message=f"Platform {platform.name} restored.")
    return redirect(url_for("rules.platforms"))


# --------------------------------------------------------------------------- rules and fields
def _active_platforms():
    return list(db.session.scalars(scoped(Platform, Platform.select_active()).order_by(Platform.name)))


@bp.route("/", methods=["GET", "POST"])
@staff_required
def index():
    workspace = _ws()
    errors, data, status = {}, {}, 200
    if request.method == "POST":
        data = _form("name", "platform_id", "description")
        try:
            rule = services.rule_create(workspace=workspace, **data)
        except RulesError as exc:
            errors, status = _errors(exc), 422
        else:
            flash(f"Rule {rule.name} created. Add a field with its pattern.", "success")
            return redirect(url_for("rules.rule_detail", rule_id=rule.id))
    rows = list(db.session.scalars(scoped(Rule).order_by(Rule.is_active.desc(), Rule.name)))
    return render_template("rules/index.html", rows=rows, platforms=_active_platforms(), errors=errors,
                           data=data, has_dimensions=bool(services.dimensions_of(workspace))), status


def _sample_data(rule: Rule) -> dict:
    """Sample values from the form (sample_<key>), defaulting to each list dimension's first value."""
    data = {}
    for dim in services.dimensions_of(_ws()):
        chosen = request.values.get(f"sample_{dim.key}")
        if chosen is None:
            values = services.active_values(dim)
            chosen = values[0].value if values else ("example" if dim.kind == "free_text" else "")
        data[dim.key] = chosen
    return data


def _render_rule(rule: Rule, *, errors=None, field_errors=None, field_data=None, editing=None, status=200,
                 now_errors=None, now_values=None, rule_data=None):
    sample = _sample_data(rule)
    now_outcome = None
    if request.args.get("now", type=int):
        name = db.session.scalars(scoped(GeneratedName).where(GeneratedName.id == request.args.get("now", type=int),
                                                              GeneratedName.rule_id == rule.id)).first()
        now_outcome = {"name": name, "repairs": services.name_repairs(name), "skipped": []} if name else None
    previews = list(db.session.scalars(sa.select(RulePreview).where(RulePreview.rule_id == rule.id)
                                       .order_by(RulePreview.created_at.desc()).limit(20)))
    field_data = field_data or ({k: getattr(editing, k) or "" for k in FIELD_KEYS} if editing else
                                {"casing": "lower", "delimiter": "-", "truncation": "refuse"})
    live = _live_examples(rule, field_data, sample)
    # The settings form shows what was typed when it was refused, else the rule as stored.
    rule_data = rule_data or {"name": rule.name, "description": rule.description, "platform_id": rule.platform_id}
    return render_template("rules/rule.html", rule=rule, platforms=_active_platforms(), errors=errors or {},
                           rule_data=rule_data,
                           field_errors=field_errors or {}, field_data=field_data, editing=editing,
                           dims=services.dimensions_of(_ws()), sample=sample, previews=previews,
                           examples=services.preview_render(rule=rule, test_data=sample), live=live,
                           now_dims=_dimensions_used(rule), now_errors=now_errors or {},
                           now_values=now_values or {}, now_outcome=now_outcome), status


def _dimensions_used(rule: Rule) -> list:
    keys = list(dict.fromkeys(k for f in rule.fields for k in renderer.placeholders(f.pattern)))
    dims = {d.key: d for d in services.dimensions_of(_ws())}
    return [dims[k] for k in keys if k in dims]


def _live_examples(rule: Rule, field_data: dict, sample: dict) -> dict:
    """The preview of the field being edited (unsaved), or why it can't be rendered yet."""
    if not (field_data.get("pattern") or "").strip():
        return {"message": "Type a pattern to see a preview."}
    try:
        spec = services.field_spec_check(workspace=_ws(), data=field_data)
    except RulesError as exc:
        return {"message": str(exc)}
    return {"example": services.preview_render(rule=rule, test_data=sample,
                                               specs=[(field_data.get("name") or "New field", spec)])[0]}


@bp.route("/<int:rule_id>", methods=["GET", "POST"])
@staff_required
def rule_detail(rule_id: int):
    rule = get_or_404(Rule, rule_id)
    if request.method == "POST":
        submitted = _form("name", "platform_id", "description")
        try:
            services.rule_update(rule=rule, **submitted)
        except RulesError as exc:
            db.session.rollback()
            return _render_rule(rule, errors=_errors(exc), status=422, rule_data=submitted)
        flash("Rule saved.", "success")
        return _saved_or_offer(_ws(), "rule", rule.id, f"were made by {rule.name}, whose platform changed",
                               url_for("rules.rule_detail", rule_id=rule.id))
    editing = None
    if request.args.get("field"):
        editing = db.session.scalars(sa.select(RuleField).where(RuleField.rule_id == rule.id,
                                                                RuleField.id == request.args.get("field", type=int))).first()
    return _render_rule(rule, editing=editing)


@bp.route("/<int:rule_id>/<action>", methods=["POST"])
@staff_required
def rule_action(rule_id: int, action: str):
    rule = get_or_404(Rule, rule_id, include_deleted=True)
    _row_action(rule, action,
                delete=lambda user: services.rule_delete(rule=rule, user=user),
                restore=lambda user: services.rule_restore(rule=rule, user=user),
                deleted_message=f"Rule {rule.name} deleted.", restored_message=f"Rule {rule.name} restored.")
    return redirect(url_for("rules.index"))


def _rule_field(rule: Rule, field_id: int) -> RuleField:
    field = db.session.scalars(sa.select(RuleField).where(RuleField.rule_id == rule.id,
                                                          RuleField.id == field_id)).first()
    if field is None:
        abort(404)
    return field


@bp.route("/<int:rule_id>/fields", methods=["POST"])
@bp.route("/<int:rule_id>/fields/<int:field_id>", methods=["POST"])
@staff_required
def field_save(rule_id: int, field_id: int | None = None):
    rule = get_or_404(Rule, rule_id)
    field = _rule_field(rule, field_id) if field_id else None
    data = _form(*FIELD_KEYS)
    try:
        if field is None:
            services.field_create(rule=rule, **data)
        else:
            services.field_update(field=field, **data)
    except RulesError as exc:
        db.session.rollback()
        return _render_rule(rule, field_errors=_errors(exc), field_data=data, editing=field, status=422)
    flash("Field saved.", "success")
    if field is None:
        return redirect(url_for("rules.rule_detail", rule_id=rule.id))
    return _saved_or_offer(_ws(), "field", field.id, f"were made by the field {field.name} of {rule.name}, "
                           "whose settings changed", url_for("rules.rule_detail", rule_id=rule.id))


@bp.route("/<int:rule_id>/fields/<int:field_id>/delete", methods=["POST"])
@staff_required
def field_delete(rule_id: int, field_id: int):
    rule = get_or_404(Rule, rule_id)
    services.field_delete(field=_rule_field(rule, field_id))
    flash("Field removed.", "success")
    return redirect(url_for("rules.rule_detail", rule_id=rule.id))


@bp.route("/<int:rule_id>/name-now", methods=["POST"])
@staff_required
def name_now(rule_id: int):
    """One name now: the name (with its repairs explained) from the values filled in, recorded at once."""
    rule = get_or_404(Rule, rule_id)
    values = {key[len("now_"):]: request.form.get(key, "").strip() for key in request.form if key.startswith("now_")}
    outcome, errors, status = None, {}, 200
    try:
        outcome = services.name_now(workspace=_ws(), rule=rule, field_id=request.form.get("field"), values=values,
                                    user=current_user)
    except RulesError as exc:
        db.session.rollback()
        errors, status = {"_form": str(exc), "_all": exc.problems}, 422
    if is_htmx():
        return render_template("rules/_name_now_result.html", outcome=outcome, errors=errors), status
    if outcome is not None:
        flash(f"{outcome['name'].value} is yours: it is recorded with the workspace's names.", "success")
        return redirect(url_for("rules.rule_detail", rule_id=rule.id, now=outcome["name"].id))
    return _render_rule(rule, now_errors=errors, now_values=values, status=status)


@bp.route("/<int:rule_id>/preview", methods=["POST"])
@staff_required
def rule_live_preview(rule_id: int):
    """HTMX: the live preview while typing (unsaved field settings, chosen sample values)."""
    rule = get_or_404(Rule, rule_id)
    sample = _sample_data(rule)
    live = _live_examples(rule, _form(*FIELD_KEYS), sample)
    return render_template("rules/_live_preview.html", rule=rule, live=live, sample=sample,
                           examples=services.preview_render(rule=rule, test_data=sample))


@bp.route("/<int:rule_id>/previews", methods=["POST"])
@staff_required
def preview_save(rule_id: int):
    rule = get_or_404(Rule, rule_id)
    if not rule.fields:
        flash("Add a field before saving a preview.", "error")
        return redirect(url_for("rules.rule_detail", rule_id=rule.id))
    preview = services.rule_preview_save(rule=rule, test_data=_sample_data(rule), user=current_user,
                                         label=request.form.get("label", ""))
    flash("Preview saved.", "success")
    return redirect(url_for("rules.preview_detail", preview_id=preview.id))


@bp.route("/previews/<int:preview_id>")
@staff_required
def preview_detail(preview_id: int):
    preview = get_or_404(RulePreview, preview_id)
    others = list(db.session.scalars(scoped(RulePreview).where(RulePreview.id != preview.id)
                                     .order_by(RulePreview.created_at.desc()).limit(50)))
    return render_template("rules/preview.html", preview=preview, others=others)


@bp.route("/previews/compare")
@staff_required
def preview_compare():
    a = get_or_404(RulePreview, request.args.get("a"))
    b = get_or_404(RulePreview, request.args.get("b"))
    return render_template("rules/compare.html", a=a, b=b, rows=services.preview_compare(a, b))


# --------------------------------------------------------------------------- generations
@bp.route("/generations/new", methods=["GET", "POST"])
@staff_required
@idempotent("rules.index")
def generation_new():
    workspace = _ws()
    rules = list(db.session.scalars(scoped(Rule, Rule.select_active()).order_by(Rule.name)))
    rule = None
    rule_id = request.values.get("rule", type=int)
    if rule_id:
        rule = next((r for r in rules if r.id == rule_id), None)
    errors, status = {}, 200
    if request.method == "POST" and rule is not None:
        chosen = {key[len("dim_"):]: request.form.getlist(key) for key in request.form if key.startswith("dim_")}
        free = {key[len("free_"):]: [v for v in request.form.get(key, "").splitlines()]
                for key in request.form if key.startswith("free_")}
        chosen.update({k: v for k, v in free.items() if any(x.strip() for x in v)})
        try:
            generation = services.generation_create(
                workspace=workspace, rule_id=rule.id, dimension_values=chosen,
                field_filter=request.form.getlist("field"), user=current_user,
                validate_only=bool(request.form.get("validate_only")),
                continue_on_error=bool(request.form.get("continue_on_error")),
                auto_increment=bool(request.form.get("auto_increment")), note=request.form.get("note", ""))
        except RulesError as exc:
            errors, status = {exc.field or "_form": str(exc), "_all": exc.problems}, 422
        else:
            flash("Generation started.", "success")
            return redirect(url_for("rules.generation_detail", generation_id=generation.id))
    used = []
    if rule is not None:
        keys = list(dict.fromkeys(k for f in rule.fields for k in renderer.placeholders(f.pattern)))
        dims = {d.key: d for d in services.dimensions_of(workspace)}
        used = [dims[k] for k in keys if k in dims]
    return render_template("rules/generation_new.html", rules=rules, rule=rule, used=used, errors=errors,
                           form=request.form), status


@bp.route("/generations")
@staff_required
def generations():
    workspace = _ws()
    filters = {k: request.args.get(k, "") for k in ("status", "rule_id", "user_id")}
    page = paginate(services.generations_query(workspace, **filters))
    rules = list(db.session.scalars(scoped(Rule).order_by(Rule.name)))
    people = list(db.session.scalars(sa.select(User).where(User.organization_id == workspace.organization_id)
                                     .order_by(User.full_name)))
    return render_template("rules/generations.html", page=page, filters=filters, rules=rules, people=people)


@bp.route("/generations/<int:generation_id>")
@staff_required
def generation_detail(generation_id: int):
    generation = get_or_404(Generation, generation_id)
    names = paginate(services.names_query(_ws(), generation_id=str(generation.id), status="all"))
    template = "rules/_generation_names.html" if is_htmx() else "rules/generation.html"
    return render_template(template, generation=generation, kind=kind_of(generation), names=names)


# --------------------------------------------------------------------------- names
@bp.route("/names")
@staff_required
def names():
    workspace = _ws()
    filters = {k: request.args.get(k, "") for k in ("q", "rule_id", "dimension", "value", "generation_id")}
    filters["status"] = request.args.get("status", "active")
    if filters["q"]:
        plan_each_statement()
    page = paginate(services.names_query(workspace, **filters))
    template = "rules/_names_table.html" if is_htmx() else "rules/names.html"
    return render_template(template, page=page, filters=filters,
                           rules=list(db.session.scalars(scoped(Rule).order_by(Rule.name))),
                           dims=services.dimensions_of(workspace))


@bp.route("/names/stale")
@staff_required
def names_stale():
    """Names that no longer match what their rule renders (a value, short code, field or platform changed).

    Up to STALE_INLINE names are judged on the request; a bigger workspace is judged by a StaleScan job
    whose live status panel the page shows. Either way the page renders only its own 100 stale names."""
    workspace = _ws()
    in_scope = services.names_in_scope_count(workspace.id)
    scan = None
    if in_scope <= services.STALE_INLINE:
        ids = services.stale_ids(workspace.id)[0]
    else:
        scan = services.stale_scan_latest(workspace.id)
        ids = scan.stale_ids if scan is not None and scan.logical_status == "succeeded" else []
    page = parse_page(request.args.get("page"))
    per_page = services.STALE_PAGE
    shown = ids[(page - 1) * per_page:page * per_page]
    pages = Page(items=services.stale_rows(workspace.id, shown), page=page, per_page=per_page, total=len(ids))
    return render_template("rules/names_stale.html", count=len(ids), page=pages, in_scope=in_scope, scan=scan,
                           inline=scan is None and in_scope <= services.STALE_INLINE,
                           kind=kind_of(scan) if scan is not None else None)


@bp.route("/names/stale/scan", methods=["POST"])
@staff_required
def names_stale_scan():
    """Start looking for stale names (a job: the page shows its progress, then what it found)."""
    services.stale_scan_start(workspace=_ws(), user=current_user)
    flash("Looking for stale names: every name is rendered again under today's rules.", "success")
    return redirect(url_for("rules.names_stale"))


@bp.route("/names/<int:name_id>/<action>", methods=["POST"])
@staff_required
def name_action(name_id: int, action: str):
    name = get_or_404(GeneratedName, name_id, include_deleted=True)
    try:
        if action == "release":
            services.name_release(name=name, user=current_user, reason=request.form.get("reason", ""))
            flash(f"{name.value} released: it is available again.", "success")
        elif action == "restore":
            services.name_restore(name=name, user=current_user)
            flash(f"{name.value} taken again.", "success")
        else:
            abort(404)
    except RulesError as exc:
        flash(str(exc), "error")
    target = request.form.get("next") or ""
    from app.platform.security import is_safe_redirect

    return redirect(target if is_safe_redirect(target) else url_for("rules.names"))


# --------------------------------------------------------------------------- conflict checks
PASTE_LIMIT_HINT = ("To check a whole generation, run it with \"validate only\" and press \"Conflict-check all\" "
                    "on its result; scripts can send up to {api:,} names to the JSON API (POST /conflict-checks/).")


@bp.route("/conflicts", methods=["GET", "POST"])
@staff_required
def conflicts():
    workspace = _ws()
    errors, status, data = {}, 200, {}
    if request.method == "POST":
        data = _form("proposed_strings", "scope", "platform_id", "rule_id")
        try:
            check = services.conflict_check_create(
                workspace=workspace, proposed=data["proposed_strings"], scope=data["scope"] or "workspace",
                platform_id=data["platform_id"], rule_id=data["rule_id"], user=current_user,
                limit=services.MAX_PASTED_NAMES, bigger=PASTE_LIMIT_HINT.format(api=services.MAX_CHECK_SIZE))
        except RulesError as exc:
            db.session.rollback()
            errors, status = _errors(exc), 422
        else:
            flash(f"Checking {check.proposed_count:,} name(s).", "success")
            return redirect(url_for("rules.conflict_detail", check_id=check.id))
    page = paginate(scoped(ConflictCheck).order_by(ConflictCheck.created_at.desc(), ConflictCheck.id.desc()))
    return render_template("rules/conflicts.html", page=page, errors=errors, data=data,
                           platforms=_active_platforms(), paste_limit=services.MAX_PASTED_NAMES,
                           rules=list(db.session.scalars(scoped(Rule, Rule.select_active()).order_by(Rule.name)))), status


CLEAN_LIST_LIMIT = 500  # names without findings listed on the page; bigger checks just say how many


@bp.route("/conflicts/<int:check_id>")
@staff_required
def conflict_detail(check_id: int):
    check = get_or_404(ConflictCheck, check_id)
    severity = request.args.get("severity", "")
    severity = severity if severity in (check.severity_counts or {}) else ""
    findings = paginate(services.conflict_results_query(check, severity=severity),
                        total=(check.severity_counts or {}).get(severity) if severity else check.conflicts_found)
    clean = []
    if check.logical_status == "succeeded" and not check.generation_id and check.proposed_count <= CLEAN_LIST_LIMIT:
        flagged = set(db.session.scalars(sa.select(ConflictResult.proposed_value)
                                         .where(ConflictResult.check_id == check.id)))
        clean = [v for v in check.proposed_strings if v not in flagged]
    template = "rules/_conflict_findings.html" if is_htmx() else "rules/conflict.html"
    return render_template(template, check=check, kind=kind_of(check), findings=findings, severity=severity,
                           clean=clean)


@bp.route("/generations/<int:generation_id>/conflict-check", methods=["POST"])
@staff_required
@idempotent(lambda generation_id: url_for("rules.index"))
def generation_conflict_check(generation_id: int):
    generation = get_or_404(Generation, generation_id)
    try:
        check = services.conflict_check_of_generation(generation=generation, user=current_user)
    except RulesError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("rules.generation_detail", generation_id=generation.id))
    flash("Checking every name the generation would make.", "success")
    return redirect(url_for("rules.conflict_detail", check_id=check.id))


# --------------------------------------------------------------------------- import / export
@bp.route("/export")
@staff_required
def export():
    workspace = _ws()
    body = json.dumps(services.workspace_export(workspace), indent=2, ensure_ascii=False)
    filename = f"cairn-rules-{workspace.slug}.json"
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/import", methods=["GET", "POST"])
@staff_required
def import_rules():
    workspace = _ws()
    problems, status = [], 200
    if request.method == "POST":
        upload = request.files.get("file")
        raw = upload.read() if upload else request.form.get("document", "").encode()
        try:
            document = json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems, status = [f"Not valid JSON: {exc}"], 422
        else:
            try:
                counts = services.workspace_import(workspace=workspace, document=document)
            except RulesError as exc:
                problems, status = [str(exc)] + exc.problems[:50], 422
            else:
                flash("Imported {dimensions} dimension(s), {values} value(s), {platforms} platform(s), "
                      "{rules} rule(s) with {fields} field(s).".format(**counts), "success")
                if counts["stale"]:
                    may = "now render" if counts["stale_exact"] else "may now render"
                    flash(f"{counts['stale']:,} name(s) {may} differently: review them under Names → Stale.",
                          "info")
                    return redirect(url_for("rules.names_stale"))
                return redirect(url_for("rules.index"))
    return render_template("rules/import.html", problems=problems), status

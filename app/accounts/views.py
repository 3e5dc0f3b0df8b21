"""Accounts views: thin. Parse the form, call a service, render the page or fragment."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import bp, recovery, services
from app.accounts.forms import (
    AcceptInviteForm,
    AddMemberForm,
    DeactivateForm,
    EmailChangeForm,
    MemberForm,
    OrganizationDeleteForm,
    OrganizationForm,
    PasswordChangeForm,
    PreferencesForm,
    ProfileForm,
    SignInForm,
    SignUpForm,
    UsageFilterForm,
    WorkspaceForm,
)
from app.accounts.models import AuditEvent, User, Workspace
from app.extensions import db, login_manager
from app.platform.idempotency import idempotent
from app.platform import textsearch
from app.platform.jobs import JobError
from app.platform.models import SoftDeleteError, utcnow
from app.platform.pagination import paginate
from app.platform.parsing import parse_id
from app.platform.security import is_safe_redirect
from app.platform.timezones import zone_choices
from app.platform.undo import flash_undo
from app.platform.tenancy import (
    WORKSPACE_SESSION_KEY,
    current_organization,
    current_workspace_choice,
    forget_current_workspace,
    get_or_404,
    permission_required,
    roles_required,
    scoped,
    set_current_workspace,
)
from app.platform.usage import usage_by_day, usage_by_endpoint
from app.platform.validation import ModelValidationError, attach_model_errors


@login_manager.user_loader
def load_user(session_key: str):
    return services.session_load(session_key)


def _form_failed(form, exc: Exception) -> None:
    if isinstance(exc, ModelValidationError):
        attach_model_errors(form, exc)
    elif isinstance(exc, services.AccountError) and exc.field and hasattr(form, exc.field):
        getattr(form, exc.field).errors = list(getattr(form, exc.field).errors) + [str(exc)]
    else:
        form.form_errors.append(str(exc))


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _begin_session(user: User, remember: bool) -> None:
    """Rotate the cookie session and start a server-side session row."""
    session.clear()
    services.session_start(user=user, remember=remember, ip_address=_client_ip(),
                           user_agent=request.user_agent.string)
    login_user(user, remember=remember, duration=timedelta(seconds=_remember_seconds()))
    forget_current_workspace()
    current_workspace_choice()  # the cleared session has none: start in the user's default workspace


def _end_current_session(reason: str = "signed_out") -> None:
    """End this browser's server-side session (copied cookies stop working) and clear the cookie."""
    if current_user.is_authenticated and current_user.current_session is not None:
        services.session_end(user_session=current_user.current_session, reason=reason)
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes the remember-me cookie


def _remember_seconds() -> int:
    from flask import current_app

    return current_app.config["REMEMBER_COOKIE_DURATION"]


# --------------------------------------------------------------------------- sign-up / sign-in
@bp.route("/signup", methods=["GET", "POST"])
def sign_up():
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            user = services.organization_signup(organization_name=form.organization_name.data,
                                                full_name=form.full_name.data, email=form.email.data,
                                                password=form.password.data, time_zone=form.time_zone.data or "")
        except (services.AccountError, ModelValidationError) as exc:
            _form_failed(form, exc)
        else:
            _begin_session(user, remember=False)
            flash(f"Welcome to Cairn! {user.organization.name} is ready.", "success")
            return redirect(url_for("core.dashboard"))
    return render_template("accounts/sign_up.html", form=form), 422 if form.errors or form.form_errors else 200


@bp.route("/signin", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = services.sign_in(email=form.email.data, password=form.password.data, ip_address=_client_ip())
        except services.AccountError as exc:
            form.form_errors.append(str(exc))
        else:
            _begin_session(user, remember=form.remember.data)
            target = request.args.get("next")
            return redirect(target if is_safe_redirect(target) else url_for("core.dashboard"))
    return render_template("accounts/sign_in.html", form=form), 422 if form.errors or form.form_errors else 200


@bp.route("/signout", methods=["POST"])
@login_required
def sign_out():
    _end_current_session()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.sign_in"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    try:
        invited = services.invite_user(token)
    except services.AccountError as exc:
        return render_template("errors/error.html", status=410, title="Invitation not valid", message=str(exc)), 410
    form = AcceptInviteForm()
    if form.validate_on_submit():
        try:
            user = services.invite_accept(token=token, password=form.password.data)
        except services.AccountError as exc:
            _form_failed(form, exc)
        else:
            _end_current_session()
            _begin_session(user, remember=False)
            flash("Your password is set. Welcome to Cairn!", "success")
            return redirect(url_for("core.dashboard"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("accounts/accept_invite.html", form=form, invited=invited), status


# --------------------------------------------------------------------------- members
@bp.route("/members")
@roles_required("admin", "manager")
def members():
    role = request.args.get("role", "")
    q = request.args.get("q", "").strip()
    stmt = scoped(User, User.select_active()).order_by(User.full_name, User.email)
    if role:
        stmt = stmt.where(User.role == role)
    if q:
        stmt = stmt.where(textsearch.contains_any([User.email, User.full_name], q))
    page = paginate(stmt)
    return render_template("accounts/members.html", page=page, add_form=AddMemberForm(), role=role, q=q)


@bp.route("/members", methods=["POST"])
@roles_required("admin")
@idempotent("accounts.members")
def member_add():
    form = AddMemberForm()
    if form.validate_on_submit():
        try:
            member, link = services.member_add(
                organization=current_organization(), actor=current_user, email=form.email.data,
                full_name=form.full_name.data, role=form.role.data,
                invite_url_for=lambda token: url_for("accounts.accept_invite", token=token, _external=True))
        except (services.AccountError, ModelValidationError) as exc:
            _form_failed(form, exc)
        else:
            flash(f"{member.email} was added and sent an invitation.", "success")
            return render_template("accounts/member_invited.html", member=member, link=link)
    page = paginate(scoped(User, User.select_active()).order_by(User.full_name, User.email))
    return render_template("accounts/members.html", page=page, add_form=form, role="", q=""), 422


def _member_form(member: User) -> MemberForm:
    form = MemberForm(obj=member)
    form.skills.data = ", ".join(member.skills or [])
    form.certifications.data = ", ".join(member.certifications or [])
    form.permissions.data = [p.permission for p in member.permissions]
    return form


@bp.route("/members/<int:member_id>", methods=["GET", "POST"])
@roles_required("admin")
def member_edit(member_id: int):
    member = get_or_404(User, member_id)
    form = _member_form(member) if request.method == "GET" else MemberForm()
    if form.validate_on_submit():
        try:
            services.member_update(actor=current_user, member=member, role=form.role.data,
                                   availability_status=form.availability_status.data,
                                   max_concurrent_tickets=form.max_concurrent_tickets.data,
                                   customer_tier=form.customer_tier.data, skills=form.skills_list(),
                                   certifications=form.certifications_list(),
                                   permissions=form.permissions.data or [])
        except (services.AccountError, ModelValidationError) as exc:
            _form_failed(form, exc)
        else:
            flash(f"Saved {member.display_name}.", "success")
            return redirect(url_for("accounts.members"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("accounts/member_edit.html", member=member, form=form,
                           deactivate_form=DeactivateForm()), status


@bp.route("/members/<int:member_id>/deactivate", methods=["POST"])
@roles_required("admin")
def member_deactivate(member_id: int):
    member = get_or_404(User, member_id)
    form = DeactivateForm()
    if not form.validate_on_submit():
        return render_template("accounts/member_edit.html", member=member, form=_member_form(member),
                               deactivate_form=form), 422
    try:
        services.member_deactivate(actor=current_user, member=member, reason=form.reason.data or "")
    except (services.AccountError, SoftDeleteError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.member_edit", member_id=member.id))
    flash_undo(f"{member.display_name} was deactivated and signed out.", member)
    return redirect(url_for("accounts.members"))


@bp.route("/members/<int:member_id>/restore", methods=["POST"])
@roles_required("admin")
def member_restore(member_id: int):
    member = get_or_404(User, member_id, include_deleted=True)
    try:
        services.member_restore(actor=current_user, member=member)
    except SoftDeleteError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{member.display_name} is active again.", "success")
    return redirect(url_for("accounts.trash"))


@bp.route("/members/<int:member_id>/invite", methods=["POST"])
@roles_required("admin")
def member_reinvite(member_id: int):
    member = get_or_404(User, member_id)
    try:
        nonce = services.member_reinvite(member=member)
    except services.AccountError as exc:
        flash(str(exc), "info")
        return redirect(url_for("accounts.member_edit", member_id=member.id))
    link = url_for("accounts.accept_invite", token=nonce, _external=True)
    return render_template("accounts/member_invited.html", member=member, link=link)


# --------------------------------------------------------------------------- workspaces
@bp.route("/workspaces", methods=["GET", "POST"])
@login_required
@idempotent("accounts.workspaces")
def workspaces():
    form = WorkspaceForm()
    can_manage = current_user.has_permission("manage_workspaces") or current_user.role == "manager"
    if request.method == "POST":
        if not can_manage:
            abort(403)
        if form.validate_on_submit():
            try:
                workspace = services.workspace_create(organization=current_organization(), actor=current_user,
                                                      name=form.name.data, description=form.description.data)
            except ModelValidationError as exc:
                _form_failed(form, exc)
            else:
                flash(f"Workspace {workspace.name} created.", "success")
                return redirect(url_for("accounts.workspaces"))
    page = paginate(scoped(Workspace, Workspace.select_active()).order_by(Workspace.name))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("accounts/workspaces.html", page=page, form=form, can_manage=can_manage), status


def _require_workspace_manager() -> None:
    if not (current_user.has_permission("manage_workspaces") or current_user.role == "manager"):
        abort(403)


@bp.route("/workspaces/<int:workspace_id>/edit", methods=["GET", "POST"])
@login_required
def workspace_edit(workspace_id: int):
    _require_workspace_manager()
    workspace = get_or_404(Workspace, workspace_id)
    form = WorkspaceForm(obj=workspace)
    if form.validate_on_submit():
        try:
            services.workspace_update(workspace=workspace, name=form.name.data, description=form.description.data)
        except ModelValidationError as exc:
            _form_failed(form, exc)
        else:
            flash("Workspace saved.", "success")
            return redirect(url_for("accounts.workspaces"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("accounts/workspace_edit.html", workspace=workspace, form=form,
                           delete_form=DeactivateForm()), status


@bp.route("/workspaces/<int:workspace_id>/delete", methods=["POST"])
@login_required
def workspace_delete(workspace_id: int):
    _require_workspace_manager()
    workspace = get_or_404(Workspace, workspace_id)
    form = DeactivateForm()
    if not form.validate_on_submit():
        return render_template("accounts/workspace_edit.html", workspace=workspace, form=WorkspaceForm(obj=workspace),
                               delete_form=form), 422
    try:
        services.workspace_delete(actor=current_user, workspace=workspace, reason=form.reason.data or "")
    except (services.AccountError, SoftDeleteError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.workspace_edit", workspace_id=workspace.id))
    if session.get(WORKSPACE_SESSION_KEY) == workspace.id:
        session.pop(WORKSPACE_SESSION_KEY)  # the next page picks the default or first active workspace
    flash_undo(f"Workspace {workspace.name} moved to the trash.", workspace)
    return redirect(url_for("accounts.workspaces"))


@bp.route("/workspaces/<int:workspace_id>/restore", methods=["POST"])
@login_required
def workspace_restore(workspace_id: int):
    _require_workspace_manager()
    workspace = get_or_404(Workspace, workspace_id, include_deleted=True)
    try:
        services.workspace_restore(actor=current_user, workspace=workspace)
    except SoftDeleteError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Workspace {workspace.name} restored.", "success")
    return redirect(url_for("accounts.trash"))


@bp.route("/workspaces/switch", methods=["POST"])
@login_required
def workspace_switch():
    workspace = get_or_404(Workspace, request.form.get("workspace_id"))
    set_current_workspace(workspace)
    flash(f"Switched to {workspace.name}.", "info")
    target = request.form.get("next")
    return redirect(target if is_safe_redirect(target) else url_for("core.dashboard"))


# --------------------------------------------------------------------------- preferences
def _preferences_form(data=None) -> PreferencesForm:
    prefs = current_user.preferences
    form = PreferencesForm(obj=prefs) if data is None else PreferencesForm()
    form.default_workspace_id.choices = [(0, "First available")] + [
        (w.id, w.name) for w in services.workspaces_for(current_user.organization_id)]
    default_zone = current_user.organization.setting("time_zone") or "UTC"
    form.timezone.choices = [("", f"The organization's default ({default_zone})")] + [(z, z) for z in zone_choices()]
    if data is None and prefs is not None:
        form.default_workspace_id.data = prefs.default_workspace_id or 0
    return form


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    form = _preferences_form(data=request.form if request.method == "POST" else None)
    if form.validate_on_submit():
        try:
            services.preferences_update(
                user=current_user, ui_theme=form.ui_theme.data, preferred_date_format=form.preferred_date_format.data,
                default_page_size=form.default_page_size.data,
                default_workspace_id=form.default_workspace_id.data or None,
                enabled_features=form.enabled_features.data or [], email_notifications=form.email_notifications.data,
                propagation_notifications=form.propagation_notifications.data, timezone=form.timezone.data or "")
        except (services.AccountError, ModelValidationError) as exc:
            _form_failed(form, exc)
        else:
            flash("Preferences saved.", "success")
            return redirect(url_for("accounts.preferences"))
    return _render_preferences(form=form, status=422 if form.errors or form.form_errors else 200)


def _render_preferences(form=None, profile_form=None, password_form=None, email_form=None, status=200):
    profile_form = profile_form or ProfileForm(obj=current_user)
    return render_template(
        "accounts/preferences.html",
        form=form or _preferences_form(),
        profile_form=profile_form,
        password_form=password_form or PasswordChangeForm(formdata=None),
        email_form=email_form or EmailChangeForm(),
        sessions=services.active_sessions(current_user),
    ), status


@bp.route("/preferences/profile", methods=["POST"])
@login_required
def profile():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            services.profile_update(user=current_user, full_name=form.full_name.data,
                                    availability_status=form.availability_status.data)
        except ModelValidationError as exc:
            _form_failed(form, exc)
        else:
            flash("Profile saved.", "success")
            return redirect(url_for("accounts.preferences"))
    return _render_preferences(profile_form=form, status=422)


@bp.route("/preferences/password", methods=["POST"])
@login_required
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            revoked = services.password_change(user=current_user, current_password=form.current_password.data,
                                               new_password=form.new_password.data,
                                               revoke_tokens=form.revoke_tokens.data)
        except services.AccountError as exc:
            _form_failed(form, exc)
        else:
            flash("Password changed. Your other sessions were signed out"
                  + (f" and {revoked} API token{'s' if revoked != 1 else ''} revoked." if revoked else "."), "success")
            return redirect(url_for("accounts.preferences"))
    return _render_preferences(password_form=form, status=422)


@bp.route("/preferences/email", methods=["POST"])
@login_required
def email_change():
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            new_email = recovery.email_change_request(
                user=current_user, new_email=form.new_email.data, password=form.password.data,
                confirm_url_for=lambda token: url_for("accounts.email_confirm", token=token, _external=True))
        except services.AccountError as exc:
            _form_failed(form, exc)
        else:
            flash(f"We sent a confirmation link to {new_email}. Your address changes when you follow it.", "info")
            return redirect(url_for("accounts.preferences"))
    return _render_preferences(email_form=form, status=422)


@bp.route("/preferences/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def session_end(session_id: int):
    user_session = services.session_of_user(user=current_user, session_id=session_id)
    if user_session is None:
        abort(404)
    services.session_end(user_session=user_session, reason="ended_by_user")
    flash("That session was signed out.", "success")
    return redirect(url_for("accounts.preferences"))


# --------------------------------------------------------------------------- organization admin
def _organization_form(org, fill: bool | None = None) -> OrganizationForm:
    form = OrganizationForm(obj=org) if not fill else OrganizationForm(formdata=None, obj=org)
    form.time_zone.choices = [(z, z) for z in zone_choices()]
    if fill or request.method == "GET":
        form.trash_retention_days.data = org.trash_retention_days
        form.time_zone.data = org.setting("time_zone") or "UTC"
        form.customer_access.data = list(org.setting("customer_access") or [])
    return form


@bp.route("/organization", methods=["GET", "POST"])
@roles_required("admin")
def organization():
    org = current_organization()
    form = _organization_form(org)
    if form.validate_on_submit():
        try:
            services.organization_update(organization=org, name=form.name.data,
                                         trash_retention_days=form.trash_retention_days.data,
                                         time_zone=form.time_zone.data or None,
                                         customer_access=form.customer_access.data or [])
        except (services.AccountError, ModelValidationError) as exc:
            _form_failed(form, exc)
        else:
            flash("Organization settings saved.", "success")
            return redirect(url_for("accounts.organization"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("accounts/organization.html", form=form, org=org, delete_form=OrganizationDeleteForm()), status


@bp.route("/organization/delete", methods=["POST"])
@roles_required("admin")
def organization_delete():
    org = current_organization()
    delete_form = OrganizationDeleteForm()
    if delete_form.validate_on_submit():
        try:
            services.organization_delete(actor=current_user, organization=org,
                                         confirmation=delete_form.confirmation.data, reason=delete_form.reason.data)
        except services.AccountError as exc:
            _form_failed(delete_form, exc)
        else:
            name = org.name
            _end_current_session(reason="organization_deleted")
            flash(f"{name} was deleted and everyone in it was signed out. Its data is kept: to bring it back, "
                  "ask your Cairn operator to restore it.", "info")
            return redirect(url_for("accounts.sign_in"))
    form = _organization_form(org, fill=True)
    return render_template("accounts/organization.html", form=form, org=org, delete_form=delete_form), 422


@bp.route("/activity")
@roles_required("admin", "manager")
def activity():
    action = request.args.get("action", "")
    stmt = scoped(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    actions = db.session.scalars(scoped(AuditEvent, sa.select(AuditEvent.action).distinct())).all()
    return render_template("accounts/activity.html", page=paginate(stmt), action=action, actions=sorted(actions))


@bp.route("/usage")
@permission_required("view_usage")
def usage():
    form = UsageFilterForm(request.args)
    days = form.days.data if form.validate() else 7
    end = utcnow().date()
    start = end - timedelta(days=days - 1)
    by_day = usage_by_day(current_user.organization_id, start, end)
    by_endpoint = usage_by_endpoint(current_user.organization_id, start, end)
    peak = max((row.requests for row in by_day), default=0)
    return render_template("accounts/usage.html", form=form, by_day=by_day, by_endpoint=by_endpoint, peak=peak,
                           start=start, end=end)


@bp.route("/usage/trim", methods=["POST"])
@roles_required("admin")
def usage_trim():
    from flask import current_app

    task = services.task_start(organization=current_organization(), actor=current_user, kind="usage_retention",
                               params={"days": current_app.config["USAGE_LOG_RETENTION_DAYS"]})
    flash("Trimming the usage log in the background.", "info")
    return redirect(url_for("core.jobs", highlight=task.id))


# --------------------------------------------------------------------------- trash
@bp.route("/trash")
@roles_required("admin", "manager")
def trash():
    members = scoped(User, User.select_deleted()).order_by(User.deleted_at.desc())
    workspaces = scoped(Workspace, Workspace.select_deleted()).order_by(Workspace.deleted_at.desc())
    return render_template("accounts/trash.html", members=db.session.scalars(members).all(),
                           workspaces=db.session.scalars(workspaces).all(),
                           retention_days=current_organization().trash_retention_days)


@bp.route("/trash/restore", methods=["POST"])
@roles_required("admin", "manager")
def trash_restore():
    """Restore the chosen members (admins) and workspaces (workspace managers) together."""
    member_ids = [i for i in map(parse_id, request.form.getlist("member_ids")) if i is not None]
    workspace_ids = [i for i in map(parse_id, request.form.getlist("workspace_ids")) if i is not None]
    if member_ids and current_user.role != "admin":
        abort(403)
    if workspace_ids:
        _require_workspace_manager()
    if not member_ids and not workspace_ids:
        flash("Choose what to restore.", "error")
        return redirect(url_for("accounts.trash"))
    counts = services.trash_restore(actor=current_user, member_ids=member_ids, workspace_ids=workspace_ids)
    parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in
             ((counts["members"], "member"), (counts["workspaces"], "workspace")) if n]
    message = (" and ".join(parts) + " restored.") if parts else "Nothing was restored."
    if counts["kept"]:
        message += f" {counts['kept']} left in the trash (already restored, or not restorable)."
    flash(message, "success" if parts else "info")
    return redirect(url_for("accounts.trash"))


@bp.route("/trash/purge", methods=["POST"])
@permission_required("purge_trash")
def trash_purge():
    try:
        task = services.task_start(organization=current_organization(), actor=current_user, kind="purge_trash")
    except JobError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.trash"))
    return render_template("accounts/trash_purge_started.html", task=task)

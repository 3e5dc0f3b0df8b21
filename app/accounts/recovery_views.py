"""Views of password reset and change of email address (services in recovery.py)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from app.accounts import bp, recovery
from app.accounts.forms import PasswordResetForm, PasswordResetRequestForm
from app.accounts.services import AccountError


@bp.route("/password/forgot", methods=["GET", "POST"])
def password_forgot():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        try:
            answer = recovery.password_reset_request(
                email=form.email.data, ip_address=request.remote_addr or "unknown",
                reset_url_for=lambda token: url_for("accounts.password_reset", token=token, _external=True))
        except AccountError as exc:
            form.form_errors.append(str(exc))
            return render_template("accounts/password_forgot.html", form=form), 429
        flash(answer, "info")
        return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/password_forgot.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def password_reset(token: str):
    try:
        recovery.password_reset_user(token)
    except AccountError as exc:
        return render_template("errors/error.html", status=410, title="Reset link not valid", message=str(exc),
                               action_url=url_for("accounts.password_forgot"),
                               action_label="Ask for a new link"), 410
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            recovery.password_reset_complete(token=token, password=form.password.data)
        except AccountError as exc:
            form.password.errors = list(form.password.errors) + [str(exc)]
        else:
            if current_user.is_authenticated:  # that session was just ended with all the others
                session.clear()
                logout_user()
            flash("Your password is changed and every session was signed out. Sign in with the new password.",
                  "success")
            return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/password_reset.html", form=form), 422 if form.errors else 200


@bp.route("/email/confirm/<token>")
def email_confirm(token: str):
    try:
        user = recovery.email_change_confirm(token=token)
    except AccountError as exc:
        return render_template("errors/error.html", status=410, title="Confirmation link not valid",
                               message=str(exc)), 410
    flash(f"Your email address is now {user.email}.", "success")
    return redirect(url_for("accounts.preferences" if current_user.is_authenticated else "accounts.sign_in"))

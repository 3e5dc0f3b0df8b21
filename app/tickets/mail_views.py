"""Helpdesk email pages: managers connect mailboxes; staff accept or discard held messages."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.extensions import db
from app.platform import storage
from app.platform.jobs import get_queue
from app.platform.tenancy import current_organization, get_or_404, roles_required, staff_required
from app.tickets import bp, inbound
from app.tickets.forms import MailboxForm
from app.tickets.mailboxes import MailboxError, mailbox_delete, mailbox_save
from app.tickets.models import InboundEmail, Mailbox

managers_only = roles_required("admin", "manager")


def _mailboxes_page(form=None, editing=None, status=200):
    mailboxes = list(db.session.scalars(db.select(Mailbox).where(
        Mailbox.organization_id == current_user.organization_id).order_by(Mailbox.id)))
    return render_template("tickets/mailboxes.html", mailboxes=mailboxes, editing=editing,
                           form=form or MailboxForm(formdata=None)), status


def _failed(form, exc: MailboxError) -> None:
    if exc.field and hasattr(form, exc.field):
        getattr(form, exc.field).errors = list(getattr(form, exc.field).errors) + [str(exc)]
    else:
        form.form_errors.append(str(exc))


@bp.route("/mailboxes", methods=["GET", "POST"])
@bp.route("/mailboxes/<int:mailbox_id>", methods=["GET", "POST"])
@managers_only
def mailboxes(mailbox_id: int | None = None):
    mailbox = get_or_404(Mailbox, mailbox_id) if mailbox_id else None
    if request.method == "GET":
        form = MailboxForm(formdata=None, obj=mailbox) if mailbox else None
        return _mailboxes_page(form, mailbox)
    form = MailboxForm()
    if form.validate_on_submit():
        try:
            saved = mailbox_save(organization=current_organization(), actor=current_user, mailbox=mailbox,
                                 data=form.mailbox_data())
        except MailboxError as exc:
            db.session.rollback()
            _failed(form, exc)
        else:
            flash(f"Mailbox {saved.email_address} saved. It is fetched every minute.", "success")
            return redirect(url_for("tickets.mailboxes", mailbox_id=saved.id))
    return _mailboxes_page(form, mailbox, 422)


@bp.route("/mailboxes/<int:mailbox_id>/fetch", methods=["POST"])
@managers_only
def mailbox_fetch_now(mailbox_id: int):
    mailbox = get_or_404(Mailbox, mailbox_id)
    get_queue("default").enqueue_call("app.tickets.jobs.fetch_mailbox", args=(mailbox.id,), result_ttl=600)
    flash(f"Fetching {mailbox.email_address} now; reload in a moment to see the outcome.", "success")
    return redirect(url_for("tickets.mailboxes", mailbox_id=mailbox.id))


@bp.route("/mailboxes/<int:mailbox_id>/delete", methods=["POST"])
@managers_only
def mailbox_remove(mailbox_id: int):
    mailbox = get_or_404(Mailbox, mailbox_id)
    mailbox_delete(mailbox=mailbox)
    flash(f"Mailbox {mailbox.email_address} removed; its tickets stay.", "success")
    return redirect(url_for("tickets.mailboxes"))


@bp.route("/inbound")
@staff_required
def inbound_messages():
    held = list(db.session.scalars(inbound.held_messages(current_user.organization_id).limit(100)))
    recent = inbound.recent_messages(current_user.organization_id)
    return render_template("tickets/inbound.html", held=held, recent=recent)


@bp.route("/inbound/<int:record_id>/<any(accept, discard):action>", methods=["POST"])
@staff_required
def inbound_decide(record_id: int, action: str):
    record = get_or_404(InboundEmail, record_id)
    try:
        if action == "accept":
            result = inbound.held_accept(record=record, actor=current_user)
        else:
            inbound.held_discard(record=record, actor=current_user)
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("tickets.inbound_messages"))
    if action == "accept":
        flash(result.reason, "success")
        return redirect(url_for("tickets.detail", ticket_id=record.ticket_id))
    flash("Message discarded.", "success")
    return redirect(url_for("tickets.inbound_messages"))


@bp.route("/inbound/<int:record_id>/original")
@staff_required
def inbound_original(record_id: int):
    """The message as it was received (.eml), for staff."""
    record = get_or_404(InboundEmail, record_id)
    try:
        path = storage.resolve(record.raw_path)
    except storage.StorageError:
        abort(404)
    if not record.raw_path or not path.exists():
        abort(404)
    return send_file(path, mimetype="message/rfc822", as_attachment=True, download_name=f"message-{record.id}.eml")

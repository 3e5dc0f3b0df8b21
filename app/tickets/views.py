"""Helpdesk views: thin. Parse input, call a service, render the page or the fragment HTMX asked for."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from app.extensions import db
from app.platform.idempotency import idempotent
from app.platform import storage
from app.platform.htmx import is_htmx
from app.platform.jobs import kind_of
from app.platform.pagination import paginate
from app.platform.tenancy import current_organization, get_or_404, roles_required, scoped, staff_required
from app.platform.undo import flash_undo, flash_undo_many
from app.platform.transactions import plan_each_statement
from app.platform.validation import ModelValidationError, attach_model_errors
from app.tickets import bp, bulk, canned, listing, reports, saved_views, services
from app.tickets.hooks import HISTORY_FIELDS
from app.tickets.forms import (
    ArticleForm,
    AttachForm,
    CannedReplyForm,
    CommentForm,
    DeleteForm,
    RateForm,
    SettingsForm,
    SLAPolicyForm,
    SubjectForm,
    TicketForm,
)
from app.tickets.models import (
    PRIORITIES,
    STATUSES,
    CannedReply,
    KnowledgeArticle,
    SavedView,
    SLAPolicy,
    Ticket,
    TicketAttachment,
)
from app.tickets.listing import SORT_LABELS, TicketFilters
from app.tickets.services import TRANSITIONS, TicketError
from app.platform.parsing import parse_id

managers_only = roles_required("admin", "manager")


def _form_failed(form, exc: Exception) -> None:
    if isinstance(exc, ModelValidationError):
        attach_model_errors(form, exc)
    elif isinstance(exc, (TicketError, canned.CannedError)) and exc.field and hasattr(form, exc.field):
        getattr(form, exc.field).errors = list(getattr(form, exc.field).errors) + [str(exc)]
    else:
        form.form_errors.append(str(exc))


def _ticket_or_404(ticket_id, *, include_deleted: bool = False) -> Ticket:
    """A ticket of this organization; customers only ever find their own."""
    ticket = get_or_404(Ticket, ticket_id, include_deleted=include_deleted)
    if current_user.role == "customer" and ticket.customer_id != current_user.id:
        abort(404)
    return ticket


def _filters() -> TicketFilters:
    args = request.args
    return TicketFilters(status=args.get("status", ""), priority=args.get("priority", ""),
                         assignee=args.get("assignee", ""), customer=args.get("customer", ""),
                         tag=args.get("tag", ""), breached=args.get("breached") == "1", q=args.get("q", "")[:200],
                         sort=args.get("sort", "-number"))


# --------------------------------------------------------------------------- list
@bp.route("/")
@login_required
def index():
    filters = _filters()
    page = listing.ticket_page(user=current_user, filters=filters)
    context = dict(page=page, filters=filters, is_staff=current_user.is_staff)
    if current_user.is_staff:
        # The saved-view and bulk forms carry the filters: on a list update they are sent again with it.
        context.update(saved_views=saved_views.views_for(current_user),
                       current_filters=saved_views.clean_filters(request.args))
    if is_htmx() and request.headers.get("HX-Target") == "ticket-results":
        return render_template("tickets/_list_update.html", **context)
    context.update(statuses=STATUSES, priorities=PRIORITIES, sort_labels=SORT_LABELS)
    if current_user.is_staff:
        context.update(bulk_actions=bulk.ACTIONS, bulk_tasks=bulk.bulk_tasks_for(current_user), kind_of=kind_of)
        context.update(agents=services.assignable_agents(current_user.organization),
                       customer_label=listing.customer_label(filters, current_user.organization_id))
    return render_template("tickets/index.html", **context)


# --------------------------------------------------------------------------- create
@bp.route("/new", methods=["GET", "POST"])
@login_required
@idempotent("tickets.index")
def new():
    form = TicketForm()
    if not current_user.is_staff:
        del form.customer
    valid = form.validate_on_submit()
    customer = current_user
    if form.is_submitted() and current_user.is_staff:
        # Checked even when another field is refused, so every mistake shows on the first answer, not one per try.
        try:
            customer = services.customer_by_email(organization_id=current_user.organization_id,
                                                  email=form.customer.data)
        except TicketError as exc:
            _form_failed(form, exc)
            valid = False
    if valid:
        try:
            ticket = services.ticket_create(organization=current_organization(), actor=current_user,
                                            customer=customer, subject=form.subject.data,
                                            description=form.description.data, priority=form.priority.data,
                                            files=request.files.getlist("attachments"))
        except (TicketError, ModelValidationError) as exc:
            _form_failed(form, exc)
        else:
            flash(f"Ticket #{ticket.ticket_number} opened.", "success")
            return redirect(url_for("tickets.detail", ticket_id=ticket.id))
    status = 422 if request.method == "POST" else 200
    suggestions = listing.customer_suggestions(current_user.organization_id) if current_user.is_staff else []
    return render_template("tickets/new.html", form=form, customer_suggestions=suggestions), status


# --------------------------------------------------------------------------- detail
def _detail_context(ticket: Ticket, **extra) -> dict:
    context = dict(
        ticket=ticket,
        comments=services.visible_comments(ticket, current_user),
        attachments=services.visible_attachments(ticket, current_user),
        comment_form=extra.pop("comment_form", None) or CommentForm(),
        transitions=TRANSITIONS.get(ticket.status, ()),
        priorities=PRIORITIES,
        property_error=extra.pop("property_error", None),
        property_field=extra.pop("property_field", None),
    )
    context.update(history_context(ticket, context["comments"]))
    context.update(files_context(ticket, context["attachments"], extra.pop("attach_form", None)))
    if current_user.is_staff:
        context.update(
            agents=services.assignable_agents(current_user.organization),
            canned_replies=list(db.session.scalars(canned.canned_visible(current_user))),
            delete_form=extra.pop("delete_form", None) or DeleteForm(),
            subject_form=extra.pop("subject_form", None) or SubjectForm(formdata=None, subject=ticket.subject),
            fields_locked=services.fields_locked_reason(ticket),
        )
    else:
        context["rate_form"] = extra.pop("rate_form", None) or RateForm()
    context.update(extra)
    return context


def history_context(ticket: Ticket, comments) -> dict:
    """The timeline as this user may see it, and which comments its entries can link to."""
    return dict(ticket=ticket, history=services.visible_history(ticket, current_user),
                history_limit=services.HISTORY_LIMIT, history_labels=HISTORY_FIELDS,
                linkable_comments={c.id for c in comments})


def files_context(ticket: Ticket, attachments, attach_form=None) -> dict:
    """The ticket's own files (not those on replies) and the form to add more, if this user may."""
    return dict(ticket=ticket, ticket_files=[a for a in attachments if a.comment_id is None],
                attach_problem=services.attach_problem(ticket, current_user),
                attach_form=attach_form or AttachForm(formdata=None))


@bp.route("/<int:ticket_id>")
@login_required
def detail(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    extra = {}
    reply = canned.canned_for(current_user, request.args.get("canned")) if current_user.is_staff else None
    if reply is not None:  # the canned reply chosen without JavaScript: the reply box starts with it
        extra["comment_form"] = CommentForm(formdata=None, content=canned.render(reply.body, ticket=ticket,
                                                                                  agent=current_user))
    return render_template("tickets/detail.html", **_detail_context(ticket, **extra))


@bp.route("/<int:ticket_id>/canned")
@staff_required
def canned_insert(ticket_id: int):
    """HTMX: the reply box again, with the chosen canned reply added to what was typed."""
    ticket = _ticket_or_404(ticket_id)
    reply = canned.canned_for(current_user, request.args.get("canned"))
    if not is_htmx():
        return redirect(url_for("tickets.detail", ticket_id=ticket.id, canned=request.args.get("canned", ""))
                        + "#conversation")
    typed = request.args.get("content", "")
    text = canned.render(reply.body, ticket=ticket, agent=current_user) if reply else ""
    joined = "\n\n".join(part for part in (typed.rstrip(), text) if part)
    form = CommentForm(formdata=None, content=joined)
    return render_template("tickets/_reply_content.html", comment_form=form)


@bp.route("/<int:ticket_id>/history")
@login_required
def history(ticket_id: int):
    """The timeline fragment: refreshed by HTMX after an inline change (the `ticket-changed` event)."""
    ticket = _ticket_or_404(ticket_id)
    if not is_htmx():
        return redirect(url_for("tickets.detail", ticket_id=ticket.id) + "#ticket-history")
    comments = services.visible_comments(ticket, current_user)
    return render_template("tickets/_history.html", **history_context(ticket, comments))


def _property_change(ticket: Ticket, action):
    """Run an inline change; HTMX gets the properties panel back (422 with the reason on refusal).

    `ticket-changed` refreshes the history. A status change into or out of closed/cancelled
    also sends `ticket-replies-toggled`, on which the conversation and files cards fetch
    themselves again, so their forms go away (or come back) without a reload; on other
    changes they are left alone, keeping a reply the user is typing.
    """
    took_replies = ticket.takes_replies
    try:
        action()
    except (TicketError, ModelValidationError) as exc:
        db.session.rollback()
        message = str(exc) if isinstance(exc, TicketError) else "; ".join(exc.messages())
        if is_htmx():
            ticket = _ticket_or_404(ticket.id)
            field = exc.field if isinstance(exc, TicketError) else None
            context = _detail_context(ticket, property_error=message, property_field=field)
            return render_template("tickets/_properties.html", **context), 422
        flash(message, "error")
        return redirect(url_for("tickets.detail", ticket_id=ticket.id))
    if is_htmx():
        response = render_template("tickets/_properties.html", **_detail_context(ticket))
        events = "ticket-changed"
        if took_replies != ticket.takes_replies:
            events += ", ticket-replies-toggled"
        return response, 200, {"HX-Trigger": events}
    flash("Ticket updated.", "success")
    return redirect(url_for("tickets.detail", ticket_id=ticket.id))


@bp.route("/<int:ticket_id>/status", methods=["POST"])
@staff_required
def change_status(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    return _property_change(ticket, lambda: services.ticket_change_status(
        ticket=ticket, actor=current_user, status=request.form.get("status", "")))


@bp.route("/<int:ticket_id>/priority", methods=["POST"])
@staff_required
def change_priority(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    return _property_change(ticket, lambda: services.ticket_change_priority(
        ticket=ticket, actor=current_user, priority=request.form.get("priority", "")))


@bp.route("/<int:ticket_id>/assignee", methods=["POST"])
@staff_required
def change_assignee(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    return _property_change(ticket, lambda: services.ticket_assign_from_form(
        ticket=ticket, actor=current_user, agent_id=request.form.get("assignee", "")))


@bp.route("/<int:ticket_id>/subject", methods=["POST"])
@staff_required
def change_subject(ticket_id: int):
    """Rename the ticket inline: HTMX gets the title back, or the reason under the input (422)."""
    ticket = _ticket_or_404(ticket_id)
    form = SubjectForm()
    if form.validate_on_submit():
        try:
            services.ticket_change_subject(ticket=ticket, actor=current_user, subject=form.subject.data)
        except (TicketError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            if is_htmx():
                fresh = SubjectForm(formdata=None, subject=ticket.subject)
                return (render_template("tickets/_subject.html", ticket=ticket, subject_form=fresh, retitle=True),
                        200, {"HX-Trigger": "ticket-changed"})
            flash("Subject changed.", "success")
            return redirect(url_for("tickets.detail", ticket_id=ticket.id))
    ticket = _ticket_or_404(ticket_id)
    if is_htmx():
        return render_template("tickets/_subject.html", ticket=ticket, subject_form=form), 422
    return render_template("tickets/detail.html", **_detail_context(ticket, subject_form=form)), 422


@bp.route("/<int:ticket_id>/tags", methods=["POST"])
@staff_required
def set_tags(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    return _property_change(ticket, lambda: services.ticket_set_tags(
        ticket=ticket, actor=current_user, text=request.form.get("tags", "")))


@bp.route("/<int:ticket_id>/custom-fields", methods=["POST"])
@staff_required
def set_custom_fields(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    return _property_change(ticket, lambda: services.ticket_set_custom_fields(
        ticket=ticket, actor=current_user, text=request.form.get("custom_fields", "")))


@bp.route("/<int:ticket_id>/comments", methods=["POST"])
@login_required
@idempotent("tickets.detail")
def comment(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    form = CommentForm()
    if form.validate_on_submit():
        try:
            services.comment_add(ticket=ticket, author=current_user, content=form.content.data,
                                 internal=current_user.is_staff and form.internal.data,
                                 files=request.files.getlist("attachments"))
        except (TicketError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            flash("Note added." if form.internal.data and current_user.is_staff else "Reply sent.", "success")
            return redirect(url_for("tickets.detail", ticket_id=ticket.id) + "#conversation")
    ticket = _ticket_or_404(ticket_id)
    return render_template("tickets/detail.html", **_detail_context(ticket, comment_form=form)), 422


@bp.route("/<int:ticket_id>/attachments", methods=["POST"])
@login_required
def attach(ticket_id: int):
    """Add files without a reply (staff, or the ticket's customer). HTMX gets the files card back."""
    ticket = _ticket_or_404(ticket_id)
    form = AttachForm()
    if form.validate_on_submit():
        try:
            uploads = services.ticket_attach(ticket=ticket, actor=current_user,
                                             files=request.files.getlist(form.attachments.name))
        except (TicketError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            message = f"Attached {', '.join(u.name for u in uploads)}."
            if is_htmx():
                ticket = _ticket_or_404(ticket_id)
                context = files_context(ticket, services.visible_attachments(ticket, current_user))
                return (render_template("tickets/_ticket_files.html", attached=message, **context),
                        200, {"HX-Trigger": "ticket-changed"})
            flash(message, "success")
            return redirect(url_for("tickets.detail", ticket_id=ticket.id) + "#ticket-files")
    ticket = _ticket_or_404(ticket_id)
    if is_htmx():
        context = files_context(ticket, services.visible_attachments(ticket, current_user), form)
        return render_template("tickets/_ticket_files.html", **context), 422
    return render_template("tickets/detail.html", **_detail_context(ticket, attach_form=form)), 422


@bp.route("/<int:ticket_id>/rate", methods=["POST"])
@roles_required("customer")
def rate(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    form = RateForm()
    if form.validate_on_submit():
        try:
            services.ticket_rate(ticket=ticket, customer=current_user, score=form.score.data, comment=form.comment.data)
        except (TicketError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            flash("Thank you for your rating.", "success")
            return redirect(url_for("tickets.detail", ticket_id=ticket.id))
    ticket = _ticket_or_404(ticket_id)
    return render_template("tickets/detail.html", **_detail_context(ticket, rate_form=form)), 422


@bp.route("/<int:ticket_id>/merge", methods=["POST"])
@staff_required
def merge(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    raw = request.form.get("target", "").strip().lstrip("#")
    target = db.session.scalars(sa.select(Ticket).where(
        Ticket.organization_id == current_user.organization_id, Ticket.is_active.is_(True),
        Ticket.ticket_number == (parse_id(raw) or -1))).first()
    try:
        if target is None:
            raise TicketError(f"There is no ticket #{raw or '?'} in this organization.")
        services.ticket_merge(source=ticket, target=target, actor=current_user)
    except TicketError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("tickets.detail", ticket_id=ticket.id))
    flash(f"Ticket #{ticket.ticket_number} merged into #{target.ticket_number}.", "success")
    return redirect(url_for("tickets.detail", ticket_id=target.id))


@bp.route("/<int:ticket_id>/delete", methods=["POST"])
@staff_required
def delete(ticket_id: int):
    ticket = _ticket_or_404(ticket_id)
    form = DeleteForm()
    if form.validate_on_submit():
        try:
            services.ticket_delete(ticket=ticket, actor=current_user, reason=form.reason.data)
        except TicketError as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            flash_undo(f"Ticket #{ticket.ticket_number} moved to the trash.", ticket)
            return redirect(url_for("tickets.index"))
    ticket = _ticket_or_404(ticket_id)
    return render_template("tickets/detail.html", **_detail_context(ticket, delete_form=form)), 422


# --------------------------------------------------------------------------- attachments
@bp.route("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    attachment = get_or_404(TicketAttachment, attachment_id)
    if not services.can_see_attachment(attachment, current_user):
        abort(404)
    try:
        path = storage.resolve(attachment.storage_path)
    except storage.StorageError:
        abort(404)
    if not path.exists():
        abort(404)
    services.attachment_count_download(attachment=attachment)
    return send_file(path, mimetype=attachment.content_type, as_attachment=True,
                     download_name=attachment.original_name)


# --------------------------------------------------------------------------- trash
@bp.route("/trash")
@staff_required
def trash():
    stmt = scoped(Ticket).where(Ticket.is_active.is_(False)).order_by(Ticket.deleted_at.desc(), Ticket.id.desc())
    page = paginate(stmt)
    return render_template("tickets/trash.html", page=page, empty_word=services.TRASH_EMPTY_WORD,
                           retention_days=services.settings_for(current_organization())["retention_days"])


@bp.route("/trash/restore", methods=["POST"])
@staff_required
def trash_restore():
    ids = [i for i in map(parse_id, request.form.getlist("ticket_ids")) if i is not None]
    if not ids:
        flash("Choose the tickets to restore.", "error")
        return redirect(url_for("tickets.trash"))
    try:
        count = services.tickets_restore(organization_id=current_user.organization_id, actor=current_user,
                                         ticket_ids=ids)
    except TicketError as exc:
        flash(str(exc), "error")
        return redirect(url_for("tickets.trash"))
    flash(f"{count} ticket{'s' if count != 1 else ''} restored.", "success")
    return redirect(url_for("tickets.trash"))


@bp.route("/trash/empty", methods=["POST"])
@staff_required
def trash_empty():
    try:
        count = services.tickets_trash_empty(organization_id=current_user.organization_id, actor=current_user,
                                             confirmation=request.form.get("confirmation", ""))
    except TicketError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("tickets.trash"))
    flash(f"The ticket trash is empty: {count} ticket{'s' if count != 1 else ''} and their files removed for good.",
          "success")
    return redirect(url_for("tickets.trash"))


@bp.route("/<int:ticket_id>/restore", methods=["POST"])
@staff_required
def restore(ticket_id: int):
    ticket = _ticket_or_404(ticket_id, include_deleted=True)
    try:
        services.ticket_restore(ticket=ticket, actor=current_user)
    except TicketError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("tickets.trash"))
    flash(f"Ticket #{ticket.ticket_number} restored.", "success")
    return redirect(url_for("tickets.detail", ticket_id=ticket.id))


# --------------------------------------------------------------------------- SLA policies and settings
def _sla_page(form=None, settings_form=None, status=200):
    policies = list(db.session.scalars(scoped(SLAPolicy).order_by(SLAPolicy.is_active.desc(), SLAPolicy.name)))
    if settings_form is None:
        settings = services.settings_for(current_organization())
        settings_form = SettingsForm(formdata=None, max_mb=settings["max_mb"], kinds=settings["kinds"],
                                     retention_days=settings["retention_days"])
    recomputes = services.sla_recomputes_for(current_user)
    return render_template("tickets/sla.html", policies=policies, form=form or SLAPolicyForm(formdata=None),
                           settings_form=settings_form, recomputes=recomputes, kind_of=kind_of), status


def _flash_policy_change(change: services.SLAPolicyChange, verb: str) -> None:
    message = f"SLA policy {change.policy.name} {verb}."
    if change.recompute is not None:
        message += " The due times of open tickets it concerns are being recomputed (progress below)."
    flash(message, "success")


@bp.route("/sla", methods=["GET", "POST"])
@managers_only
def sla():
    if request.method == "GET":
        return _sla_page()
    form = SLAPolicyForm()
    if form.validate_on_submit():
        try:
            change = services.sla_policy_save(organization_id=current_user.organization_id, actor=current_user,
                                              data=form.policy_data())
        except (TicketError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            _flash_policy_change(change, "saved")
            return redirect(url_for("tickets.sla"))
    return _sla_page(form=form, status=422)


@bp.route("/sla/<int:policy_id>", methods=["GET", "POST"])
@managers_only
def sla_edit(policy_id: int):
    policy = get_or_404(SLAPolicy, policy_id)
    form = SLAPolicyForm(obj=policy) if request.method == "GET" else SLAPolicyForm()
    if request.method == "GET":
        form.business_start.data = policy.business_start.strftime("%H:%M") if policy.business_start else "09:00"
        form.business_end.data = policy.business_end.strftime("%H:%M") if policy.business_end else "17:00"
    elif form.validate_on_submit():
        try:
            change = services.sla_policy_save(organization_id=current_user.organization_id, actor=current_user,
                                              policy=policy, data=form.policy_data())
        except (TicketError, ModelValidationError) as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            _flash_policy_change(change, "saved")
            return redirect(url_for("tickets.sla"))
    status = 422 if request.method == "POST" else 200
    return render_template("tickets/sla_edit.html", policy=policy, form=form), status


@bp.route("/sla/<int:policy_id>/active", methods=["POST"])
@managers_only
def sla_toggle(policy_id: int):
    policy = get_or_404(SLAPolicy, policy_id)
    try:
        change = services.sla_policy_set_active(policy=policy, actor=current_user,
                                                active=request.form.get("active") == "1")
    except TicketError as exc:
        flash(str(exc), "error")
    else:
        _flash_policy_change(change, "activated" if policy.is_active else "deactivated")
    return redirect(url_for("tickets.sla"))


@bp.route("/settings", methods=["POST"])
@managers_only
def settings():
    form = SettingsForm()
    if form.validate_on_submit():
        try:
            services.tickets_settings_update(organization=current_organization(), max_mb=form.max_mb.data,
                                             kinds=form.kinds.data, retention_days=form.retention_days.data)
        except TicketError as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            flash("Helpdesk settings saved.", "success")
            return redirect(url_for("tickets.sla"))
    return _sla_page(settings_form=form, status=422)


# --------------------------------------------------------------------------- knowledge base
@bp.route("/kb")
@login_required
def kb():
    q = request.args.get("q", "")[:200]
    category = request.args.get("category", "")[:80]
    if q.strip():
        plan_each_statement()
    page = paginate(services.article_query(organization_id=current_user.organization_id, q=q, category=category,
                                           include_drafts=current_user.is_staff))
    context = dict(page=page, q=q, category=category)
    if is_htmx() and request.headers.get("HX-Target") == "kb-results":
        return render_template("tickets/_kb_list.html", **context)
    categories = services.article_categories(organization_id=current_user.organization_id,
                                             include_drafts=current_user.is_staff)
    return render_template("tickets/kb.html", categories=categories, **context)


def _article_or_404(article_id: int) -> KnowledgeArticle:
    article = get_or_404(KnowledgeArticle, article_id)
    if not article.is_published and not current_user.is_staff:
        abort(404)
    return article


@bp.route("/kb/<int:article_id>")
@login_required
def kb_article(article_id: int):
    return render_template("tickets/kb_article.html", article=_article_or_404(article_id))


@bp.route("/kb/new", methods=["GET", "POST"])
@bp.route("/kb/<int:article_id>/edit", methods=["GET", "POST"])
@staff_required
@idempotent(lambda article_id=None: url_for("tickets.kb"))
def kb_edit(article_id: int | None = None):
    article = _article_or_404(article_id) if article_id else None
    form = ArticleForm(obj=article)
    if form.validate_on_submit():
        try:
            article = services.article_save(organization_id=current_user.organization_id, author=current_user,
                                            article=article, title=form.title.data, content=form.content.data,
                                            is_published=form.is_published.data, category=form.category.data)
        except ModelValidationError as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            flash("Article saved.", "success")
            return redirect(url_for("tickets.kb_article", article_id=article.id))
    status = 422 if request.method == "POST" else 200
    categories = services.article_categories(organization_id=current_user.organization_id, include_drafts=True)
    return render_template("tickets/kb_edit.html", form=form, article=article, categories=categories), status


@bp.route("/kb/<int:article_id>/delete", methods=["POST"])
@staff_required
def kb_delete(article_id: int):
    article = _article_or_404(article_id)
    services.article_delete(article=article)
    flash("Article deleted.", "success")
    return redirect(url_for("tickets.kb"))




# --------------------------------------------------------------------------- canned replies
def _canned_or_404(canned_id: int) -> CannedReply:
    reply = canned.canned_for(current_user, canned_id)
    if reply is None:
        abort(404)
    return reply


def _canned_page(form, reply=None, status=200):
    replies = list(db.session.scalars(canned.canned_visible(current_user)))
    return render_template("tickets/canned.html", replies=replies, form=form, editing=reply,
                           placeholders=canned.PLACEHOLDERS, can_edit=canned.can_edit), status


@bp.route("/canned", methods=["GET", "POST"])
@bp.route("/canned/<int:canned_id>", methods=["GET", "POST"])
@staff_required
def canned_replies(canned_id: int | None = None):
    reply = _canned_or_404(canned_id) if canned_id else None
    if reply is not None and request.method == "GET":
        form = CannedReplyForm(formdata=None, title=reply.title, body=reply.body, shared=reply.is_shared)
    else:
        form = CannedReplyForm()
    if request.method == "GET":
        return _canned_page(form, reply)
    if form.validate_on_submit():
        try:
            saved = canned.canned_save(actor=current_user, reply=reply, title=form.title.data, body=form.body.data,
                                       shared=form.shared.data)
        except canned.CannedError as exc:
            db.session.rollback()
            _form_failed(form, exc)
        else:
            flash(f"Canned reply {saved.title} saved.", "success")
            return redirect(url_for("tickets.canned_replies"))
    return _canned_page(form, reply, 422)


@bp.route("/canned/<int:canned_id>/delete", methods=["POST"])
@staff_required
def canned_delete(canned_id: int):
    reply = _canned_or_404(canned_id)
    try:
        canned.canned_delete(actor=current_user, reply=reply)
    except canned.CannedError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(f"Canned reply {reply.title} deleted.", "success")
    return redirect(url_for("tickets.canned_replies"))


# --------------------------------------------------------------------------- saved views
@bp.route("/views/nav")
@staff_required
def views_nav():
    """The Helpdesk menu's views with their counts (fetched when the menu opens: page loads stay cheap)."""
    links = saved_views.views_for(current_user)
    counts = {link.key: saved_views.view_count(current_user, link) for link in links}
    return render_template("tickets/_views_nav.html", links=links, counts=counts)


@bp.route("/views", methods=["POST"])
@staff_required
def view_save():
    filters = saved_views.clean_filters(request.form)
    try:
        view = saved_views.saved_view_save(actor=current_user, name=request.form.get("name", ""), filters=filters,
                                           shared=request.form.get("shared") == "y")
    except saved_views.SavedViewError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("tickets.index", **filters))
    flash(f"View {view.name} saved{' for the team' if view.is_shared else ''}; it is in the Helpdesk menu.", "success")
    return redirect(url_for("tickets.index", **filters))


@bp.route("/views/<int:view_id>/delete", methods=["POST"])
@staff_required
def view_delete(view_id: int):
    view = get_or_404(SavedView, view_id)
    if view.owner_id not in (None, current_user.id):
        abort(404)
    try:
        saved_views.saved_view_delete(actor=current_user, view=view)
    except saved_views.SavedViewError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(f"View {view.name} deleted.", "success")
    return redirect(url_for("tickets.index"))


# --------------------------------------------------------------------------- bulk actions
@bp.route("/bulk", methods=["POST"])
@staff_required
def bulk_change():
    """Change the chosen tickets, or all that match the list's filters (sent along as hidden fields)."""
    form = request.form
    filters = saved_views.clean_filters(form)
    every = form.get("select_all") == "1"
    ids = [int(i) for i in form.getlist("ticket_ids") if i.isdigit()]
    ticket_ids = bulk.selected_ids(actor=current_user, ticket_ids=ids,
                                   filters=saved_views.filters_of(filters) if every else None)
    action = form.get("action", "")
    value = form.get("value_" + {"add_tags": "tags", "remove_tags": "tags"}.get(action, action), "").strip()
    try:
        outcome = bulk.bulk_start(actor=current_user, action=action, value=value, ticket_ids=ticket_ids)
    except bulk.BulkError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        if isinstance(outcome, dict) and action == "trash":
            moved, skipped = outcome["changed"], outcome["skipped"]
            message = f"{moved} ticket{'s' if moved != 1 else ''} moved to the trash"
            message += f" ({skipped} already there or gone)." if skipped else "."
            if moved:
                flash_undo_many(message, Ticket, outcome["changed_ids"])
            else:
                flash(message, "info")
        elif isinstance(outcome, dict):
            message = f"{outcome['action']}: {outcome['changed']} ticket{'s' if outcome['changed'] != 1 else ''} changed"
            if outcome["skipped"]:
                message += f", {outcome['skipped']} skipped ({'; '.join(outcome['reasons'][:3])})"
            flash(message + ".", "success")
        else:
            flash(f"{outcome.title}: running in the background; its progress is below.", "success")
    return redirect(url_for("tickets.index", **filters))


# --------------------------------------------------------------------------- reports
def _date_arg(name: str):
    from datetime import date

    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/reports")
@staff_required
def report():
    start, end = reports.period(_date_arg("start"), _date_arg("end"))
    data = reports.report_for(organization_id=current_user.organization_id, start=start, end=end)
    return render_template("tickets/reports.html", report=data, chart=reports.day_chart(data.per_day),
                           ratings=reports.rating_chart(data.rating_counts))

"""Helpdesk forms: each declares exactly the fields its page offers."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import InputRequired, NumberRange, Optional

from app.platform.validation import FormRules
from app.tickets.attachments import KINDS
from app.tickets.models import PRIORITIES, WEEKDAYS, KnowledgeArticle, SLAPolicy, Ticket, TicketComment


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class TicketForm(FlaskForm):
    # An email box with suggestions, not a list of every customer: organizations can have thousands.
    customer = StringField("Customer email", render_kw={"list": "customer-emails", "autocomplete": "off",
                                                        "placeholder": "name@example.com"})
    subject = StringField("Subject", validators=[FormRules(Ticket, "subject")])
    description = TextAreaField("Describe the problem", render_kw={"rows": 6})
    priority = SelectField("Priority", choices=[(p, p.title()) for p in PRIORITIES], default="medium")
    attachments = MultipleFileField("Attachments")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class SubjectForm(FlaskForm):
    """A ticket's subject, changed inline by staff: judged by the same rules as a new ticket's."""

    subject = StringField("Subject", validators=[FormRules(Ticket, "subject")], filters=[_strip],
                          render_kw={"maxlength": Ticket.__table__.c.subject.type.length})


class AttachForm(FlaskForm):
    """Files added to a ticket without a reply. Its own id: the reply form's input is `attachments` too."""

    attachments = MultipleFileField("Add files", id="attach-files")


class CommentForm(FlaskForm):
    content = TextAreaField("Message", validators=[FormRules(TicketComment, "content")], render_kw={"rows": 4})
    internal = BooleanField("Internal note (never shown to the customer)")
    attachments = MultipleFileField("Attachments")


class RateForm(FlaskForm):
    score = SelectField("Rating", coerce=int, choices=[(5, "5 - excellent"), (4, "4 - good"), (3, "3 - okay"),
                                                      (2, "2 - poor"), (1, "1 - bad")])
    comment = TextAreaField("Anything to add? (optional)", render_kw={"rows": 2})


class DeleteForm(FlaskForm):
    reason = StringField("Reason", validators=[InputRequired("Say why the ticket is deleted.")])


class SLAPolicyForm(FlaskForm):
    name = StringField("Name", validators=[FormRules(SLAPolicy, "name")])
    is_default = BooleanField("Default policy for new tickets")
    low_first_response_minutes = IntegerField("Low: first response (min)", validators=[InputRequired(), NumberRange(1, 525600)], default=1440)
    low_resolution_minutes = IntegerField("Low: resolution (min)", validators=[InputRequired(), NumberRange(1, 525600)], default=7200)
    medium_first_response_minutes = IntegerField("Medium: first response (min)", validators=[InputRequired(), NumberRange(1, 525600)], default=480)
    medium_resolution_minutes = IntegerField("Medium: resolution (min)", validators=[InputRequired(), NumberRange(1, 525600)], default=2880)
    high_first_response_minutes = IntegerField("High: first response (min)", validators=[InputRequired(), NumberRange(1, 525600)], default=120)
    high_resolution_minutes = IntegerField("High: resolution (min)", validators=[InputRequired(), NumberRange(1, 525600)], default=960)
    urgent_first_response_minutes = IntegerField("Urgent: first response (min)", validators=[InputRequired(), NumberRange(1, 525600)], default=30)
    urgent_resolution_minutes = IntegerField("Urgent: resolution (min)", validators=[InputRequired(), NumberRange(1, 525600)], default=240)
    business_hours_only = BooleanField("Count business hours only")
    business_days = MultiCheckboxField("Business days", coerce=int, choices=list(enumerate(WEEKDAYS)), default=[0, 1, 2, 3, 4])
    business_start = StringField("Opens (HH:MM)", default="09:00", validators=[Optional()])
    business_end = StringField("Closes (HH:MM)", default="17:00", validators=[Optional()])
    timezone = StringField("Time zone", default="UTC", validators=[FormRules(SLAPolicy, "timezone")])

    DATA_FIELDS = ("name", "is_default", "low_first_response_minutes", "low_resolution_minutes",
                   "medium_first_response_minutes", "medium_resolution_minutes", "high_first_response_minutes",
                   "high_resolution_minutes", "urgent_first_response_minutes", "urgent_resolution_minutes",
                   "business_hours_only", "business_days", "business_start", "business_end", "timezone")

    def policy_data(self) -> dict:
        return {name: getattr(self, name).data for name in self.DATA_FIELDS}


class SettingsForm(FlaskForm):
    max_mb = IntegerField("Attachment size limit (MB)", validators=[InputRequired(), NumberRange(1, 50)])
    kinds = MultiCheckboxField("Allowed attachment types", choices=list(KINDS.items()))
    retention_days = IntegerField("Days deleted tickets stay in the trash", validators=[InputRequired(), NumberRange(1, 3650)])


class ArticleForm(FlaskForm):
    title = StringField("Title", validators=[FormRules(KnowledgeArticle, "title")])
    category = StringField("Category", render_kw={"list": "kb-categories", "autocomplete": "off",
                                                  "placeholder": "Billing, Getting started, ..."})
    content = TextAreaField("Content (Markdown)", validators=[FormRules(KnowledgeArticle, "content")],
                            render_kw={"rows": 12})
    is_published = BooleanField("Published (customers can read it)", default=False)


class CannedReplyForm(FlaskForm):
    title = StringField("Title", render_kw={"maxlength": 120})
    body = TextAreaField("Text", render_kw={"rows": 6, "placeholder": "Hello {{customer.first_name}}, ..."})
    shared = BooleanField("Shared with the team (otherwise only you see it)")


class MailboxForm(FlaskForm):
    name = StringField("Name", render_kw={"placeholder": "Support"})
    email_address = StringField("Email address (customers write to it; the Reply-To of the helpdesk's mail)")
    imap_host = StringField("IMAP server", render_kw={"placeholder": "imap.example.com"})
    imap_port = IntegerField("Port", validators=[Optional(), NumberRange(1, 65535)], default=993)
    security = SelectField("Connection", choices=[("ssl", "TLS (IMAPS, port 993)"), ("starttls", "STARTTLS (port 143)"),
                                                  ("none", "Plain (only a server on this machine)")], default="ssl")
    username = StringField("User name (empty: the address)")
    password = StringField("Password", render_kw={"type": "password", "autocomplete": "new-password"})
    folder = StringField("Folder", default="INBOX")
    allow_new_customers = BooleanField("New senders become customers (otherwise their mail waits for an agent)",
                                       default=True)
    is_active = BooleanField("Fetch this mailbox", default=True)

    DATA_FIELDS = ("name", "email_address", "imap_host", "imap_port", "security", "username", "password", "folder",
                   "allow_new_customers", "is_active")

    def mailbox_data(self) -> dict:
        return {name: getattr(self, name).data for name in self.DATA_FIELDS}

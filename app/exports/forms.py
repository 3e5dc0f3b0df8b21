"""WTForms for exports. Services validate again and own the messages for cross-field rules."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length, Optional

from app.exports.models import FORMATS
from app.platform.parsing import coerce_id


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class TimeEntryForm(FlaskForm):
    date = DateField("Date", validators=[DataRequired(message="Enter the date.")])
    project = StringField("Project", validators=[DataRequired(message="Enter the project you worked on."),
                                                 Length(max=200)])
    task = StringField("Task", validators=[Optional(), Length(max=200)])
    duration = StringField("Duration", validators=[DataRequired(message="Enter how long, like 1:30.")])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])


class ExportForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(message="Give the export a title."), Length(max=255)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    format = SelectField("Format", choices=list(FORMATS))
    template_id = SelectField("Template", choices=[], validate_choice=False)
    selected_fields = MultiCheckboxField("Fields", choices=[], validate_choice=False)
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class TemplateForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the template a name."), Length(max=255)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    format = SelectField("Format", choices=list(FORMATS))
    fields = MultiCheckboxField("Fields", choices=[], validate_choice=False)
    orientation = SelectField("PDF layout", choices=[("portrait", "Portrait"), ("landscape", "Landscape")])
    is_public = BooleanField("Visible to everyone in the organization")


class ShareForm(FlaskForm):
    user_ids = MultiCheckboxField("Share with", choices=[], coerce=coerce_id, validate_choice=False)


class ScheduleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the schedule a name."), Length(max=255)])
    template_id = SelectField("Template", choices=[], validate_choice=False)
    cron_pattern = StringField("Cron pattern", default="0 8 * * 1",
                               validators=[DataRequired(message="Enter a cron pattern."), Length(max=100)])
    timezone = StringField("Time zone", default="UTC", validators=[DataRequired(message="Enter a time zone.")])
    email_recipients = TextAreaField("Recipients", validators=[DataRequired(message="Add at least one recipient.")])
    include_download_link = BooleanField("Include a download link", default=True)
    attach_file = BooleanField("Attach the file (small files only)")


class ExportsSettingsForm(FlaskForm):
    customers_may_schedule = BooleanField("Customers may schedule exports (mailed to themselves only)")
    verified_recipients = TextAreaField("Verified addresses outside the organization",
                                        validators=[Optional(), Length(max=10000)])

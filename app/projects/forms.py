"""WTForms of the projects area. Type-specific fields are checked by the service and the model rules."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.platform.validation import FormRules
from app.projects.models import (
    DATE_KINDS,
    EXPORT_TYPE_LABELS,
    PROJECT_TYPE_LABELS,
    STUDY_FREQUENCY_LABELS,
    Project,
    SchoolProject,
    SelfStudyProject,
)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ProjectForm(FlaskForm):
    """Create and edit. Only the chosen type's fields are shown (HTMX swaps them) and required."""

    project_type = SelectField("Type", choices=list(PROJECT_TYPE_LABELS.items()), default="school")
    name = StringField("Name", filters=[_strip], validators=[FormRules(Project, "name")])
    description = TextAreaField("Description", filters=[_strip], validators=[Optional(), Length(max=5000)])
    start_date = DateField("Start date", validators=[Optional()])
    end_date = DateField("End date", validators=[Optional()])
    course_name = StringField("Course name", filters=[_strip])
    course_code = StringField("Course code", filters=[_strip])
    teacher_name = StringField("Teacher", filters=[_strip])
    goal_description = TextAreaField("Goal", filters=[_strip])
    # Free text, as in seed 002; the page suggests STUDY_FREQUENCY_LABELS' wording.
    study_frequency = StringField("Study frequency", filters=[_strip])
    FREQUENCY_SUGGESTIONS = tuple(STUDY_FREQUENCY_LABELS.values())

    TYPE_FIELDS = {"school": ("course_name", "course_code", "teacher_name"),
                   "self_study": ("goal_description", "study_frequency")}

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        model = SchoolProject if self.project_type.data == "school" else SelfStudyProject
        for name in self.TYPE_FIELDS.get(self.project_type.data, ()):
            field = getattr(self, name)
            try:
                FormRules(model, name)(self, field)
            except Exception as exc:  # StopValidation / ValidationError carry the model's message
                field.errors = list(field.errors) + [str(exc)]
                ok = False
        if self.start_date.data and self.end_date.data and self.end_date.data < self.start_date.data:
            self.end_date.errors = list(self.end_date.errors) + ["The end date can't be before the start date."]
            ok = False
        return ok

    def type_values(self) -> dict:
        return {name: getattr(self, name).data for name in self.TYPE_FIELDS.get(self.project_type.data, ())}


class MetaForm(FlaskForm):
    key = StringField("Key", filters=[_strip], validators=[DataRequired("Key is required."), Length(max=255)])
    value = TextAreaField("Value", filters=[_strip], validators=[Length(max=20000)],
                          description="Text, or JSON (a number, a list, an object).")


class DateForm(FlaskForm):
    kind = SelectField("Kind", choices=[(k, k.capitalize()) for k in DATE_KINDS])
    title = StringField("Title", filters=[_strip], validators=[DataRequired("Title is required."), Length(max=200)])
    date = DateField("Date", validators=[DataRequired("Enter a valid date.")])
    notes = StringField("Notes", filters=[_strip], validators=[Optional(), Length(max=2000)])


class AttachmentForm(FlaskForm):
    file = FileField("File")


class TemplateUploadForm(FlaskForm):
    name = StringField("Name", filters=[_strip], validators=[Optional(), Length(max=200)])
    file = FileField("Template (.zip)")


class ExportForm(FlaskForm):
    export_type = SelectField("Export as", choices=list(EXPORT_TYPE_LABELS.items()), default="zip")
    include_git = BooleanField("Include a .git folder with one commit")
    repository_url = StringField("Repository URL", filters=[_strip], validators=[Optional(), Length(max=500)])
    branch = StringField("Branch", filters=[_strip], default="main", validators=[Optional(), Length(max=100)])
    username = StringField("User name", filters=[_strip], validators=[Optional(), Length(max=100)],
                           description="Optional: x-access-token for GitHub, oauth2 for GitLab.")
    token = PasswordField("Access token", validators=[Optional(), Length(max=500)],
                          description="Used for this push only; never shown again.")


class ConfirmForm(FlaskForm):
    pass

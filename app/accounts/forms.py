"""WTForms for the accounts area. Forms declare exactly the fields a page offers: nothing else binds."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError

from app.accounts.models import (
    AVAILABILITY_STATUSES,
    CUSTOMER_TIERS,
    DATE_FORMATS,
    PAGE_SIZES,
    PERMISSIONS,
    ROLE_LABELS,
    UI_THEMES,
    CUSTOMER_AREAS,
    Organization,
    User,
    Workspace,
)
from app.platform.features import EXPERIMENTAL_FEATURES
from app.platform.timezones import is_zone
from app.platform.validation import FormRules


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class PasswordRules:
    """The password policy of `services.password_problems`, so form and service say the same."""

    def __call__(self, form, field) -> None:
        from app.accounts.services import password_problems

        email = getattr(getattr(form, "email", None), "data", None) or ""
        problems = password_problems(field.data or "", email=email)
        if problems:
            raise ValidationError(" ".join(problems))


class ZoneName:
    """An IANA time zone name zoneinfo knows (or empty where the field is optional)."""

    def __call__(self, form, field) -> None:
        if field.data and not is_zone(field.data):
            raise ValidationError("Choose a time zone from the list.")


def _password_field(label: str) -> PasswordField:
    return PasswordField(label, validators=[DataRequired("Choose a password."), PasswordRules()],
                         render_kw={"autocomplete": "new-password"})


class SignUpForm(FlaskForm):
    organization_name = StringField("Organization name", filters=[_strip],
                                    validators=[FormRules(Organization, "name")])
    full_name = StringField("Your name", filters=[_strip],
                            validators=[DataRequired("Enter your name."), FormRules(User, "full_name")])
    email = EmailField("Work email", filters=[_strip], validators=[FormRules(User, "email")],
                       render_kw={"autocomplete": "email"})
    password = _password_field("Password (at least 12 characters)")
    # Filled in by app.js from the browser (Intl API); checked against zoneinfo by the service.
    time_zone = HiddenField(validators=[Optional(), Length(max=64)], render_kw={"data-browser-timezone": ""})


class SignInForm(FlaskForm):
    email = EmailField("Email", filters=[_strip], validators=[DataRequired("Enter your email address."),
                                                              Email("Enter a valid email address.")],
                       render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device")


class AcceptInviteForm(FlaskForm):
    password = _password_field("Choose a password (at least 12 characters)")


class AddMemberForm(FlaskForm):
    email = EmailField("Email", filters=[_strip], validators=[FormRules(User, "email")])
    full_name = StringField("Name", filters=[_strip], validators=[FormRules(User, "full_name")])
    role = SelectField("Role", choices=list(ROLE_LABELS.items()), default="agent")


def _csv(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class MemberForm(FlaskForm):
    role = SelectField("Role", choices=list(ROLE_LABELS.items()))
    availability_status = SelectField("Availability (staff)", choices=[(s, s.title()) for s in AVAILABILITY_STATUSES])
    max_concurrent_tickets = IntegerField("Max concurrent tickets", validators=[FormRules(User)])
    customer_tier = SelectField("Customer tier (customers)", choices=[(t, t.title()) for t in CUSTOMER_TIERS])
    skills = StringField("Skills (comma separated)", validators=[Length(max=500)])
    certifications = StringField("Certifications (comma separated)", validators=[Length(max=500)])
    permissions = MultiCheckboxField("Extra permissions", choices=list(PERMISSIONS.items()))

    def skills_list(self) -> list[str]:
        return _csv(self.skills.data)

    def certifications_list(self) -> list[str]:
        return _csv(self.certifications.data)


class DeactivateForm(FlaskForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=255)])


class WorkspaceForm(FlaskForm):
    name = StringField("Name", filters=[_strip], validators=[FormRules(Workspace, "name")])
    description = TextAreaField("Description", filters=[_strip], validators=[FormRules(Workspace)])


class PreferencesForm(FlaskForm):
    ui_theme = SelectField("Theme", choices=list(UI_THEMES))
    timezone = SelectField("Time zone", validate_choice=False, validators=[Optional(), ZoneName()])
    preferred_date_format = SelectField("Date format", choices=list(DATE_FORMATS))
    default_page_size = SelectField("Rows per page", choices=[(n, str(n)) for n in PAGE_SIZES], coerce=int)
    default_workspace_id = SelectField("Default workspace", coerce=int)
    enabled_features = MultiCheckboxField("Experimental features", choices=list(EXPERIMENTAL_FEATURES.items()))
    email_notifications = BooleanField("Email me about my work (assignments, role changes, finished jobs)")
    propagation_notifications = BooleanField("Email me when renamed values are propagated to names")


class ProfileForm(FlaskForm):
    full_name = StringField("Name", filters=[_strip],
                            validators=[DataRequired("Enter your name."), FormRules(User, "full_name")])
    availability_status = SelectField("Availability", choices=[(s, s.title()) for s in AVAILABILITY_STATUSES])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = _password_field("New password (at least 12 characters)")
    revoke_tokens = BooleanField("Also revoke my API tokens (recommended if the password may have leaked)",
                                 default=True)


class OrganizationForm(FlaskForm):
    name = StringField("Organization name", filters=[_strip], validators=[FormRules(Organization, "name")])
    trash_retention_days = IntegerField("Keep deleted items for (days)",
                                        validators=[DataRequired(), NumberRange(1, 3650, "Between 1 and 3650 days.")])
    time_zone = SelectField("Default time zone (for members who haven't chosen one)", validate_choice=False,
                            validators=[Optional(), ZoneName()])
    customer_access = MultiCheckboxField("Customers may also use", choices=list(CUSTOMER_AREAS.items()))


class OrganizationDeleteForm(FlaskForm):
    confirmation = StringField("Type the organization's name to confirm", filters=[_strip],
                               validators=[DataRequired("Type the organization's name to confirm.")])
    reason = StringField("Reason (kept with the organization)", filters=[_strip],
                         validators=[Optional(), Length(max=255)])


class UsageFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter: reads only

    days = SelectField("Period", choices=[(1, "Today"), (7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days")],
                       coerce=int, default=7)


class PasswordResetRequestForm(FlaskForm):
    email = EmailField("Email", filters=[_strip], validators=[DataRequired("Enter your email address."),
                                                              Email("Enter a valid email address.")],
                       render_kw={"autocomplete": "email"})


class PasswordResetForm(FlaskForm):
    password = _password_field("New password (at least 12 characters)")


class EmailChangeForm(FlaskForm):
    new_email = EmailField("New email address", filters=[_strip],
                           validators=[DataRequired("Enter the new address."), Email("Enter a valid email address.")],
                           render_kw={"autocomplete": "email"})
    password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")],
                             render_kw={"autocomplete": "current-password"})

"""Centralized validation (seed 001): rules registered per model, run on every flush.

Features declare their rules once::

    validator.add_model_rules(User, [RequiredValidationRule("email"), EmailValidationRule("email")])

The same rules run in three places, with the same messages:
- on every flush (`validate_before_flush`, wired by `platform.hooks`), so no code
  path can write an invalid row;
- in services, which catch `ModelValidationError` and return it to the view;
- in forms, where `attach_model_errors(form, error)` puts each message under
  the field the user typed it in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email


class ModelValidationError(ValueError):
    """Raised with {field: [messages]} when a row breaks its model's rules."""

    def __init__(self, errors: dict[str, list[str]], model_name: str = "") -> None:
        self.errors = errors
        self.model_name = model_name
        flat = "; ".join(f"{k}: {m}" for k, msgs in errors.items() for m in msgs)
        super().__init__(f"{model_name} is invalid: {flat}" if model_name else flat)

    def messages(self) -> list[str]:
        return [m for msgs in self.errors.values() for m in msgs]


class ValidationRule:
    """One check of one field. `validate` returns True when the value is fine.

    `value_only` rules judge the value alone, so forms can run them as field
    validators (`FormRules`) and show the very message the flush would raise.
    Rules that look at other fields or rows (foreign keys, roles, timestamps)
    run only on the model.
    """

    default_message = "Invalid value for {label}."
    value_only = False

    def __init__(self, field_name: str, error_message: str | None = None, label: str | None = None) -> None:
        self.field_name = field_name
        self.label = label or field_name.replace("_", " ")
        self.error_message = error_message

    def validate(self, value: Any, model_instance: Any) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError("Subclasses must implement validate()")

    def get_error_message(self, value: Any, model_instance: Any) -> str:
        template = self.error_message or self.default_message
        message = template.format(label=self.label, value=value, rule=self)
        return message[:1].upper() + message[1:]

    def applies_to(self, model_instance: Any) -> bool:
        return True


class RequiredValidationRule(ValidationRule):
    default_message = "{label} is required."
    value_only = True

    def validate(self, value, model_instance):
        if value is None:
            return False
        if isinstance(value, str):
            return bool(value.strip())
        return True


class EmailValidationRule(ValidationRule):
    default_message = "Enter a valid email address."
    value_only = True

    def validate(self, value, model_instance):
        if value in (None, ""):
            return True  # RequiredValidationRule decides about emptiness
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            return False
        return True


class ChoiceValidationRule(ValidationRule):
    default_message = "{label} must be one of: {rule.choices_text}."
    value_only = True

    def __init__(self, field_name: str, choices: Iterable[str], allow_none: bool = False, **kwargs: Any) -> None:
        super().__init__(field_name, **kwargs)
        self.choices = tuple(choices)
        self.allow_none = allow_none

    @property
    def choices_text(self) -> str:
        return ", ".join(self.choices)

    def validate(self, value, model_instance):
        if value is None:
            return self.allow_none
        return value in self.choices


class RangeValidationRule(ValidationRule):
    default_message = "{label} must be between {rule.min_value} and {rule.max_value}."
    value_only = True

    def __init__(self, field_name: str, min_value: float | None = None, max_value: float | None = None,
                 allow_none: bool = True, **kwargs: Any) -> None:
        super().__init__(field_name, **kwargs)
        self.min_value = min_value
        self.max_value = max_value
        self.allow_none = allow_none
        if self.error_message is None and min_value is not None and max_value is None:
            self.error_message = "{label} must be at least {rule.min_value}."
        if self.error_message is None and max_value is not None and min_value is None:
            self.error_message = "{label} must be at most {rule.max_value}."

    def validate(self, value, model_instance):
        if value is None:
            return self.allow_none
        if self.min_value is not None and value < self.min_value:
            return False
        if self.max_value is not None and value > self.max_value:
            return False
        return True


class LengthValidationRule(ValidationRule):
    default_message = "{label} must be at most {rule.max_length} characters."
    value_only = True

    def __init__(self, field_name: str, max_length: int, min_length: int = 0, **kwargs: Any) -> None:
        super().__init__(field_name, **kwargs)
        self.max_length = max_length
        self.min_length = min_length
        if self.error_message is None and min_length:
            self.error_message = "{label} must be between {rule.min_length} and {rule.max_length} characters."

    def validate(self, value, model_instance):
        if value is None:
            return True
        return self.min_length <= len(value) <= self.max_length


class PatternValidationRule(ValidationRule):
    default_message = "{label} has characters that are not allowed."
    value_only = True

    def __init__(self, field_name: str, pattern: str, **kwargs: Any) -> None:
        super().__init__(field_name, **kwargs)
        self.pattern = re.compile(pattern)

    def validate(self, value, model_instance):
        return value in (None, "") or bool(self.pattern.fullmatch(value))


class ForeignKeyValidationRule(ValidationRule):
    """The referenced row exists and, for tenant rows, belongs to the same organization.

    This is what stops a crafted form from pointing a row at another tenant's data.
    """

    default_message = "{label} does not exist in this organization."

    def __init__(self, field_name: str, target_model: type, same_organization: bool = True,
                 required: bool = False, active_only: bool = False, **kwargs: Any) -> None:
        super().__init__(field_name, **kwargs)
        self.target_model = target_model
        self.same_organization = same_organization
        self.required = required
        self.active_only = active_only

    def validate(self, value, model_instance):
        if value is None:
            # The row may point at its target through the relationship, before either has an id.
            related = getattr(model_instance, self.field_name[:-3], None) if self.field_name.endswith("_id") else None
            if related is not None:
                related_org = related.id if self.target_model.__tablename__ == "organizations" else getattr(related, "organization_id", None)
                own_org = getattr(model_instance, "organization_id", None)
                return not (self.same_organization and related_org and own_org and related_org != own_org)
            return not self.required
        session = sa.orm.object_session(model_instance)
        if session is None:
            return True
        with session.no_autoflush:
            target = session.get(self.target_model, value)
        if target is None:
            return False
        if self.active_only and getattr(target, "is_active", True) is False:
            return False
        if self.same_organization and hasattr(model_instance, "organization_id"):
            target_org = target.id if self.target_model.__tablename__ == "organizations" else getattr(target, "organization_id", None)
            if target_org is not None and model_instance.organization_id is not None:
                return target_org == model_instance.organization_id
        return True


class RoleBasedValidationRule(ValidationRule):
    """A field may differ from its default only for some roles.

    Seed 001's business rules: only customers have a customer tier other than
    basic; only staff have an availability other than offline.
    """

    default_message = "{label} can only be set for {rule.roles_text}."

    def __init__(self, field_name: str, allowed_roles: Sequence[str], default_value: Any,
                 role_field: str = "role", **kwargs: Any) -> None:
        super().__init__(field_name, **kwargs)
        self.allowed_roles = tuple(allowed_roles)
        self.default_value = default_value
        self.role_field = role_field

    @property
    def roles_text(self) -> str:
        return " or ".join(f"{r}s" for r in self.allowed_roles)

    def validate(self, value, model_instance):
        role = getattr(model_instance, self.role_field, None)
        return role in self.allowed_roles or value == self.default_value


class TimestampValidationRule(ValidationRule):
    """`field_name` is not earlier than `not_before` (another field) and not in the future."""

    default_message = "{label} cannot be earlier than {rule.not_before_label}."

    def __init__(self, field_name: str, not_before: str | None = None, allow_future: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(field_name, **kwargs)
        self.not_before = not_before
        self.not_before_label = (not_before or "").replace("_", " ")
        self.allow_future = allow_future

    def validate(self, value, model_instance):
        if value is None:
            return True
        value = _aware(value)
        if self.not_before:
            other = getattr(model_instance, self.not_before, None)
            if other is not None and value < _aware(other):
                return False
        if not self.allow_future and value > datetime.now(timezone.utc):
            return False
        return True


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


@dataclass
class CentralizedValidator:
    validation_rules: dict[type, list[ValidationRule]] = field(default_factory=dict)

    def add_model_rules(self, model: type, rules: list[ValidationRule]) -> None:
        self.validation_rules.setdefault(model, []).extend(rules)

    def rules_for(self, model: type) -> list[ValidationRule]:
        found: list[ValidationRule] = []
        for klass in model.__mro__:
            found.extend(self.validation_rules.get(klass, ()))
        return found

    def validate_model(self, model_instance: Any, only: Iterable[str] | None = None) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        only_set = set(only) if only is not None else None
        for rule in self.rules_for(type(model_instance)):
            if only_set is not None and rule.field_name not in only_set:
                continue
            if not rule.applies_to(model_instance):
                continue
            value = getattr(model_instance, rule.field_name, None)
            try:
                ok = rule.validate(value, model_instance)
            except (TypeError, ValueError):  # e.g. a string where a number belongs: invalid, not a crash
                ok = False
            if not ok:
                errors.setdefault(rule.field_name, []).append(rule.get_error_message(value, model_instance))
        for name, message in column_fit_errors(model_instance, only_set):
            if name not in errors:  # a registered rule already said what is wrong with it, in its own words
                errors[name] = [message]
        return errors

    def validate_field(self, model_instance: Any, field_name: str) -> list[str]:
        return self.validate_model(model_instance, only=[field_name]).get(field_name, [])

    def is_valid(self, model_instance: Any) -> bool:
        return not self.validate_model(model_instance)

    def check(self, model_instance: Any) -> None:
        errors = self.validate_model(model_instance)
        if errors:
            raise ModelValidationError(errors, type(model_instance).__name__)


validator = CentralizedValidator()


def column_fit_errors(model_instance: Any, only: set[str] | None = None) -> list[tuple[str, str]]:
    """Every mapped model, without registering anything: values its columns can't hold.

    Text longer than a `String(n)`, NUL bytes, ints past the column's range, NaN: the
    database would refuse them with an error (a 500 on PostgreSQL; SQLite even stores
    some). Here they are a validation message at the field instead.
    """
    from app.platform.parsing import column_problem

    mapper = sa.inspect(type(model_instance), raiseerr=False)
    if mapper is None:
        return []
    problems = []
    for attr in mapper.column_attrs:
        if (only is not None and attr.key not in only) or len(attr.columns) != 1:
            continue
        value = model_instance.__dict__.get(attr.key)
        problem = column_problem(attr.columns[0], value)
        if problem:
            label = attr.key.replace("_", " ")
            problems.append((attr.key, f"{label[:1].upper()}{label[1:]} {problem}."))
    return problems


def validate_before_flush(session, instances: Iterable[Any]) -> None:
    """Run every registered rule on rows about to be written; raise on the first bad row."""
    with session.no_autoflush:
        for instance in instances:
            validator.check(instance)


class FormRules:
    """WTForms validator: the model's value-only rules for one field, with the model's messages.

        email = EmailField("Email", validators=[FormRules(User, "email")])

    A form then refuses what the flush would refuse, in the same words, before
    anything is written; the flush still checks everything (and the rules that
    need the whole row).
    """

    def __init__(self, model: type, field_name: str | None = None) -> None:
        self.model = model
        self.field_name = field_name

    @property
    def field_flags(self) -> dict[str, bool]:
        # Read by WTForms when a form is built: a required rule renders the input `required`
        # (only when the field is named here: a flag can't see the name of the field it is on).
        required = self.field_name is not None and any(
            isinstance(rule, RequiredValidationRule) and rule.field_name == self.field_name
            for rule in validator.rules_for(self.model))
        return {"required": True} if required else {}

    def __call__(self, form, field) -> None:
        from types import SimpleNamespace

        from wtforms.validators import StopValidation, ValidationError

        name = self.field_name or field.name
        value = field.data
        probe = SimpleNamespace(**{name: value})
        for rule in validator.rules_for(self.model):
            if rule.field_name != name or not rule.value_only or rule.validate(value, probe):
                continue
            message = rule.get_error_message(value, probe)
            if isinstance(rule, RequiredValidationRule):
                raise StopValidation(message)
            raise ValidationError(message)


def attach_model_errors(form, error: ModelValidationError) -> None:
    """Show a model's validation messages under the matching form fields.

    Messages for fields the form doesn't have go to `form.form_errors`, which
    the form macro shows at the top of the form.
    """
    for field_name, messages in error.errors.items():
        form_field = getattr(form, field_name, None)
        if form_field is None and field_name.endswith("_id"):
            form_field = getattr(form, field_name[:-3], None)
        if form_field is not None and hasattr(form_field, "errors"):
            if not isinstance(form_field.errors, list):
                form_field.errors = list(form_field.errors)
            form_field.errors.extend(messages)
        else:
            form.form_errors.extend(messages)

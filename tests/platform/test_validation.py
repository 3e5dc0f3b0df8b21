"""Centralized validation (seed 001): each rule class, enforcement on flush, the same messages on forms."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from app.accounts.models import Organization, User, UserPermission, UserPreferences, Workspace
from app.extensions import db
from app.platform.validation import (
    CentralizedValidator,
    ChoiceValidationRule,
    EmailValidationRule,
    ForeignKeyValidationRule,
    FormRules,
    LengthValidationRule,
    ModelValidationError,
    PatternValidationRule,
    RangeValidationRule,
    RequiredValidationRule,
    RoleBasedValidationRule,
    TimestampValidationRule,
    attach_model_errors,
    validator,
)
from tests.factories import make_member, make_organization, workspace_of


def _row(**fields):
    return SimpleNamespace(**fields)


def _message(rule, value, row=None):
    return rule.get_error_message(value, row or _row())


# --------------------------------------------------------------------------- each rule class
def test_required_rule():
    rule = RequiredValidationRule("name", label="workspace name")
    assert rule.validate("General", None) and rule.validate(0, None) and rule.validate([], None)
    for bad in (None, "", "   "):
        assert not rule.validate(bad, None)
    assert _message(rule, None) == "Workspace name is required."


def test_email_rule():
    rule = EmailValidationRule("email")
    assert rule.validate("ada@example.com", None)
    assert rule.validate("", None) and rule.validate(None, None)  # emptiness is RequiredValidationRule's job
    for bad in ("ada", "ada@", "@example.com", "ada@@example.com", "ada example@example.com"):
        assert not rule.validate(bad, None), bad
    assert _message(rule, "ada") == "Enter a valid email address."


def test_choice_rule():
    rule = ChoiceValidationRule("role", ("admin", "agent"))
    assert rule.validate("admin", None) and not rule.validate("root", None) and not rule.validate(None, None)
    assert ChoiceValidationRule("tier", ("a",), allow_none=True).validate(None, None)
    assert _message(rule, "root") == "Role must be one of: admin, agent."


def test_range_rule():
    rule = RangeValidationRule("max_concurrent_tickets", 1, 100, allow_none=False, label="max concurrent tickets")
    assert rule.validate(1, None) and rule.validate(100, None)
    assert not rule.validate(0, None) and not rule.validate(101, None) and not rule.validate(None, None)
    assert _message(rule, 0) == "Max concurrent tickets must be between 1 and 100."
    assert _message(RangeValidationRule("n", min_value=0), -1) == "N must be at least 0."
    assert _message(RangeValidationRule("n", max_value=9), 10) == "N must be at most 9."
    assert RangeValidationRule("n", 0, 5).validate(None, None)  # allow_none by default


def test_length_rule():
    rule = LengthValidationRule("name", 5)
    assert rule.validate("12345", None) and rule.validate(None, None) and not rule.validate("123456", None)
    assert _message(rule, "123456") == "Name must be at most 5 characters."
    ranged = LengthValidationRule("code", 4, min_length=2)
    assert not ranged.validate("a", None) and ranged.validate("ab", None)
    assert _message(ranged, "a") == "Code must be between 2 and 4 characters."


def test_pattern_rule():
    rule = PatternValidationRule("slug", r"[a-z0-9]+(?:-[a-z0-9]+)*")
    assert rule.validate("general-2", None) and rule.validate("", None)
    for bad in ("General", "a--b", "-a", "a_b", "a b", "a\n"):
        assert not rule.validate(bad, None), bad
    assert _message(rule, "A") == "Slug has characters that are not allowed."


def test_role_based_rule():
    rule = RoleBasedValidationRule("customer_tier", ["customer"], "basic", label="customer tier")
    assert rule.validate("premium", _row(role="customer"))
    assert rule.validate("basic", _row(role="agent"))
    assert not rule.validate("premium", _row(role="agent"))
    assert _message(rule, "premium") == "Customer tier can only be set for customers."


def test_timestamp_rule():
    now = datetime.now(timezone.utc)
    rule = TimestampValidationRule("resolved_at", not_before="created_at")
    assert rule.validate(now, _row(created_at=now - timedelta(hours=1)))
    assert rule.validate(None, _row(created_at=now))
    assert not rule.validate(now - timedelta(hours=2), _row(created_at=now - timedelta(hours=1)))
    assert rule.validate(datetime(2030, 1, 1), _row(created_at=datetime(2029, 1, 1, tzinfo=timezone.utc)))  # naive = UTC
    assert _message(rule, now) == "Resolved at cannot be earlier than created at."
    no_future = TimestampValidationRule("born_at", allow_future=False)
    assert no_future.validate(now - timedelta(days=1), _row()) and not no_future.validate(now + timedelta(days=1), _row())


def test_foreign_key_rule_checks_existence_activity_and_tenant(app_ctx):
    acme, globex = make_organization("Acme"), make_organization("Globex")
    rule = ForeignKeyValidationRule("default_workspace_id", Workspace, active_only=True, label="default workspace")
    mine, theirs = workspace_of(acme), workspace_of(globex)
    user = make_member(acme, "agent", "a@acme.example.com")
    prefs = user.preferences
    assert rule.validate(mine.id, prefs)
    assert not rule.validate(theirs.id, prefs)  # another tenant's row
    assert not rule.validate(987654, prefs)  # no such row
    mine.soft_delete(reason="")
    assert not rule.validate(mine.id, prefs)  # deleted rows are not a valid target
    assert rule.validate(None, prefs)  # optional
    assert _message(rule, theirs.id) == "Default workspace does not exist in this organization."
    required = ForeignKeyValidationRule("organization_id", Organization, required=True)
    assert not required.validate(None, User(email="x@example.com"))
    # Before either row has an id, the relationship is what counts.
    assert required.validate(None, User(email="x@example.com", organization=Organization(name="New", slug="new")))
    db.session.rollback()


def test_a_rule_that_cannot_judge_the_type_reports_invalid_instead_of_crashing():
    local = CentralizedValidator()
    local.add_model_rules(SimpleNamespace, [RangeValidationRule("n", 1, 10)])
    assert local.validate_model(SimpleNamespace(n="five")) == {"n": ["N must be between 1 and 10."]}


def test_validator_registry_collects_rules_per_model_and_checks_one_field():
    names = {type(r).__name__ for r in validator.rules_for(User)}
    assert {"RequiredValidationRule", "EmailValidationRule", "ChoiceValidationRule", "RangeValidationRule",
            "RoleBasedValidationRule", "ForeignKeyValidationRule", "TimestampValidationRule",
            "LengthValidationRule"} <= names
    user = User(email="bad", role="root", max_concurrent_tickets=0, customer_tier="basic", availability_status="offline")
    assert validator.validate_field(user, "email") == ["Enter a valid email address."]
    assert not validator.is_valid(user)
    with pytest.raises(ModelValidationError) as caught:
        validator.check(user)
    assert set(caught.value.errors) >= {"email", "role", "max_concurrent_tickets"}
    assert "User is invalid" in str(caught.value)


# --------------------------------------------------------------------------- on flush, nothing written
def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize("fields,field,message", [
    ({"email": ""}, "email", "Email is required."),
    ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ({"role": "root"}, "role", "Role must be one of: admin, manager, agent, customer."),
    ({"max_concurrent_tickets": 0}, "max_concurrent_tickets", "Max concurrent tickets must be between 1 and 100."),
    ({"full_name": "x" * 121}, "full_name", "Name must be at most 120 characters."),
    ({"role": "agent", "customer_tier": "premium"}, "customer_tier", "Customer tier can only be set for customers."),
    ({"role": "customer", "availability_status": "online"}, "availability_status",
     "Availability can only be set for admins, managers and agents."),
])
def test_bad_users_are_refused_on_flush_and_nothing_is_written(app_ctx, fields, field, message):
    org = make_organization("Acme")
    before = (_count(User), _count(UserPreferences))
    data = {"email": "new@acme.example.com", "role": "customer", **fields}
    db.session.add(User(organization_id=org.id, **data))
    with pytest.raises(ModelValidationError) as caught:
        db.session.commit()
    assert message in caught.value.errors[field]
    db.session.rollback()
    assert (_count(User), _count(UserPreferences)) == before


def test_updates_are_validated_too(app_ctx):
    org = make_organization("Acme")
    user = make_member(org, "agent", "a@acme.example.com")
    user.max_concurrent_tickets = 500
    with pytest.raises(ModelValidationError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(User, user.id).max_concurrent_tickets == 10


def test_cross_tenant_foreign_keys_are_refused_on_flush(app_ctx):
    acme, globex = make_organization("Acme"), make_organization("Globex")
    user = make_member(acme, "agent", "a@acme.example.com")
    user.preferences.default_workspace_id = workspace_of(globex).id
    with pytest.raises(ModelValidationError) as caught:
        db.session.commit()
    assert caught.value.errors == {"default_workspace_id": ["Default workspace does not exist in this organization."]}
    db.session.rollback()
    assert db.session.get(User, user.id).preferences.default_workspace_id is None
    # Pointed at the other tenant's row through the relationship (no id set yet): refused as well.
    user = db.session.get(User, user.id)
    user.preferences.default_workspace = workspace_of(globex)
    with pytest.raises(ModelValidationError) as caught:
        db.session.flush()
    assert "default_workspace_id" in caught.value.errors
    db.session.rollback()
    user = db.session.get(User, user.id)
    user.preferences.default_workspace = workspace_of(acme)
    db.session.commit()
    assert db.session.get(User, user.id).preferences.default_workspace_id == workspace_of(acme).id


def test_rows_added_together_are_validated_together(app_ctx):
    stranger = User(email="s@example.com", role="customer", organization=Organization(name="", slug="x"))
    db.session.add(stranger)
    with pytest.raises(ModelValidationError) as caught:
        db.session.flush()
    assert caught.value.errors == {"name": ["Organization name is required."]}
    db.session.rollback()
    assert _count(Organization) == 0 and _count(User) == 0


def test_other_models_rules_run_on_flush(app_ctx):
    org = make_organization("Acme")
    cases = [
        (Workspace(organization_id=org.id, name="Bad", slug="Not A Slug"), "slug"),
        (Workspace(organization_id=org.id, name="", slug="empty"), "name"),
        (Organization(name="X", slug="x", subscription_tier="platinum"), "subscription_tier"),
        (UserPermission(user_id=make_member(org).id, permission="launch_rockets"), "permission"),
    ]
    for row, field in cases:
        db.session.add(row)
        with pytest.raises(ModelValidationError) as caught:
            db.session.flush()
        assert field in caught.value.errors, row
        db.session.rollback()


# --------------------------------------------------------------------------- the same messages on forms
def test_form_rules_give_the_model_messages(app):
    from app.accounts.forms import MemberForm, SignUpForm, WorkspaceForm

    with app.test_request_context(method="POST"):
        form = SignUpForm(formdata=MultiDict({"organization_name": " ", "full_name": "Ada", "email": "nope",
                                              "password": "long-enough-password"}), meta={"csrf": False})
        assert not form.validate()
        assert form.organization_name.errors == ["Organization name is required."]
        assert form.email.errors == [EmailValidationRule("email").get_error_message("nope", None)]

        form = WorkspaceForm(formdata=MultiDict({"name": "n" * 121, "description": "ok"}), meta={"csrf": False})
        assert not form.validate()
        flush_message = validator.validate_model(Workspace(name="n" * 121, slug="s"))["name"]
        assert form.name.errors == flush_message == ["Workspace name must be at most 120 characters."]

        form = MemberForm(formdata=MultiDict({"role": "agent", "availability_status": "online", "customer_tier": "basic",
                                              "max_concurrent_tickets": "0"}), meta={"csrf": False})
        assert not form.validate()
        assert form.max_concurrent_tickets.errors == ["Max concurrent tickets must be between 1 and 100."]


def test_form_rules_skip_rules_that_need_the_whole_row(app):
    from wtforms import Form, StringField

    class TierForm(Form):
        customer_tier = StringField(validators=[FormRules(User)])

    form = TierForm(formdata=MultiDict({"customer_tier": "premium"}))
    assert form.validate()  # RoleBased needs the role: it runs on flush, not here
    form = TierForm(formdata=MultiDict({"customer_tier": "gold"}))
    assert not form.validate() and form.customer_tier.errors == ["Customer tier must be one of: basic, premium, enterprise."]


def test_flush_errors_are_attached_to_the_matching_form_fields(app):
    from app.accounts.forms import PreferencesForm

    with app.test_request_context(method="POST"):
        form = PreferencesForm(formdata=MultiDict(), meta={"csrf": False})
        error = ModelValidationError({"default_workspace_id": ["Default workspace does not exist in this organization."],
                                      "user_id": ["Something about the row."]}, "UserPreferences")
        attach_model_errors(form, error)
        assert form.default_workspace_id.errors == ["Default workspace does not exist in this organization."]
        assert form.form_errors == ["Something about the row."]


def test_required_rules_mark_form_inputs_required(app):
    from app.accounts.forms import MemberForm, SignUpForm, WorkspaceForm

    with app.test_request_context():
        signup = SignUpForm(meta={"csrf": False})
        assert signup.organization_name.flags.required and signup.email.flags.required
        assert " required" in signup.email()
        assert WorkspaceForm(meta={"csrf": False}).name.flags.required
        assert not WorkspaceForm(meta={"csrf": False}).description.flags.required
        assert not MemberForm(meta={"csrf": False}).max_concurrent_tickets.flags.required

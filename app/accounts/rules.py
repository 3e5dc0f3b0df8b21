"""Centralized validation rules for the accounts models (seed 001 defaults)."""
from app.accounts.models import (
    AVAILABILITY_STATUSES,
    CUSTOMER_TIERS,
    PERMISSIONS,
    ROLES,
    STAFF_ROLES,
    SUBSCRIPTION_TIERS,
    Organization,
    User,
    UserPermission,
    UserPreferences,
    Workspace,
)
from app.platform.validation import (
    ChoiceValidationRule,
    EmailValidationRule,
    ForeignKeyValidationRule,
    LengthValidationRule,
    PatternValidationRule,
    RangeValidationRule,
    RequiredValidationRule,
    RoleBasedValidationRule,
    TimestampValidationRule,
    validator,
)

SLUG_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"

validator.add_model_rules(
    Organization,
    [
        RequiredValidationRule("name", label="organization name"),
        LengthValidationRule("name", 200, label="organization name"),
        RequiredValidationRule("slug"),
        PatternValidationRule("slug", SLUG_PATTERN, error_message="Slug may contain lowercase letters, digits and dashes."),
        ChoiceValidationRule("subscription_tier", SUBSCRIPTION_TIERS, label="subscription tier"),
        TimestampValidationRule("updated_at", not_before="created_at"),
    ],
)

validator.add_model_rules(
    User,
    [
        RequiredValidationRule("email"),
        EmailValidationRule("email"),
        LengthValidationRule("full_name", 120, label="name"),
        ChoiceValidationRule("role", ROLES),
        ChoiceValidationRule("availability_status", AVAILABILITY_STATUSES, label="availability"),
        ChoiceValidationRule("customer_tier", CUSTOMER_TIERS, label="customer tier"),
        RangeValidationRule("max_concurrent_tickets", 1, 100, allow_none=False, label="max concurrent tickets"),
        RoleBasedValidationRule("customer_tier", ["customer"], "basic", label="customer tier"),
        RoleBasedValidationRule("availability_status", STAFF_ROLES, "offline", label="availability",
                                error_message="Availability can only be set for admins, managers and agents."),
        ForeignKeyValidationRule("organization_id", Organization, required=True, label="organization"),
        TimestampValidationRule("updated_at", not_before="created_at"),
    ],
)

validator.add_model_rules(
    Workspace,
    [
        RequiredValidationRule("name", label="workspace name"),
        LengthValidationRule("name", 120, label="workspace name"),
        LengthValidationRule("description", 2000),
        RequiredValidationRule("slug"),
        PatternValidationRule("slug", SLUG_PATTERN, error_message="Slug may contain lowercase letters, digits and dashes."),
    ],
)

validator.add_model_rules(
    UserPreferences,
    [
        ChoiceValidationRule("ui_theme", ("light", "dark", "auto"), label="theme"),
        ChoiceValidationRule("preferred_date_format", ("iso", "us", "eu"), label="date format"),
        RangeValidationRule("default_page_size", 5, 200, allow_none=False, label="page size"),
        ForeignKeyValidationRule("default_workspace_id", Workspace, active_only=True, label="default workspace"),
    ],
)

validator.add_model_rules(UserPermission, [ChoiceValidationRule("permission", tuple(PERMISSIONS))])

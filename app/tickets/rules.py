"""Centralized validation rules for the helpdesk models (seed 001's Ticket, TicketComment, TicketAttachment)."""
from zoneinfo import available_timezones

from app.accounts.models import User
from app.platform.validation import (
    ChoiceValidationRule,
    ForeignKeyValidationRule,
    LengthValidationRule,
    RangeValidationRule,
    RequiredValidationRule,
    TimestampValidationRule,
    ValidationRule,
    validator,
)
from app.tickets.models import (
    COMMENT_TYPES,
    PRIORITIES,
    STATUSES,
    KnowledgeArticle,
    SLAPolicy,
    Ticket,
    TicketAttachment,
    TicketComment,
)


class TimezoneValidationRule(ValidationRule):
    default_message = "Choose a time zone from the list (for example Europe/Berlin)."
    value_only = True

    def validate(self, value, model_instance):
        return value in available_timezones() or value == "UTC"


class BusinessHoursRule(ValidationRule):
    default_message = "Business hours need at least one weekday and a start time before the end time."

    def validate(self, value, model_instance):
        if not value:
            return True
        start, end = model_instance.business_start, model_instance.business_end
        return bool(model_instance.business_days) and start is not None and end is not None and start < end


validator.add_model_rules(
    Ticket,
    [
        RequiredValidationRule("subject"),
        LengthValidationRule("subject", 200),
        ChoiceValidationRule("status", STATUSES),
        ChoiceValidationRule("priority", PRIORITIES),
        RangeValidationRule("customer_satisfaction_score", 1, 5, label="satisfaction score"),
        RangeValidationRule("time_to_first_response", min_value=0, label="time to first response"),
        ForeignKeyValidationRule("customer_id", User, required=True, label="customer"),
        ForeignKeyValidationRule("assigned_agent_id", User, label="assigned agent"),
        TimestampValidationRule("updated_at", not_before="created_at"),
        TimestampValidationRule("resolved_at", not_before="created_at"),
    ],
)

validator.add_model_rules(
    TicketComment,
    [
        RequiredValidationRule("content", label="message"),
        LengthValidationRule("content", 50000, label="message"),
        ChoiceValidationRule("comment_type", COMMENT_TYPES, label="comment type"),
    ],
)

validator.add_model_rules(
    TicketAttachment,
    [
        RequiredValidationRule("original_name", label="file name"),
        RangeValidationRule("size", min_value=0, label="file size"),
        RangeValidationRule("download_count", min_value=0, label="download count"),
    ],
)

_TARGETS = [f"{p}_{kind}_minutes" for p in PRIORITIES for kind in ("first_response", "resolution")]
validator.add_model_rules(
    SLAPolicy,
    [RequiredValidationRule("name"), LengthValidationRule("name", 120), TimezoneValidationRule("timezone", label="time zone"),
     BusinessHoursRule("business_hours_only", label="business hours")]
    + [RangeValidationRule(f, 1, 525600, allow_none=False, label=f.replace("_minutes", "").replace("_", " ") + " (minutes)")
       for f in _TARGETS],
)

validator.add_model_rules(
    KnowledgeArticle,
    [RequiredValidationRule("title"), LengthValidationRule("title", 200), RequiredValidationRule("content")],
)

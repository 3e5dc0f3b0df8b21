"""Naming rules demo data for `flask seed-demo`, in the General workspace, through `app.rules.services`:
dimensions, two Azure platforms, a rule for each, a saved preview and one generation.

The generation is queued like any other (`generation_create` submits its job); `seed-demo`
runs the jobs a loader queued before it records the area as loaded. Each step looks for its
result first (by key or name), so running the loader again completes a run that stopped.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import Workspace
from app.extensions import db
from app.platform.jobs import FAILED
from app.rules import services
from app.rules.models import (
    Dimension,
    DimensionValue,
    Generation,
    Platform,
    Rule,
    RuleField,
    RulePreview,
)

WORKSPACE_SLUG = "general"
# key: (label, description, kind, min/max length of free text, [(value, label, short code)])
DIMENSIONS = {
    "environment": ("Environment", "Where the resource runs.", "list", (None, None),
                    [("dev", "Development", "d"), ("test", "Test", "t"), ("prod", "Production", "p")]),
    "project": ("Project", "The application or team the resource belongs to, e.g. billing.", "free_text", (2, 12),
                []),
    "region": ("Region", "The Azure region.", "list", (None, None),
               [("weu", "West Europe", "we"), ("neu", "North Europe", "ne"), ("eus", "East US", "eu")]),
}
PLATFORMS = (
    {"name": "Azure storage account", "max_length": 24, "allowed_chars": "a-z0-9", "lowercase_only": True,
     "description": "3-24 characters, lowercase letters and digits only, unique across Azure."},
    {"name": "Azure resource group", "max_length": 90, "allowed_chars": "a-zA-Z0-9_.()-", "invalid_last_chars": ".",
     "description": "Up to 90 characters: letters, digits, underscores, hyphens, periods and parentheses; "
                    "not ending in a period."},
)
# (rule name, platform name, description, field name, pattern)
RULES = (
    ("Storage accounts", "Azure storage account", "Storage accounts of every environment.",
     "Storage account", "{environment}-{project}-{region}-{seq:3}"),
    ("Resource groups", "Azure resource group", "One resource group per project, environment and region.",
     "Resource group", "rg-{environment}-{project}-{region}-{seq:3}"),
)
PREVIEW_LABEL = "Billing in production, West Europe"
PREVIEW_DATA = {"environment": "prod", "project": "billing", "region": "weu"}
GENERATION_VALUES = {"environment": ["dev", "test", "prod"], "project": ["billing"], "region": ["weu", "neu"]}


def load_demo(*, organization, users: dict) -> None:
    workspace = db.session.scalars(sa.select(Workspace).where(Workspace.organization_id == organization.id,
                                                              Workspace.slug == WORKSPACE_SLUG)).first()
    if workspace is None:
        raise LookupError(f"the demo organization has no {WORKSPACE_SLUG!r} workspace")
    for key, (label, description, kind, (low, high), values) in DIMENSIONS.items():
        dimension = _dimension(workspace, key, label, description, kind, low, high)
        for value, value_label, code in values:
            _value(dimension, value, value_label, code)
    platforms = {spec["name"]: _platform(workspace, spec) for spec in PLATFORMS}
    rules = {}
    for name, platform_name, description, field_name, pattern in RULES:
        rules[name] = rule = _rule(workspace, name, platforms[platform_name], description)
        _field(rule, field_name, pattern)
    storage = rules["Storage accounts"]
    if db.session.scalar(sa.select(RulePreview.id).where(RulePreview.rule_id == storage.id,
                                                         RulePreview.label == PREVIEW_LABEL)) is None:
        services.rule_preview_save(rule=storage, test_data=PREVIEW_DATA, user=users["admin"], label=PREVIEW_LABEL)
    started = db.session.scalar(sa.select(Generation.id).where(Generation.rule_id == storage.id,
                                                               Generation.status != Generation.status_value(FAILED)))
    if started is None:
        services.generation_create(workspace=workspace, rule_id=storage.id, dimension_values=GENERATION_VALUES,
                                   user=users["admin"], note="Storage accounts for the billing project")


def _dimension(workspace, key, label, description, kind, low, high) -> Dimension:
    found = db.session.scalars(sa.select(Dimension).where(Dimension.workspace_id == workspace.id,
                                                          Dimension.key == key)).first()
    return found or services.dimension_create(workspace=workspace, key=key, label=label, description=description,
                                              kind=kind, min_length=low, max_length=high)


def _value(dimension: Dimension, value: str, label: str, code: str) -> DimensionValue:
    found = db.session.scalars(sa.select(DimensionValue).where(DimensionValue.dimension_id == dimension.id,
                                                               DimensionValue.value == value)).first()
    return found or services.value_create(dimension=dimension, value=value, label=label, short_code=code)


def _platform(workspace, spec: dict) -> Platform:
    found = db.session.scalars(sa.select(Platform).where(Platform.workspace_id == workspace.id,
                                                         Platform.name == spec["name"])).first()
    return found or services.platform_create(workspace=workspace, **spec)


def _rule(workspace, name: str, platform: Platform, description: str) -> Rule:
    found = db.session.scalars(sa.select(Rule).where(Rule.workspace_id == workspace.id, Rule.name == name)).first()
    return found or services.rule_create(workspace=workspace, name=name, platform_id=platform.id,
                                         description=description)


def _field(rule: Rule, name: str, pattern: str) -> RuleField:
    found = db.session.scalars(sa.select(RuleField).where(RuleField.rule_id == rule.id,
                                                          RuleField.name == name)).first()
    return found or services.field_create(rule=rule, name=name, pattern=pattern, casing="lower", delimiter="-",
                                          truncation="shorten_values")

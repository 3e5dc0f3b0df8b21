"""The names dataset for exports: the generated names (the "strings" table) of the CURRENT workspace, staff only
(the rules area is staff-only). The export job has no request, so the workspace id is stored in the request's
filters when it is made (Dataset.stored_filters) and read back here; without it the export holds no rows."""
from __future__ import annotations

import sqlalchemy as sa

from app.exports.datasets import Dataset, Field, Filter, register_dataset

STAFF_ROLES = ("admin", "manager", "agent")  # tenancy.staff_required


def _current_workspace_filter(user) -> dict:
    from app.platform.tenancy import current_workspace

    workspace = current_workspace()
    return {"workspace_id": workspace.id if workspace is not None else ""}


def _names(user, filters: dict) -> sa.Select:
    from app.rules.models import GeneratedName, Rule, RuleField

    try:
        workspace_id = int(filters.get("workspace_id") or 0)
    except (TypeError, ValueError):
        workspace_id = 0
    return (
        sa.select(
            GeneratedName.id.label("id"),
            GeneratedName.value.label("value"),
            Rule.name.label("rule"),
            RuleField.name.label("field"),
            GeneratedName.dimension_values.label("dimensions"),  # JSON: written with sorted keys on every database
            sa.case((GeneratedName.is_active.is_(True), "active"), else_="released").label("state"),
            GeneratedName.created_at.label("created_at"),
        )
        .outerjoin(Rule, Rule.id == GeneratedName.rule_id)
        .outerjoin(RuleField, RuleField.id == GeneratedName.field_id)
        .where(GeneratedName.organization_id == user.organization_id,
               GeneratedName.workspace_id == workspace_id)  # 0 (none stored): no rows
    )


register_dataset(Dataset(
    name="names",
    label="Names",
    fields=[Field("value", "Value"), Field("rule", "Rule"), Field("field", "Field"),
            Field("dimensions", "Dimension values"), Field("state", "Active/released"),
            Field("created_at", "Created", "datetime")],
    build=_names,
    build_takes_filters=True,
    stored_filters=_current_workspace_filter,
    date_column="created_at",
    filters=[Filter("state", "Active/released", lambda rows, v: rows.c.state == v.strip().lower())],
    allowed=lambda user: user.role in STAFF_ROLES,
    order_by=("created_at", "id"),
))

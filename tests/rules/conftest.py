"""Rules tests: a workspace with dimensions, an Azure-like platform and one rule, built through the services."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.factories import workspace_of
from tests.helpers import browser


@pytest.fixture()
def client(app):
    return browser(app)


def build_naming(workspace):
    from app.rules import services

    env = services.dimension_create(workspace=workspace, key="environment", label="Environment")
    for value, code in (("dev", "d"), ("prod", "p")):
        services.value_create(dimension=env, value=value, short_code=code)
    project = services.dimension_create(workspace=workspace, key="project")
    for value in ("web", "api"):
        services.value_create(dimension=project, value=value)
    region = services.dimension_create(workspace=workspace, key="region")
    for value in ("weu", "neu"):
        services.value_create(dimension=region, value=value)
    platform = services.platform_create(workspace=workspace, name="Azure resource group", max_length=24,
                                        allowed_chars="a-z0-9-", lowercase_only=True, invalid_first_chars="-",
                                        invalid_last_chars="-", invalid_consecutive_chars="-")
    rule = services.rule_create(workspace=workspace, name="Resource groups", platform_id=platform.id)
    field = services.field_create(rule=rule, name="resource group", pattern="{environment}-{project}-{region}-{seq:3}",
                                  casing="lower", delimiter="-", truncation="refuse")
    return SimpleNamespace(workspace=workspace, env=env, project=project, region=region, platform=platform, rule=rule,
                           field=field)


@pytest.fixture()
def naming(org, admin):
    return build_naming(workspace_of(org))


def all_values(workspace_id: int, *, active_only: bool = True) -> list[str]:
    import sqlalchemy as sa

    from app.extensions import db
    from app.rules.models import GeneratedName

    db.session.expire_all()
    stmt = sa.select(GeneratedName.value).where(GeneratedName.workspace_id == workspace_id)
    if active_only:
        stmt = stmt.where(GeneratedName.is_active.is_(True))
    return sorted(db.session.scalars(stmt))

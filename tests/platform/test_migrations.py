"""Migrations build, from nothing, exactly the schema the models describe, on SQLite and PostgreSQL.

Each test migrates a database of its own (a new SQLite file, or a PostgreSQL
database created and dropped here), never the shared test database.
"""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from app.extensions import db
from tests.conftest import ROOT, make_test_app

MIGRATIONS = ROOT / "migrations"

GIN_INDEXES = {
    "idx_user_skills_gin": "users",
    "idx_user_certifications_gin": "users",
    "idx_org_settings_gin": "organizations",
}
PARTIAL_UNIQUE_INDEX = ("exclude_duplicate_active_sessions", "user_sessions")
# Seed 001's check constraints, by table. Ticket ones are checked once a tickets table is mapped.
SEED_001_CHECKS = {
    "users": {
        "check_user_max_tickets_range",
        "check_user_role_valid",
        "check_user_customer_tier_only_for_customers",
        "check_user_availability_only_for_agents",
    },
    "tickets": {
        "check_ticket_satisfaction_score_range",
        "check_ticket_first_response_time_positive",
        "check_ticket_status_valid",
        "check_ticket_priority_valid",
        "check_ticket_updated_after_created",
        "check_ticket_resolved_after_created",
    },
}


# --------------------------------------------------------------------------- fixtures
FRESH_PREFIX = "cairn_migrations_p"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _drop_leftovers(conn) -> None:
    """Drop databases left by test processes that died before their teardown."""
    names = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                         {"p": FRESH_PREFIX.replace("_", r"\_") + "%"}).scalars().all()
    for old in names:
        pid = old[len(FRESH_PREFIX):].partition("_")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)'))


@pytest.fixture()
def fresh_database_url(backend, tmp_path):
    """An empty database of the current backend, dropped afterwards."""
    if not backend["postgres"]:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    url = sa.engine.make_url(backend["database_url"])
    name = f"{FRESH_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        _drop_leftovers(conn)
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def fresh_app(backend, fresh_database_url):
    """An app bound to the empty database; nothing is migrated yet."""
    application = make_test_app(backend, SQLALCHEMY_DATABASE_URI=fresh_database_url)
    with application.app_context():
        assert sa.inspect(db.engine).get_table_names() == [], "the database should start empty"
        yield application
        db.session.remove()
        db.engine.dispose()


# --------------------------------------------------------------------------- helpers
def _skipped_on(reported: sa.Index, dialect_name: str) -> bool:
    """True when the model's index is ddl_if'd for other dialects only (pg_only GIN indexes on SQLite).

    compare_metadata reports a rebuilt copy of the index (without `ddl_if`), so
    the model's own Index is looked up by table and name.
    """
    table = db.metadata.tables.get(reported.table.name)
    index = next((i for i in table.indexes if i.name == reported.name), None) if table is not None else None
    ddl_if = getattr(index, "_ddl_if", None)
    if ddl_if is None or ddl_if.dialect is None:
        return False
    allowed = {ddl_if.dialect} if isinstance(ddl_if.dialect, str) else set(ddl_if.dialect)
    return dialect_name not in allowed


def _flatten(diffs):
    for diff in diffs:
        if isinstance(diff, list):  # column modifications come grouped
            yield from diff
        else:
            yield diff


def schema_differences(application) -> list:
    """Autogenerate's comparison of the models with the database, configured like migrations/env.py."""
    options = dict(application.extensions["migrate"].configure_args)
    options.pop("process_revision_directives", None)  # env.py adds it; irrelevant to comparing
    assert options.get("compare_type") is True and options.get("render_as_batch") is True
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={**options, "target_metadata": db.metadata})
        diffs = compare_metadata(context, db.metadata)
        dialect_name = conn.dialect.name
    return [
        diff for diff in _flatten(diffs)
        if not (diff[0] == "add_index" and _skipped_on(diff[1], dialect_name))
    ]


def _index_sql(conn) -> dict[str, str]:
    """index name -> its definition, from the database's catalogue."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))
    else:
        rows = conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    return {name: definition for name, definition in rows}


def _check_constraints(conn, table: str) -> set[str]:
    if conn.dialect.name == "postgresql":
        return set(conn.execute(
            sa.text("SELECT conname FROM pg_constraint WHERE contype = 'c' AND conrelid = CAST(:t AS regclass)"),
            {"t": table},
        ).scalars())
    create_sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                              {"t": table}).scalar_one()
    return set(re.findall(r'CONSTRAINT\s+"?(\w+)"?\s+CHECK', create_sql, flags=re.IGNORECASE))


def _table_names() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


# --------------------------------------------------------------------------- tests
def test_upgrade_from_empty_matches_the_models(fresh_app):
    upgrade(directory=str(MIGRATIONS))

    assert _table_names() == set(db.metadata.tables) | {"alembic_version"}
    differences = schema_differences(fresh_app)
    assert differences == [], (
        "models and migrations disagree; add a revision (flask db migrate) or fix it:\n"
        + "\n".join(map(repr, differences))
    )


def test_comparison_ignores_only_indexes_meant_for_another_dialect(fresh_app):
    """The filter above must not hide anything real: drop a normal index and it is reported."""
    upgrade(directory=str(MIGRATIONS))
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX idx_user_email"))

    differences = schema_differences(fresh_app)

    assert [(d[0], d[1].name) for d in differences] == [("add_index", "idx_user_email")]


def test_indexes_and_check_constraints_exist(fresh_app):
    upgrade(directory=str(MIGRATIONS))
    with db.engine.connect() as conn:
        dialect = conn.dialect.name
        indexes = _index_sql(conn)

        name, table = PARTIAL_UNIQUE_INDEX
        assert name in indexes
        definition = " ".join(indexes[name].split())
        assert re.search(r"CREATE UNIQUE INDEX", definition, re.I)
        assert re.search(rf"ON (public\.)?\"?{table}\"?", definition)
        assert re.search(r"\(user_id, session_key\)", definition)
        if dialect == "postgresql":
            assert definition.endswith("WHERE is_active"), definition
            for gin, gin_table in GIN_INDEXES.items():
                assert gin in indexes, f"{gin} missing"
                assert f"ON public.{gin_table} USING gin" in indexes[gin]
        else:
            assert definition.endswith("WHERE is_active = 1"), definition
            assert not set(GIN_INDEXES) & set(indexes), "GIN indexes are PostgreSQL-only"

        for table_name, expected in SEED_001_CHECKS.items():
            if table_name not in db.metadata.tables:
                continue  # the feature that owns it is not built yet
            missing = expected - _check_constraints(conn, table_name)
            assert not missing, f"{table_name} lacks seed 001 check constraints {sorted(missing)}"
        assert "users" in db.metadata.tables

        # Every named check constraint of every model exists in the database
        # (autogenerate doesn't compare check constraints).
        for table in db.metadata.sorted_tables:
            declared = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint) and c.name}
            missing = declared - _check_constraints(conn, table.name)
            assert not missing, f"{table.name} lacks check constraints {sorted(missing)}"


def test_constraints_are_enforced(fresh_app):
    upgrade(directory=str(MIGRATIONS))
    insert_org = sa.text(
        "INSERT INTO organizations (name, slug, subscription_tier, settings, created_at, updated_at)"
        " VALUES (:name, :slug, :tier, '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    with db.engine.begin() as conn:
        conn.execute(insert_org, {"name": "Acme", "slug": "acme", "tier": "free"})
    with pytest.raises(sa.exc.IntegrityError, match="check_org_subscription_tier_valid"):
        with db.engine.begin() as conn:
            conn.execute(insert_org, {"name": "Bad", "slug": "bad", "tier": "platinum"})

    with db.engine.begin() as conn:
        org_id = conn.execute(sa.text("SELECT id FROM organizations WHERE slug = 'acme'")).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO users (email, full_name, role, availability_status, max_concurrent_tickets, skills,"
            " certifications, customer_tier, credentials_version, created_at, updated_at, organization_id)"
            " VALUES ('a@acme.test', 'A', 'agent', 'online', 10, '[]', '[]', 'basic', 1,"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :org)"
        ), {"org": org_id})
        user_id = conn.execute(sa.text("SELECT id FROM users")).scalar_one()
    insert_session = sa.text(
        "INSERT INTO user_sessions (user_id, session_key, is_active, remember, last_seen_at, end_reason,"
        " ip_address, user_agent, created_at, updated_at)"
        " VALUES (:user, 'key', :active, :false, CURRENT_TIMESTAMP, '', '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    params = {"user": user_id, "false": False}
    with db.engine.begin() as conn:
        # Ended sessions may repeat a key; the partial index only covers active ones.
        conn.execute(insert_session, {**params, "active": False})
        conn.execute(insert_session, {**params, "active": False})
        conn.execute(insert_session, {**params, "active": True})
    with pytest.raises(sa.exc.IntegrityError):
        with db.engine.begin() as conn:
            conn.execute(insert_session, {**params, "active": True})


def test_downgrade_to_base_and_upgrade_again(fresh_app):
    upgrade(directory=str(MIGRATIONS))

    downgrade(directory=str(MIGRATIONS), revision="base")
    assert _table_names() == {"alembic_version"}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar_one() == 0
        assert not set(_index_sql(conn)) & (set(GIN_INDEXES) | {PARTIAL_UNIQUE_INDEX[0]})

    upgrade(directory=str(MIGRATIONS))
    assert _table_names() == set(db.metadata.tables) | {"alembic_version"}
    assert schema_differences(fresh_app) == []


def test_upgrade_twice_is_a_no_op(fresh_app):
    upgrade(directory=str(MIGRATIONS))
    upgrade(directory=str(MIGRATIONS))
    assert schema_differences(fresh_app) == []


# --------------------------------------------------------------------------- revision files
def _script_directory() -> ScriptDirectory:
    config = AlembicConfig(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_revisions_form_one_chain_with_a_single_head():
    script = _script_directory()
    files = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py") if p.name != "__init__.py")
    revisions = list(script.walk_revisions("base", "heads"))

    assert len(script.get_heads()) == 1, f"several heads {script.get_heads()}: add a merge revision"
    assert len(script.get_bases()) == 1, f"several bases {script.get_bases()}"
    # Every file is a revision, no two share an id, and all of them lie on the walk from head to base.
    assert sorted(Path(r.path).name for r in revisions) == files
    assert len({r.revision for r in revisions}) == len(files)
    known = {r.revision for r in revisions}
    for revision in revisions:
        parents = revision.down_revision
        parents = () if parents is None else (parents,) if isinstance(parents, str) else tuple(parents)
        assert set(parents) <= known, f"{revision.revision} revises unknown {parents}"
        assert revision.revision in Path(revision.path).read_text(), revision.path
    chain = list(script.iterate_revisions(script.get_current_head(), "base"))
    assert len(chain) == len(files), "every revision must be an ancestor of the head"

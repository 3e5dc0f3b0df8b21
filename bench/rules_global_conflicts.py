"""The global-scope conflict check (a storage account name is unique across the organization) with and
without the organization-first indexes of migration 0025_rules_global_stale, in one run.

An organization of W workspaces holds M active names (default 50,000, or BENCH_GLOBAL_NAMES; BENCH_RULES_FULL=1:
1,000,000; BENCH_QUICK=1: 2,000), half of them made for the catalogue's Azure storage-account platform (unique
globally), the rest for a workspace-only platform. N proposed names (default 500) are checked by
`services.find_conflicts` exactly as the ConflictCheck job does, against the storage-account platform:
1 % are taken in another workspace (error), 1 % are the same once case and delimiters are ignored
(warning), 1 % are one edit away (info), the rest are free.

"before": the organization-first indexes dropped (what the check had until that migration: only
workspace-first indexes, none usable when the scope is the organization); "after": the indexes as the
migration makes them. Both measured in this run (after: best of 3; before: once, it is slow), on SQLite and, with BENCH_DATABASE_URL or
TEST_DATABASE_URL, on PostgreSQL. Printed: seconds, names/s, and before/after; the findings must agree.
Run: `.venv/bin/python bench/rules_global_conflicts.py`.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rules_generation import build_app  # noqa: E402
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

FULL = os.environ.get("BENCH_RULES_FULL") == "1"
QUICK = os.environ.get("BENCH_QUICK") == "1"  # bench/README.md: the smallest size, run by the test suite
EXISTING = int(os.environ.get("BENCH_GLOBAL_NAMES", 1_000_000 if FULL else 2_000 if QUICK else 50_000))
PROPOSED = 200 if QUICK else 500
WORKSPACES = 4 if QUICK else 20
ROUNDS = 1 if QUICK else 3
STORAGE = "azure/Storage/storageAccounts"
INDEXES = ("idx_string_org_active_value", "idx_string_org_active_normalized", "idx_string_org_active_len_head",
           "idx_string_org_active_len_tail")


def setup(db, sa):
    """W workspaces, each with the storage-account platform and its own; M names spread over their rules."""
    from app.accounts import services as accounts
    from app.rules import services

    admin = accounts.organization_signup(organization_name="Bench", full_name="Bench Admin",
                                         email="bench@global.example.com", password="Tall-granite-lighthouse-47")
    org = admin.organization
    db.session.commit()
    rules, mine = [], None
    for w in range(WORKSPACES):
        workspace = accounts.workspace_create(organization=org, actor=admin, name=f"Team {w}")
        services.dimension_create(workspace=workspace, key="app", kind="free_text")
        storage = services.platform_add_from_catalogue(workspace=workspace, key=STORAGE)
        local = services.platform_create(workspace=workspace, name="Local", max_length=63)
        for platform in (storage, local):
            rule = services.rule_create(workspace=workspace, name=f"r{platform.id}", platform_id=platform.id)
            services.field_create(rule=rule, name="f", pattern="st{app}{seq:3}", delimiter="")
            rules.append((workspace.id, rule.id))
        if mine is None:
            mine = (workspace, storage)
    db.session.commit()
    return org, rules, mine


def seed(db, sa, org, rules) -> None:
    """M names 'st<i>x<k>' (lowercase, digits): name i goes to rule i % len(rules)."""
    dialect = db.session.get_bind().dialect.name
    per_rule = EXISTING // len(rules)
    for index, (workspace_id, rule_id) in enumerate(rules):
        params = {"org": org.id, "ws": workspace_id, "rule": rule_id, "n": per_rule, "k": index}
        if dialect == "postgresql":
            source = "FROM generate_series(1, :n) g"
            value = "'st' || g || 'x' || :k"
            extra = "'{}'::jsonb, true, '', now(), now()"
        else:
            source = "FROM (WITH RECURSIVE c(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM c WHERE g < :n) SELECT g FROM c)"
            value = "'st' || g || 'x' || :k"
            extra = "'{}', 1, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
        db.session.execute(sa.text(
            "INSERT INTO strings (organization_id, workspace_id, rule_id, value, normalized, reversed_value, "
            f"dimension_values, is_active, delete_reason, created_at, updated_at) SELECT :org, :ws, :rule, {value}, "
            f"{value}, '', {extra} {source}"), params)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def proposed(rules) -> list[str]:
    """Taken elsewhere (error), the same in capitals with underscores (warning), one edit away (info), free."""
    per_rule = EXISTING // len(rules)
    global_rules = [i for i in range(len(rules)) if i % 2 == 0]  # storage-account rules (see setup)
    names = []
    for i in range(PROPOSED):
        k = global_rules[(i * 7) % len(global_rules)]
        g = 1 + (i * 9973) % per_rule
        if i % 100 == 0:
            names.append(f"st{g}x{k}")  # error
        elif i % 100 == 1:
            names.append(f"ST_{g}X{k}")  # warning
        elif i % 100 == 2:
            names.append(f"st{g}x{k}9"[:-1] + "q")  # one substitution: info
        else:
            names.append(f"fresh{i:07d}name")
    return names


def run_check(db, workspace, platform, names, rounds: int = ROUNDS) -> tuple[float, dict]:
    from app.rules import services

    best, counts = float("inf"), {}
    for _ in range(rounds):
        started = time.perf_counter()
        found = []
        for start in range(0, len(names), 1000):
            found += services.find_conflicts(workspace, names[start:start + 1000], scope="platform",
                                             platform=platform)
        db.session.rollback()
        best = min(best, time.perf_counter() - started)
        counts = {}
        for _, severity, _, _ in found:
            counts[severity] = counts.get(severity, 0) + 1
    return best, counts


def index_definitions(db, sa) -> dict[str, str]:
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        rows = db.session.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'strings'"))
    else:
        rows = db.session.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                          "AND tbl_name = 'strings'"))
    return {name: sql for name, sql in rows if name in INDEXES}


def measure(label: str, url: str) -> None:
    import sqlalchemy as sa

    with tempfile.TemporaryDirectory() as storage:
        app = build_app(url, storage)
        with app.app_context():
            from flask_migrate import upgrade

            from app.extensions import db

            upgrade(directory=str(ROOT / "migrations"))
            org, rules, (workspace, platform) = setup(db, sa)
            started = time.perf_counter()
            seed(db, sa, org, rules)
            names = proposed(rules)
            definitions = index_definitions(db, sa)
            assert set(definitions) == set(INDEXES), definitions
            print(f"rules_global_conflicts [{label}]: {EXISTING:,} names in {WORKSPACES} workspaces "
                  f"(seeded in {time.perf_counter() - started:.1f} s); checking {len(names):,} proposed names "
                  "against the storage-account platform (unique globally)")
            after, after_counts = run_check(db, workspace, platform, names)
            for name in INDEXES:
                db.session.execute(sa.text(f"DROP INDEX {name}"))
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
            before, before_counts = run_check(db, workspace, platform, names, rounds=1)  # slow: once
            for sql in definitions.values():
                db.session.execute(sa.text(sql))
            db.session.commit()
            assert before_counts == after_counts, (before_counts, after_counts)
            print(f"  findings (both): {dict(sorted(after_counts.items()))}")
            print(f"  before (workspace-first indexes only): {before:7.3f} s  {len(names) / before:9,.0f} names/s")
            print(f"  after  (organization-first indexes):   {after:7.3f} s  {len(names) / after:9,.0f} names/s")
            print(f"  before/after: {before / after:.1f}x")
        from app.extensions import db as _db

        with app.app_context():
            _db.engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        measure("SQLite", f"sqlite:///{folder}/bench.db")
    base = server_url()
    if not base:
        print("rules_global_conflicts [PostgreSQL]: no BENCH_DATABASE_URL or TEST_DATABASE_URL; skipped")
        return
    url = create_database(base, "conflicts")
    try:
        measure("PostgreSQL", url)
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()

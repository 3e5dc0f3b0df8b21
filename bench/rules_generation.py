"""Conflict-check and generate names from a 5-dimension rule against many existing names, through the jobs.

A workspace holds M active names (default 100,000; BENCH_RULES_FULL=1: the issue's 1,000,000):
unrelated ones, 1 % of the rule's names, and 1 % again in capitals with underscores. The rule
makes N names (default 10,000; full: 100,000).

1. Conflict check: the N names plus 1 % names the platform refuses, checked end to end through
   the ConflictCheck job (created as POST /conflict-checks/ does, run by `jobs.execute` on the
   embedded queue: stage, match, store the findings, status on the row) for all four severities.
   Baseline in the same run, on a second workspace seeded alike: one statement doing the same
   four checks over `unnest` of the list (exact and normalised joins, the same half-length
   index keys and first-neighbour subqueries with levenshtein for one edit away, a regex for the platform) and inserting the
   findings. The finding counts per severity must match. Also timed: checking a validate-only
   generation's whole output (the job renders the N names again), and the hard case for "one
   edit away": a workspace of 10 x N names of the same rule (sequence 002-011).
2. Generation: a Generation job makes the N names (continue on error: 1 % are taken). Baseline:
   one `INSERT ... SELECT` over the cross join of the value lists with the same
   `ON CONFLICT (workspace_id, value) WHERE is_active DO NOTHING`.
3. Race: 500 generations of the same values (BENCH_RULES_THREADS), 32 at once
   (BENCH_RULES_RACE_POOL); the duplicate count among active names must be 0.

Printed: times, the ratios job/baseline (aim: <= 3x) and the duplicate count.
Needs PostgreSQL: BENCH_DATABASE_URL or TEST_DATABASE_URL (a throwaway database is created
next to it and dropped). Run: `.venv/bin/python bench/rules_generation.py`.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

FULL = os.environ.get("BENCH_RULES_FULL") == "1"
QUICK = os.environ.get("BENCH_QUICK") == "1"  # bench/README.md: the smallest size, run by the test suite
PER_DIM = 10 if FULL else [3, 3, 3, 2, 1] if QUICK else [10, 10, 10, 10, 1]
EXISTING = 1_000_000 if FULL else 2_000 if QUICK else 100_000
# The race: RACE_REQUESTS generations of the same values (the 500), run RACE_POOL at a time.
RACE_REQUESTS = int(os.environ.get("BENCH_RULES_THREADS", "20" if QUICK else "500"))  # the old name, kept
RACE_POOL = int(os.environ.get("BENCH_RULES_RACE_POOL", "4" if QUICK else "32"))  # each holds a connection
DIMENSIONS = ["env", "app", "region", "tier", "team"]
PATTERN = "{env}-{app}-{region}-{tier}-{team}-{seq:3}"


def sizes() -> list[int]:
    return [PER_DIM] * 5 if isinstance(PER_DIM, int) else PER_DIM


def race_size() -> int:
    total = 1
    for n in sizes():
        total *= min(n, 3)
    return total


def values_for(index: int, count: int) -> list[str]:
    return [f"{DIMENSIONS[index][0]}{i:02d}" for i in range(count)]


def build_app(database_url: str, storage: str):
    from app import create_app
    from app.config import Config

    config = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL="", EMBEDDED_WORKER=False, STORAGE_DIR=storage,
                  SECRET_KEY="bench", USAGE_LOG_ENABLED=False, PERIODIC_TICK_SECONDS=3600,
                  SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_size": RACE_POOL + 2, "max_overflow": 2})
    return create_app(config)


def workspace_with_rule(org, admin, name: str):
    from app.accounts import services as accounts
    from app.rules import services

    workspace = accounts.workspace_create(organization=org, actor=admin, name=name)
    for index, key in enumerate(DIMENSIONS):
        dim = services.dimension_create(workspace=workspace, key=key)
        for value in values_for(index, sizes()[index]):
            services.value_create(dimension=dim, value=value)
    platform = services.platform_create(workspace=workspace, name="Target", max_length=63, allowed_chars="a-z0-9-",
                                        lowercase_only=True, invalid_consecutive_chars="-")
    rule = services.rule_create(workspace=workspace, name="Bench rule", platform_id=platform.id)
    services.field_create(rule=rule, name="resource", pattern=PATTERN, casing="lower", delimiter="-")
    return workspace, rule


def seed_existing(db, sa, workspace) -> None:
    """M active names: most unrelated ('old-...'), 1 % equal to names the generation will make."""
    db.session.execute(sa.text(
        "INSERT INTO strings (organization_id, workspace_id, value, normalized, reversed_value, dimension_values, "
        "is_active, delete_reason, created_at, updated_at) "
        "SELECT :org, :ws, 'old-' || g, 'old' || g, reverse('old-' || g), '{}'::jsonb, true, '', now(), now() "
        "FROM generate_series(1, :m) g"), {"org": workspace.organization_id, "ws": workspace.id, "m": EXISTING})
    lists = [values_for(i, n) for i, n in enumerate(sizes())]
    overlap = []
    total = 1
    for n in sizes():
        total *= n
    for k in range(0, total, 100):  # every 100th combination is already taken
        parts, rest = [], k
        for values in reversed(lists):
            parts.append(values[rest % len(values)])
            rest //= len(values)
        overlap.append("-".join(reversed(parts)) + "-001")
    db.session.execute(sa.text(
        "INSERT INTO strings (organization_id, workspace_id, value, normalized, reversed_value, dimension_values, "
        "is_active, delete_reason, created_at, updated_at) "
        "SELECT :org, :ws, v, replace(v, '-', ''), reverse(v), '{}'::jsonb, true, '', now(), now() FROM unnest(CAST(:vals AS text[])) v"),
        {"org": workspace.organization_id, "ws": workspace.id, "vals": overlap})
    db.session.commit()


def combinations_every(step: int, offset: int) -> list[str]:
    """Every `step`-th name the rule makes (from `offset`), in the order of the cartesian product."""
    lists = [values_for(i, n) for i, n in enumerate(sizes())]
    total = 1
    for n in sizes():
        total *= n
    names = []
    for k in range(offset, total, step):
        parts, rest = [], k
        for values in reversed(lists):
            parts.append(values[rest % len(values)])
            rest //= len(values)
        names.append("-".join(reversed(parts)) + "-001")
    return names


def all_names() -> list[str]:
    return combinations_every(1, 0)


def seed_twins(db, sa, workspace) -> None:
    """1 % of the names again in capitals with underscores: the same once case and delimiters are ignored."""
    from app.rules.renderer import normalize

    twins = [n.upper().replace("-", "_") for n in combinations_every(100, 50)]
    db.session.execute(sa.text(
        "INSERT INTO strings (organization_id, workspace_id, value, normalized, reversed_value, dimension_values, "
        "is_active, delete_reason, created_at, updated_at) SELECT :org, :ws, v, n, reverse(v), '{}'::jsonb, true, '', "
        "now(), now() FROM unnest(CAST(:vals AS text[]), CAST(:norms AS text[])) AS t(v, n)"),
        {"org": workspace.organization_id, "ws": workspace.id, "vals": twins, "norms": [normalize(t) for t in twins]})
    db.session.commit()


def proposed_names() -> list[str]:
    """What the conflict check is given: every name the rule makes, plus 1 % pasted names the platform refuses."""
    names = all_names()
    return names + [f"Bad_Name_{i:06d}" for i in range(len(names) // 100)]


# The same four checks as services.find_conflicts, for one whole list, in one statement that also stores the
# findings. Platform: max 63 characters, a-z 0-9 and '-', no '--' (workspace_with_rule's "Target").
BASELINE_CHECK = r"""
WITH p AS (
  SELECT v AS value, lower(regexp_replace(v, '[[:space:]._-]+', '', 'g')) AS normalized, length(v) AS len
  FROM unnest(CAST(:proposed AS text[])) AS v),
k AS (SELECT p.value, p.len, p.len + d.d AS m FROM p CROSS JOIN (VALUES (-1), (0), (1)) AS d(d) WHERE p.len + d.d >= 1),
exact AS (
  SELECT p.value, min(s.id) AS sid FROM p JOIN strings s
    ON s.workspace_id = :ws AND s.is_active AND s.value = p.value GROUP BY p.value),
twin AS (
  SELECT p.value, min(s.id) AS sid FROM p JOIN strings s
    ON s.workspace_id = :ws AND s.is_active AND s.normalized = p.normalized AND s.value <> p.value GROUP BY p.value),
near AS (
  SELECT k.value, min(k.sid) AS sid FROM (
    SELECT k.value, coalesce(
      (SELECT s.id FROM strings s WHERE s.workspace_id = :ws AND s.is_active AND length(s.value) = k.m
        AND substr(s.value, 1, length(s.value) / 2) = substr(k.value, 1, k.m / 2)
        AND levenshtein_less_equal(s.value, k.value, 1) = 1 LIMIT 1),
      (SELECT s.id FROM strings s WHERE s.workspace_id = :ws AND s.is_active AND length(s.value) = k.m
        AND substr(s.value, length(s.value) / 2 + 1) = substr(k.value, k.len - (k.m - k.m / 2) + 1)
        AND levenshtein_less_equal(s.value, k.value, 1) = 1 LIMIT 1)) AS sid
    FROM k) k
  WHERE k.sid IS NOT NULL GROUP BY k.value),
found AS (
  SELECT p.value, 'critical' AS severity, NULL::integer AS sid, 'Breaks Target''s rules.' AS message FROM p
   WHERE length(p.value) > 63 OR p.value ~ '[^a-z0-9-]' OR strpos(p.value, '--') > 0
  UNION ALL
  SELECT p.value, CASE WHEN e.sid IS NOT NULL THEN 'error' WHEN t.sid IS NOT NULL THEN 'warning' ELSE 'info' END,
         coalesce(e.sid, t.sid, n.sid), NULL
    FROM p LEFT JOIN exact e ON e.value = p.value LEFT JOIN twin t ON t.value = p.value
    LEFT JOIN near n ON n.value = p.value
   WHERE coalesce(e.sid, t.sid, n.sid) IS NOT NULL)
INSERT INTO conflict_results (check_id, proposed_value, conflicting_string_id, severity, message, created_at, updated_at)
SELECT :check, f.value, f.sid, f.severity,
       coalesce(f.message, CASE f.severity WHEN 'error' THEN format('%L is already an active name.', f.value)
         WHEN 'warning' THEN format('Same as %L once case and delimiters are ignored.', s.value)
         ELSE format('One edit away from %L.', s.value) END), now(), now()
  FROM found f LEFT JOIN strings s ON s.id = f.sid
"""


def baseline_check(db, sa, workspace, admin, proposed: list[str]) -> tuple[float, dict]:
    """One statement: the four checks over the whole list, findings stored. Returns (seconds, count per severity)."""
    from app.rules.models import ConflictCheck

    check = ConflictCheck(organization_id=workspace.organization_id, workspace_id=workspace.id, proposed_strings=[],
                          proposed_count=len(proposed), status="completed", checked_by_id=admin.id)
    db.session.add(check)
    db.session.commit()
    started = time.perf_counter()
    db.session.execute(sa.text("SET LOCAL jit = off"))  # as the service does: compiling costs more than it saves
    db.session.execute(sa.text(BASELINE_CHECK), {"proposed": proposed, "ws": workspace.id, "check": check.id})
    db.session.commit()
    elapsed = time.perf_counter() - started
    counts = dict(db.session.execute(sa.text(
        "SELECT severity, count(*) FROM conflict_results WHERE check_id = :c GROUP BY severity"), {"c": check.id}).all())
    return elapsed, counts


def run_check_job(app, db, workspace, rule, admin, proposed: list[str] | None = None, generation=None):
    """A conflict check end to end: created as the JSON API does (or from a generation), run by the worker."""
    from app.platform.jobs import run_embedded_jobs
    from app.rules import services
    from app.rules.models import ConflictCheck

    started = time.perf_counter()
    if generation is not None:
        check = services.conflict_check_of_generation(generation=generation, user=admin)
    else:
        check = services.conflict_check_create(workspace=workspace, proposed=proposed, platform_id=rule.platform_id,
                                               user=admin, limit=len(proposed))
    run_embedded_jobs(app)
    elapsed = time.perf_counter() - started
    db.session.expire_all()
    return elapsed, db.session.get(ConflictCheck, check.id)


def validate_only_generation(app, db, workspace, rule, admin):
    from app.platform.jobs import run_embedded_jobs
    from app.rules import services
    from app.rules.models import Generation

    lists = {key: values_for(i, n) for i, (key, n) in enumerate(zip(DIMENSIONS, sizes()))}
    generation = services.generation_create(workspace=workspace, rule_id=rule.id, dimension_values=lists, user=admin,
                                            validate_only=True, continue_on_error=True)
    run_embedded_jobs(app)
    db.session.expire_all()
    return db.session.get(Generation, generation.id)


def conflict_half(app, db, sa, job_ws, job_rule, sql_ws, admin) -> None:
    proposed = proposed_names()
    print(f"  conflict check: {len(proposed):,} proposed names ({len(all_names()):,} the rule makes + "
          f"{len(proposed) - len(all_names()):,} the platform refuses) against the same existing names "
          f"+ {len(combinations_every(100, 50)):,} case/delimiter twins")
    baseline, expected = baseline_check(db, sa, sql_ws, admin, proposed)
    print(f"    baseline (one statement: unnest, joins on the indexes, levenshtein, INSERT): {baseline:.2f} s; "
          f"findings {fmt_counts(expected)}")
    job_seconds, check = run_check_job(app, db, job_ws, job_rule, admin, proposed=proposed)
    got = dict(check.severity_counts or {})
    print(f"    job (POST list -> queued row -> worker: stage, match, store; status on the row): {job_seconds:.2f} s; "
          f"status {check.status}; findings {fmt_counts(got)}")
    print(f"    ratio job / baseline: {job_seconds / baseline:.2f}x (aim: <= 3x)")
    if got != expected:
        print(f"    MISMATCH: the job found {fmt_counts(got)}, the baseline {fmt_counts(expected)}")
    generation = validate_only_generation(app, db, job_ws, job_rule, admin)
    whole_seconds, whole = run_check_job(app, db, job_ws, job_rule, admin, generation=generation)
    print(f"    a validate-only generation's whole output, rendered again by the job: {whole.proposed_count:,} names "
          f"in {whole_seconds:.2f} s ({whole_seconds / baseline:.2f}x the baseline); status {whole.status}; "
          f"findings {fmt_counts(whole.severity_counts or {})}")


def seed_regular(db, sa, workspace) -> int:
    """The hard case for "one edit away": every name the rule makes with sequence numbers 002-011, so each
    proposed name (001) has neighbours and shares its first half with about 1,000 names (full size)."""
    bases = [n[:-len("-001")] for n in all_names()]
    db.session.execute(sa.text(
        "INSERT INTO strings (organization_id, workspace_id, value, normalized, reversed_value, dimension_values, "
        "is_active, delete_reason, created_at, updated_at) "
        "SELECT :org, :ws, v, replace(v, '-', ''), reverse(v), '{}'::jsonb, true, '', now(), now() "
        "FROM (SELECT b || '-' || lpad(q::text, 3, '0') AS v FROM unnest(CAST(:bases AS text[])) b "
        "CROSS JOIN generate_series(2, 11) q) t"), {"org": workspace.organization_id, "ws": workspace.id, "bases": bases})
    db.session.execute(sa.text("ANALYZE strings"))
    db.session.commit()
    return len(bases) * 10


def regular_names_check(app, db, sa, workspace, rule, admin) -> None:
    seeded = seed_regular(db, sa, workspace)
    proposed = all_names()
    baseline, expected = baseline_check(db, sa, workspace, admin, proposed)
    job_seconds, check = run_check_job(app, db, workspace, rule, admin, proposed=proposed)
    got = dict(check.severity_counts or {})
    print(f"  conflict check against {seeded:,} regular names (the rule's, sequence 002-011: every proposed name "
          f"is one edit away): baseline {baseline:.2f} s, job {job_seconds:.2f} s, ratio {job_seconds / baseline:.2f}x; "
          f"findings {fmt_counts(got)}")
    if got != expected:
        print(f"    MISMATCH: the job found {fmt_counts(got)}, the baseline {fmt_counts(expected)}")


def fmt_counts(counts: dict) -> str:
    return ", ".join(f"{counts.get(s, 0):,} {s}" for s in ("critical", "error", "warning", "info"))


def baseline_sql(db, sa, workspace, rule) -> int:
    """The same names with one statement: cross join of the value lists, ON CONFLICT DO NOTHING."""
    lists = [values_for(i, n) for i, n in enumerate(sizes())]
    joins = " CROSS JOIN ".join(f"unnest(CAST(:l{i} AS text[])) AS d{i}(v)" for i in range(5))
    value = " || '-' || ".join(f"d{i}.v" for i in range(5)) + " || '-001'"
    dims = ", ".join(f"'{key}', d{i}.v" for i, key in enumerate(DIMENSIONS))
    result = db.session.execute(sa.text(
        f"INSERT INTO strings (organization_id, workspace_id, value, normalized, reversed_value, dimension_values, "
        f"rule_id, is_active, delete_reason, created_at, updated_at) "
        f"SELECT :org, :ws, {value}, replace({value}, '-', ''), reverse({value}), jsonb_build_object({dims}), :rule, "
        f"true, '', now(), now() FROM {joins} "
        f"ON CONFLICT (workspace_id, value) WHERE is_active DO NOTHING"),
        {"org": workspace.organization_id, "ws": workspace.id, "rule": rule.id,
         **{f"l{i}": values for i, values in enumerate(lists)}})
    db.session.commit()
    return result.rowcount


def run_job(app, db, sa, workspace, rule, admin) -> tuple[float, object]:
    from app.platform.jobs import run_embedded_jobs
    from app.rules import services
    from app.rules.models import Generation

    lists = {key: values_for(i, n) for i, (key, n) in enumerate(zip(DIMENSIONS, sizes()))}
    started = time.perf_counter()
    generation = services.generation_create(workspace=workspace, rule_id=rule.id, dimension_values=lists, user=admin,
                                            continue_on_error=True)
    run_embedded_jobs(app)
    elapsed = time.perf_counter() - started
    db.session.expire_all()
    return elapsed, db.session.get(Generation, generation.id)


def race(app, db, sa, workspace, rule, admin) -> tuple[int, int, float]:
    """RACE_REQUESTS generations of the same small batch, RACE_POOL running at once (the first wave starts on a
    barrier); returns (names, duplicates, seconds)."""
    from concurrent.futures import ThreadPoolExecutor

    from app.rules import services
    from app.rules.models import Generation

    lists = {key: values_for(i, min(n, 3)) for i, (key, n) in enumerate(zip(DIMENSIONS, sizes()))}
    rows = [Generation(organization_id=workspace.organization_id, workspace_id=workspace.id, rule_id=rule.id,
                       dimension_values=lists, requested_by_id=admin.id, status="in_progress",
                       options={"size": race_size(), "continue_on_error": True}) for _ in range(RACE_REQUESTS)]
    db.session.add_all(rows)
    db.session.commit()
    ids = [row.id for row in rows]
    pool_size = min(RACE_POOL, RACE_REQUESTS)
    barrier = threading.Barrier(pool_size)
    started_first = threading.local()

    def worker(generation_id: int) -> None:
        with app.app_context():
            row = db.session.get(Generation, generation_id)
            if not getattr(started_first, "done", False):
                started_first.done = True
                barrier.wait(timeout=60)
            services.generation_run(row, lambda *_a: db.session.commit())
            db.session.commit()
            db.session.remove()

    started = time.perf_counter()
    with ThreadPoolExecutor(pool_size) as pool:
        list(pool.map(worker, ids))
    elapsed = time.perf_counter() - started
    names = db.session.scalar(sa.text("SELECT count(*) FROM strings WHERE workspace_id = :ws AND is_active"),
                              {"ws": workspace.id})
    duplicates = db.session.scalar(sa.text(
        "SELECT count(*) FROM (SELECT value FROM strings WHERE workspace_id = :ws AND is_active "
        "GROUP BY value HAVING count(*) > 1) d"), {"ws": workspace.id})
    return names, duplicates, elapsed


def main() -> None:
    base = server_url()
    if not base:
        print("rules_generation: needs PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL); skipped")
        return
    import sqlalchemy as sa

    url = create_database(base, "rules")
    try:
        with tempfile.TemporaryDirectory() as storage:
            app = build_app(url, storage)
            with app.app_context():
                from app.accounts import services as accounts
                from app.extensions import db

                from flask_migrate import upgrade

                upgrade(directory=str(ROOT / "migrations"))  # the schema (and extensions) production runs on
                admin = accounts.organization_signup(organization_name="Bench", full_name="Bench Admin",
                                                     email="bench@rules.example.com",
                                                     password="Tall-granite-lighthouse-47")
                org = admin.organization
                db.session.commit()
                job_ws, job_rule = workspace_with_rule(org, admin, "Job")
                sql_ws, sql_rule = workspace_with_rule(org, admin, "Baseline")
                race_ws, race_rule = workspace_with_rule(org, admin, "Race")
                regular_ws, regular_rule = workspace_with_rule(org, admin, "Regular")
                started = time.perf_counter()
                seed_existing(db, sa, job_ws)
                seed_existing(db, sa, sql_ws)
                seed_twins(db, sa, job_ws)
                seed_twins(db, sa, sql_ws)
                db.session.execute(sa.text("ANALYZE strings"))
                db.session.commit()
                seeded = time.perf_counter() - started
                total = 1
                for n in sizes():
                    total *= n
                print(f"rules_generation: {total:,} names from a 5-dimension rule; {EXISTING:,} existing active "
                      f"names per workspace (seeded in {seeded:.1f} s)")

                # The conflict check first, while the workspaces hold only the existing names.
                if os.environ.get("BENCH_PROFILE"):
                    import cProfile
                    import pstats

                    profiler = cProfile.Profile()
                    profiler.enable()
                conflict_half(app, db, sa, job_ws, job_rule, sql_ws, admin)
                if os.environ.get("BENCH_PROFILE"):
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

                regular_names_check(app, db, sa, regular_ws, regular_rule, admin)

                print("  generation:")
                started = time.perf_counter()
                made_sql = baseline_sql(db, sa, sql_ws, sql_rule)
                baseline = time.perf_counter() - started
                job_seconds, generation = run_job(app, db, sa, job_ws, job_rule, admin)
                print(f"    baseline (one INSERT ... SELECT ... ON CONFLICT): {made_sql:,} names in {baseline:.2f} s "
                      f"({made_sql / baseline:,.0f}/s)")
                print(f"    job (render, check, insert; status on the row):   {generation.result_count:,} names in "
                      f"{job_seconds:.2f} s ({generation.result_count / job_seconds:,.0f}/s); status "
                      f"{generation.status}, {generation.result.get('error_count', 0):,} conflicts reported")
                print(f"    ratio job / baseline: {job_seconds / baseline:.2f}x (aim: <= 3x)")
                if generation.result_count != made_sql:
                    print(f"    MISMATCH: the job made {generation.result_count:,}, the baseline {made_sql:,}")

                names, duplicates, race_seconds = race(app, db, sa, race_ws, race_rule, admin)
                print(f"  race: {RACE_REQUESTS} generations of the same {race_size()} names, {RACE_POOL} at once -> "
                      f"{names} active names (expected {race_size()}), {duplicates} duplicate(s) in {race_seconds:.2f} s")
                if duplicates or names != race_size():
                    raise SystemExit("duplicates found")
            from app.extensions import db as _db

            with app.app_context():
                _db.engine.dispose()
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()

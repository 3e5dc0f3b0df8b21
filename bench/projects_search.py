"""Project search: full text (migration 0026) against the substring search it replaced, in the same run.

N projects (default 100,000, half school and half self-study, 10 owners in 2 organizations, so 10,000
per owner; BENCH_QUICK=1 or --quick: 2,000) with names, course names and goals drawn from a mixed-language
vocabulary, in a throwaway database built by the migrations. Each search is run the way the Projects
list runs it (a count for the pager, then the first page of 25) through `services.projects_query` (new)
and `services.projects_query_substring` (the old `ILIKE '%q%'` on the three columns), interleaved in
a random order, for one owner at a time:

- common: a word in about a quarter of the projects;
- rare: a word in about 1 in 200;
- two words: two common words together;
- as you type: the first 3 letters of a common word (the new search's prefix match);
- absent: a word no project has.

Printed per database and search: matches, p50 / p95 of count + page for each, and the ratio old / new
(above 1: the new search is faster). PostgreSQL also prints the EXPLAIN of the common search (it should
read `idx_project_search_gin`) and what the triggers cost a write: inserting 1,000 projects with their
type rows, triggers on against triggers off (same run).

SQLite always; PostgreSQL with BENCH_DATABASE_URL or TEST_DATABASE_URL (a database `<name>_bench_search_<pid>`
is created and dropped). Run: `.venv/bin/python bench/projects_search.py`.
"""
from __future__ import annotations

import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

import sqlalchemy as sa  # noqa: E402

QUICK = "--quick" in sys.argv or os.environ.get("BENCH_QUICK", "") not in ("", "0")
PROJECTS = 2_000 if QUICK else 100_000
REPEATS = 10 if QUICK else 60
ORGS, OWNERS_PER_ORG = 2, 5
PAGE = 25

# 960 words: common ones come first (drawn more often), then a long tail.
BASE = ("algebra analyse compilers databases physics chemistry history rust haskell go parser kernel graph "
        "networks statistics geometry biology économie physik mathematik literatura química história "
        "informatique réseaux finanzas derecho música filosofía psicologie sociologie").split()
WORDS = BASE + [f"{w}{n}" for n in range(30) for w in BASE[:31]]
COMMON, RARE = "compilers", "literatura17"


def _word(rng: random.Random) -> str:
    return rng.choice(BASE) if rng.random() < 0.5 else rng.choice(WORDS)


def rows() -> list[dict]:
    rng = random.Random(7)
    out = []
    for i in range(1, PROJECTS + 1):
        org = 1 + i % ORGS
        school = i % 2 == 0
        row = {"id": uuid.UUID(int=i), "organization_id": org, "owner_id": 100 * org + i % OWNERS_PER_ORG + 1,
               "name": " ".join(_word(rng) for _ in range(3)).title(),
               "project_type": "school" if school else "self_study", "description": "", "is_draft": False,
               "published_at": "2026-01-01 10:00:00",
               "created_at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00"}
        row["updated_at"] = row["created_at"]
        if school:
            row.update(course_name=f"{_word(rng).title()} {rng.randrange(100, 500)}", course_code=f"C-{i}",
                       teacher_name="Dr. Bench")
        else:
            row.update(goal_description=" ".join(_word(rng) for _ in range(12)), study_frequency="weekly")
        out.append(row)
    return out


def build_app(database_url: str):
    from app import create_app
    from app.config import Config

    config = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL="", EMBEDDED_WORKER=False,
                  STORAGE_DIR=tempfile.mkdtemp(prefix="cairn-bench-search-"), SECRET_KEY="bench",
                  USAGE_LOG_ENABLED=False, PERIODIC_TICK_SECONDS=3600)
    return create_app(config)


def _insert(conn, table: str, columns: tuple, items: list[dict]) -> None:
    statement = sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
                        ).bindparams(sa.bindparam("id", type_=sa.Uuid))  # projects are keyed by UUIDs
    for start in range(0, len(items), 5000):
        conn.execute(statement, [{c: r[c] for c in columns} for r in items[start:start + 5000]])


COMMON_COLUMNS = ("id", "organization_id", "owner_id", "name", "project_type", "description", "is_draft",
                  "published_at", "created_at", "updated_at")
SCHOOL_COLUMNS = ("id", "course_name", "course_code", "teacher_name")
STUDY_COLUMNS = ("id", "goal_description", "study_frequency")


def load(conn, data: list[dict]) -> None:
    from app.projects.search import document_text

    postgres = conn.dialect.name == "postgresql"
    for org in range(1, ORGS + 1):
        conn.execute(sa.text(
            "INSERT INTO organizations (id, name, slug, subscription_tier, settings, created_at, updated_at)"
            " VALUES (:id, :name, :slug, 'free', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"id": org, "name": f"Org {org}", "slug": f"org-{org}"})
        for n in range(1, OWNERS_PER_ORG + 1):
            conn.execute(sa.text(
                "INSERT INTO users (id, email, full_name, role, availability_status, max_concurrent_tickets, skills,"
                " certifications, customer_tier, credentials_version, created_at, updated_at, organization_id)"
                " VALUES (:id, :email, 'Owner', 'agent', 'online', 10, '[]', '[]', 'basic', 1,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :org)"),
                {"id": 100 * org + n, "email": f"o{org}-{n}@bench.example.com", "org": org})
    if postgres:  # fill the vector once after the load (what migration 0026 does), not row by row
        for table in ("projects", "school_projects", "self_study_projects"):
            conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    _insert(conn, "projects", COMMON_COLUMNS, data)
    _insert(conn, "school_projects", SCHOOL_COLUMNS, [r for r in data if r["project_type"] == "school"])
    _insert(conn, "self_study_projects", STUDY_COLUMNS, [r for r in data if r["project_type"] == "self_study"])
    if postgres:
        conn.execute(sa.text(
            "UPDATE projects SET search_vector = projects_search_document(name,"
            " (SELECT course_name FROM school_projects s WHERE s.id = projects.id),"
            " (SELECT goal_description FROM self_study_projects t WHERE t.id = projects.id))"))
        for table in ("projects", "school_projects", "self_study_projects"):
            conn.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    else:
        update = sa.text("UPDATE projects SET search_vector = :v WHERE id = :id").bindparams(
            sa.bindparam("id", type_=sa.Uuid))
        values = [{"id": r["id"], "v": document_text([r["name"], r.get("course_name"), r.get("goal_description")])}
                  for r in data]
        for start in range(0, len(values), 5000):
            conn.execute(update, values[start:start + 5000])


SEARCHES = {"common": COMMON, "rare": RARE, "two words": "compilers physics", "as you type": "com",
            "absent": "zzyzx"}


def _run(session, stmt) -> int:
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    session.execute(stmt.limit(PAGE)).all()
    return total


def timings(owners: list[tuple[int, int]]) -> dict:
    from app.extensions import db
    from app.projects.services import projects_query, projects_query_substring

    rng = random.Random(11)
    result = {name: {"old": [], "new": [], "matches": [0, 0]} for name in SEARCHES}
    for _ in range(REPEATS):
        org, owner = rng.choice(owners)
        for name, q in SEARCHES.items():
            pair = [("old", projects_query_substring(organization_id=org, owner_id=owner, q=q)),
                    ("new", projects_query(organization_id=org, owner_id=owner, q=q))]
            rng.shuffle(pair)
            for which, stmt in pair:
                start = time.perf_counter()
                total = _run(db.session, stmt)
                result[name][which].append((time.perf_counter() - start) * 1000)
                result[name]["matches"][0 if which == "old" else 1] += total
            db.session.rollback()
    return result


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def report(label: str, result: dict) -> None:
    print(f"\n{label}: {PROJECTS:,} projects, {PROJECTS // (ORGS * OWNERS_PER_ORG):,} per owner; "
          f"count + first page of {PAGE}, {REPEATS} runs each")
    for name, r in result.items():
        old, new = statistics.median(r["old"]), statistics.median(r["new"])
        print(f"  {name:<12} matches/run old {r['matches'][0] / REPEATS:8.1f} new {r['matches'][1] / REPEATS:8.1f}   "
              f"old p50 {old:7.2f} ms p95 {p95(r['old']):7.2f}   new p50 {new:7.2f} ms p95 {p95(r['new']):7.2f}   "
              f"ratio old/new {old / new:5.2f}x")


def trigger_cost(engine) -> None:
    """Inserting 1,000 projects with their type rows, triggers on vs off (each rolled back)."""
    rng = random.Random(3)
    extra = []
    for i in range(1_000):
        row = {"id": uuid.UUID(int=10_000_000 + i), "organization_id": 1, "owner_id": 101, "name": f"Extra {_word(rng)}",
               "project_type": "school", "description": "", "is_draft": False, "published_at": "2026-01-01 10:00:00",
               "created_at": "2026-01-01 10:00:00", "updated_at": "2026-01-01 10:00:00",
               "course_name": _word(rng), "course_code": "X", "teacher_name": "T"}
        extra.append(row)
    times = {"on": [], "off": []}
    for _ in range(1 if QUICK else 3):
        for mode in ("on", "off"):
            with engine.connect() as conn:
                with conn.begin() as tx:
                    if mode == "off":
                        for table in ("projects", "school_projects"):
                            conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
                    start = time.perf_counter()
                    _insert(conn, "projects", COMMON_COLUMNS, extra)
                    _insert(conn, "school_projects", SCHOOL_COLUMNS, extra)
                    times[mode].append((time.perf_counter() - start) * 1000)
                    tx.rollback()
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    print(f"  write cost   1,000 projects + type rows: triggers on {on:.0f} ms, off {off:.0f} ms "
          f"(ratio {on / off:.2f}x)")


def run(database_url: str, label: str, data: list[dict]) -> None:
    from flask_migrate import upgrade

    from app.extensions import db

    app = build_app(database_url)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the figures, not every migration's name
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        with db.engine.begin() as conn:
            load(conn, data)
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
            else:
                conn.exec_driver_sql("ANALYZE")
        owners = [(org, 100 * org + n) for org in range(1, ORGS + 1) for n in range(1, OWNERS_PER_ORG + 1)]
        result = timings(owners)
        report(label, result)
        for name, r in result.items():
            if name != "as you type" and r["matches"][0] != r["matches"][1]:
                print(f"  note: {name}: the old search found {r['matches'][0]}, the new {r['matches'][1]} "
                      f"(the old search wants the text as typed, inside one field; the new one each word, anywhere)")
        if db.engine.dialect.name == "postgresql":
            from app.projects.services import projects_query

            stmt = projects_query(organization_id=1, owner_id=101, q=COMMON).limit(PAGE)
            compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = db.session.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
            print("  EXPLAIN of the common search's page:")
            print("    " + "\n    ".join(plan))
            db.session.rollback()
            trigger_cost(db.engine)
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    data = rows()
    tmp = Path(tempfile.mkdtemp(prefix="cairn-bench-search-"))
    path = tmp / "search.sqlite3"
    try:
        run(f"sqlite:///{path}", "SQLite (word-match fallback vs LIKE)", data)
    finally:
        path.unlink(missing_ok=True)
    base = server_url()
    if not base:
        print("\nPostgreSQL skipped: set BENCH_DATABASE_URL to a server the benchmark may create databases on.")
        return
    url = create_database(base, "search")
    try:
        run(url, "PostgreSQL (full text vs ILIKE)", data)
    finally:
        drop_database(url)

if __name__ == "__main__":
    main()

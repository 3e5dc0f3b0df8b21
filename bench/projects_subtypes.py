"""Seed 002's claim, measured: project types in their own tables vs one table with nullable columns.

Seed 002 moved school and self-study fields out of `projects` into `school_projects` and
`self_study_projects` (one row per project, every field NOT NULL), expecting "15-25 %
storage reduction" and "20-40 % faster queries". This builds both layouts side by side
with the same N projects (half of each type, 20 owners in 5 organizations):

- before: migration 0004's `projects` with the five type columns (NULL for the other type)
  and the four CHECKs that tied them to `project_type`;
- after: migration 0014's layout, the common table plus the two type tables.

Printed per database: the storage of each layout (PostgreSQL: `pg_total_relation_size` of
the tables with their indexes and TOAST; SQLite: the database file after VACUUM) and the
p50 / p95 of three queries, each run interleaved with its counterpart (a busy moment on
the machine hits both), and every figure's ratio after / before:

- typed list: one owner's school projects, newest 25, with the course fields (the Projects
  page's School tab);
- mixed list: one owner's projects of both types, newest 25, with every type field (All tab);
- type count: how many school projects an organization has.

Sizes: 100,000 projects (the issue's figure); `--quick` or BENCH_QUICK=1: 2,000 (CI runs every
bench that way). PostgreSQL runs when BENCH_DATABASE_URL or TEST_DATABASE_URL is set (a
throwaway database, dropped at the end). Run: `.venv/bin/python bench/projects_subtypes.py`.
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

QUICK = "--quick" in sys.argv or os.environ.get("BENCH_QUICK", "") not in ("", "0")
PROJECTS = 2_000 if QUICK else 100_000
REPEATS = 50 if QUICK else 300
ORGS, OWNERS_PER_ORG = 5, 4

COMMON_COLUMNS = """
    id INTEGER PRIMARY KEY, organization_id INTEGER NOT NULL, owner_id INTEGER NOT NULL,
    name VARCHAR(255) NOT NULL, project_type VARCHAR(20) NOT NULL, description TEXT NOT NULL,
    start_date DATE, end_date DATE, is_draft BOOLEAN NOT NULL, published_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL"""
COMMON_CHECKS = """
    CONSTRAINT check_project_type_valid CHECK (project_type IN ('school', 'self_study')),
    CONSTRAINT check_project_dates_ordered CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date),
    CONSTRAINT check_project_published_at CHECK (is_draft OR published_at IS NOT NULL)"""
COMMON_INDEXES = [
    "CREATE INDEX idx_project_owner_type ON projects (organization_id, owner_id, project_type, created_at)",
    "CREATE INDEX idx_project_owner_created ON projects (organization_id, owner_id, created_at, id)",
    "CREATE INDEX idx_project_draft_cleanup ON projects (is_draft, updated_at, id)",
    "CREATE INDEX ix_projects_owner_id ON projects (owner_id)",
    "CREATE INDEX ix_projects_organization_id ON projects (organization_id)",
]


def _filled(column: str) -> str:
    return f"({column} IS NOT NULL AND TRIM({column}) <> '')"


SCHOOL_FILLED = " AND ".join(_filled(c) for c in ("course_name", "course_code", "teacher_name"))
SELF_STUDY_FILLED = " AND ".join(_filled(c) for c in ("goal_description", "study_frequency"))

BEFORE_DDL = [f"""CREATE TABLE projects ({COMMON_COLUMNS},
    course_name VARCHAR(255), course_code VARCHAR(50), teacher_name VARCHAR(255),
    goal_description TEXT, study_frequency VARCHAR(50), {COMMON_CHECKS},
    CONSTRAINT check_school_project_fields_required CHECK (project_type <> 'school' OR ({SCHOOL_FILLED})),
    CONSTRAINT check_self_study_project_fields_required CHECK (project_type <> 'self_study' OR ({SELF_STUDY_FILLED})),
    CONSTRAINT check_school_project_no_self_study_fields
        CHECK (project_type <> 'school' OR (goal_description IS NULL AND study_frequency IS NULL)),
    CONSTRAINT check_self_study_project_no_school_fields
        CHECK (project_type <> 'self_study' OR (course_name IS NULL AND course_code IS NULL AND teacher_name IS NULL)))
"""] + COMMON_INDEXES
AFTER_DDL = [f"CREATE TABLE projects ({COMMON_COLUMNS}, {COMMON_CHECKS})"] + COMMON_INDEXES + [
    f"""CREATE TABLE school_projects (id INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
        course_name VARCHAR(255) NOT NULL, course_code VARCHAR(50) NOT NULL, teacher_name VARCHAR(255) NOT NULL,
        CONSTRAINT check_school_project_fields_filled CHECK ({SCHOOL_FILLED}))""",
    f"""CREATE TABLE self_study_projects (id INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
        goal_description TEXT NOT NULL, study_frequency VARCHAR(50) NOT NULL,
        CONSTRAINT check_self_study_project_fields_filled CHECK ({SELF_STUDY_FILLED}))""",
]

QUERIES = {
    "typed list": (
        "SELECT id, name, created_at, course_name, course_code, teacher_name FROM projects"
        " WHERE organization_id = :org AND owner_id = :owner AND project_type = 'school'"
        " ORDER BY created_at DESC, id DESC LIMIT 25",
        "SELECT p.id, p.name, p.created_at, s.course_name, s.course_code, s.teacher_name"
        " FROM projects p JOIN school_projects s ON s.id = p.id"
        " WHERE p.organization_id = :org AND p.owner_id = :owner AND p.project_type = 'school'"
        " ORDER BY p.created_at DESC, p.id DESC LIMIT 25"),
    "mixed list": (
        "SELECT id, name, project_type, created_at, course_name, course_code, teacher_name, goal_description,"
        " study_frequency FROM projects WHERE organization_id = :org AND owner_id = :owner"
        " ORDER BY created_at DESC, id DESC LIMIT 25",
        "SELECT p.id, p.name, p.project_type, p.created_at, s.course_name, s.course_code, s.teacher_name,"
        " t.goal_description, t.study_frequency FROM projects p"
        " LEFT OUTER JOIN school_projects s ON s.id = p.id LEFT OUTER JOIN self_study_projects t ON t.id = p.id"
        " WHERE p.organization_id = :org AND p.owner_id = :owner ORDER BY p.created_at DESC, p.id DESC LIMIT 25"),
    "type count": (
        "SELECT count(*) FROM projects WHERE organization_id = :org AND project_type = 'school'",
        "SELECT count(*) FROM projects WHERE organization_id = :org AND project_type = 'school'"),
}


def rows() -> list[dict]:
    rng = random.Random(2)
    words = "compilers networks databases algebra physics rust go haskell tracer parser kernel graph".split()
    out = []
    for i in range(1, PROJECTS + 1):
        org = 1 + i % ORGS
        school = i % 2 == 0
        row = {"id": i, "organization_id": org, "owner_id": org * 10 + i % OWNERS_PER_ORG,
               "name": " ".join(rng.choice(words) for _ in range(3)).title(),
               "project_type": "school" if school else "self_study", "description": "", "is_draft": i % 5 == 0,
               "published_at": None if i % 5 == 0 else "2026-01-01 10:00:00",
               "created_at": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:00:00",
               "course_name": None, "course_code": None, "teacher_name": None,
               "goal_description": None, "study_frequency": None}
        row["updated_at"] = row["created_at"]
        if school:
            row.update(course_name=f"{rng.choice(words).title()} {rng.randrange(100, 500)}",
                       course_code=f"CS-{rng.randrange(100, 999)}", teacher_name=f"Dr. {rng.choice(words).title()}")
        else:
            row.update(goal_description=" ".join(rng.choice(words) for _ in range(12)),
                       study_frequency=rng.choice(("Daily", "Weekly", "Several times a week")))
        out.append(row)
    return out


def load(engine: sa.Engine, layout: str, data: list[dict]) -> None:
    common = ("id", "organization_id", "owner_id", "name", "project_type", "description", "is_draft",
              "published_at", "created_at", "updated_at")
    school = ("id", "course_name", "course_code", "teacher_name")
    self_study = ("id", "goal_description", "study_frequency")

    def insert(conn, table, columns, items):
        statement = sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
        for start in range(0, len(items), 5000):
            conn.execute(statement, [{c: r[c] for c in columns} for r in items[start:start + 5000]])

    with engine.begin() as conn:
        for statement in BEFORE_DDL if layout == "before" else AFTER_DDL:
            conn.execute(sa.text(statement))
        if layout == "before":
            insert(conn, "projects", common + school[1:] + self_study[1:], data)
        else:
            insert(conn, "projects", common, data)
            insert(conn, "school_projects", school, [r for r in data if r["project_type"] == "school"])
            insert(conn, "self_study_projects", self_study, [r for r in data if r["project_type"] == "self_study"])


def storage(engine: sa.Engine, layout: str, path: Path | None) -> int:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
            tables = ["projects"] + ([] if layout == "before" else ["school_projects", "self_study_projects"])
            return sum(conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar_one()
                       for t in tables)
        conn.exec_driver_sql("VACUUM")
        conn.exec_driver_sql("ANALYZE")
    return path.stat().st_size


def timings(before: sa.Engine, after: sa.Engine) -> dict[str, tuple[list[float], list[float]]]:
    rng = random.Random(9)
    result = {name: ([], []) for name in QUERIES}
    with before.connect() as b, after.connect() as a:
        for _ in range(REPEATS):
            org = 1 + rng.randrange(ORGS)
            params = {"org": org, "owner": org * 10 + rng.randrange(OWNERS_PER_ORG)}
            for name, (old, new) in QUERIES.items():
                pair = [(0, b, old), (1, a, new)]
                rng.shuffle(pair)
                for index, conn, sql in pair:
                    start = time.perf_counter()
                    conn.execute(sa.text(sql), params).all()
                    result[name][index].append((time.perf_counter() - start) * 1000)
    return result


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def report(label: str, sizes: tuple[int, int], result: dict) -> None:
    before, after = sizes
    print(f"\n{label}: {PROJECTS:,} projects")
    print(f"  storage          before {before / 1e6:9.2f} MB   after {after / 1e6:9.2f} MB   ratio {after / before:.2f}")
    for name, (old, new) in result.items():
        print(f"  {name:<16} before p50 {statistics.median(old):6.3f} ms p95 {p95(old):6.3f} ms   "
              f"after p50 {statistics.median(new):6.3f} ms p95 {p95(new):6.3f} ms   "
              f"ratio p50 {statistics.median(new) / statistics.median(old):.2f}")


def run_sqlite(data: list[dict]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cairn-bench-subtypes-"))
    engines, paths = {}, {}
    for layout in ("before", "after"):
        paths[layout] = tmp / f"{layout}.sqlite3"
        engines[layout] = sa.create_engine(f"sqlite:///{paths[layout]}")
        load(engines[layout], layout, data)
    sizes = tuple(storage(engines[layout], layout, paths[layout]) for layout in ("before", "after"))
    report("SQLite", sizes, timings(engines["before"], engines["after"]))
    for engine in engines.values():
        engine.dispose()
    for path in paths.values():
        path.unlink()
    tmp.rmdir()


def run_postgresql(base: str, data: list[dict]) -> None:
    urls, engines = {}, {}
    try:
        for layout in ("before", "after"):
            urls[layout] = create_database(base, f"subtypes_{layout}")
            engines[layout] = sa.create_engine(urls[layout])
            load(engines[layout], layout, data)
        sizes = tuple(storage(engines[layout], layout, None) for layout in ("before", "after"))
        report("PostgreSQL", sizes, timings(engines["before"], engines["after"]))
    finally:
        for engine in engines.values():
            engine.dispose()
        for url in urls.values():
            drop_database(url)


def main() -> None:
    data = rows()
    run_sqlite(data)
    base = server_url()
    if base:
        run_postgresql(base, data)
    else:
        print("\nPostgreSQL skipped: set BENCH_DATABASE_URL to a server the benchmark may create databases on.")


if __name__ == "__main__":
    main()

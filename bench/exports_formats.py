"""How fast do exports stream, and how much memory does the worker need, per format?

N time entries (default 50,000; BENCH_EXPORT_ROWS=1000000 for the issue's full size) in
PostgreSQL are exported to CSV, JSON, Excel and PDF (PDF capped at 10,000 rows) by the same
code the worker runs (`app.exports.services._export_write`: Core select with yield_per and
partitions, streaming writers, atomic write, sha256). Each export runs in a fresh child
process, so its peak RSS (ru_maxrss) is what a work-horse needs for that one job.

Baseline, measured in the same run: PostgreSQL's own
`COPY (SELECT <same columns> ...) TO STDOUT WITH CSV` written to a file (also in a child).
Printed per format: rows, seconds, rows/s, peak RSS, and for CSV the time ratio to COPY.
Aims (issue 6): CSV within 2x of COPY; peak RSS under 150 MB for every format.

Needs PostgreSQL: BENCH_DATABASE_URL or TEST_DATABASE_URL (a throwaway database is created
next to it and dropped). Run: `.venv/bin/python bench/exports_formats.py`.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"  # bench/README.md: the smallest size, run by the test suite
ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "300" if QUICK else "50000"))
PDF_ROWS = min(ROWS, 10_000)
FIELDS = ["date", "member", "project", "task", "duration", "description"]
COPY_SQL = ("SELECT te.date, u.full_name, te.project, te.task, te.duration_minutes, te.description "
            "FROM time_entries te JOIN users u ON u.id = te.user_id WHERE te.organization_id = {org} "
            "ORDER BY te.date, te.id{limit}")


def build_app(database_url: str, storage: str):
    from app import create_app
    from app.config import Config

    config = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL="", EMBEDDED_WORKER=False, STORAGE_DIR=storage,
                  SECRET_KEY="bench", USAGE_LOG_ENABLED=False, PERIODIC_TICK_SECONDS=3600,
                  EXPORTS_MAX_CONCURRENT_PER_USER=10)
    return create_app(config)


def rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- child processes
def child_export(database_url: str, storage: str, request_id: uuid.UUID) -> None:
    from app.exports import services
    from app.exports.models import ExportRequest
    from app.extensions import db

    app = build_app(database_url, storage)
    with app.app_context():
        row = db.session.get(ExportRequest, request_id)
        before = rss_mb()
        started = time.perf_counter()
        services._export_write(row, lambda *a, **k: None)
        db.session.commit()
        elapsed = time.perf_counter() - started
        row = db.session.get(ExportRequest, request_id)
        print(json.dumps({"rows": row.row_count, "seconds": elapsed, "rss_mb": rss_mb(), "rss_before_mb": before,
                          "bytes": row.file_size, "path": str(Path(storage) / row.file_path)}))


def child_json_sql(database_url: str, storage: str, request_id: uuid.UUID, path: str) -> None:
    """The baseline for JSON: PostgreSQL producing the same JSON document itself, in one statement (the export's
    select, each row rendered by `services._json_rows`, aggregated with string_agg), written to a file."""
    import sqlalchemy as sa

    from app.accounts.models import User
    from app.exports import services
    from app.exports.datasets import get_dataset
    from app.exports.models import ExportRequest
    from app.extensions import db

    app = build_app(database_url, storage)
    with app.app_context():
        row = db.session.get(ExportRequest, request_id)
        user = db.session.get(User, row.requested_by_id)
        fields = list(row.selected_fields)
        stmt = services.export_select(user=user, dataset=row.dataset, fields=fields, filters=row.filters,
                                      date_start=row.date_range_start, date_end=row.date_range_end)
        specs = [get_dataset(row.dataset).field_map()[f] for f in fields]
        numbered = services._json_rows(stmt, fields, specs).add_columns(
            sa.func.row_number().over(order_by=list(stmt._order_by_clauses)).label("n")).order_by(None).subquery()
        document = sa.select(sa.literal("[\n") + sa.func.coalesce(sa.func.string_agg(
            sa.text("json, E',\\n' ORDER BY n"), None), "") + sa.literal("\n]\n")).select_from(numbered)
        started = time.perf_counter()
        with db.engine.connect() as connection, open(path, "wb") as out:
            out.write(connection.execute(document).scalar().encode("utf-8"))
        print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": rss_mb(), "bytes": Path(path).stat().st_size}))


def child_copy(database_url: str, org_id: int, path: str) -> None:
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    rows = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur, open(path, "wb") as out:
        with cur.copy(f"COPY ({COPY_SQL.format(org=org_id, limit='')}) TO STDOUT WITH CSV HEADER") as copy:
            for data in copy:
                out.write(data)
                rows += bytes(data).count(b"\n")
    print(json.dumps({"rows": rows - 1, "seconds": time.perf_counter() - started, "rss_mb": rss_mb()}))


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- setup


def prepare(database_url: str, storage: str) -> tuple[int, dict[str, int]]:
    """Schema from the models, one organization, ROWS entries (generate_series), one request per format."""
    import sqlalchemy as sa

    from app.accounts import services as accounts
    from app.exports import services
    from app.exports.seeds import seed_default_templates
    from app.extensions import db

    app = build_app(database_url, storage)
    with app.app_context():
        # The schema as production has it: the migrations (extensions pg_trgm and btree_gin included). create_all
        # alone failed on a fresh database: the ticket search index needs btree_gin.
        from flask_migrate import upgrade

        upgrade(directory=str(ROOT / "migrations"))
        seed_default_templates(db.session.connection())
        admin = accounts.organization_signup(organization_name="Bench", full_name="Bench Admin",
                                             email="bench@exports.example.com", password="Tall-granite-lighthouse-47")
        db.session.execute(sa.text(
            "INSERT INTO time_entries (organization_id, user_id, date, project, task, duration_minutes, description,"
            " created_at, updated_at) SELECT :org, :user, DATE '2026-01-01' + (i % 365), 'Project ' || (i % 40),"
            " 'Task ' || i, 15 + i % 240, 'Worked on item ' || i || ', with notes = and commas', now(), now()"
            " FROM generate_series(1, :n) AS i"), {"org": admin.organization_id, "user": admin.id, "n": ROWS})
        db.session.commit()
        db.session.execute(sa.text("ANALYZE time_entries"))
        ids = {}
        for fmt in ("csv", "json", "excel", "pdf"):
            row = services.export_request_create(actor=services.Actor(admin), title=f"Bench {fmt}", format=fmt,
                                                 dataset="time_entries", fields=FIELDS, submit=False)
            db.session.commit()
            ids[fmt] = row.id
        if PDF_ROWS < ROWS:  # PDF: the first 10,000 rows (a date range covering them)
            from datetime import timedelta

            from app.exports.models import ExportRequest

            last = db.session.execute(sa.text(
                "SELECT date FROM time_entries ORDER BY date, id OFFSET :k LIMIT 1"), {"k": PDF_ROWS - 1}).scalar()
            pdf = db.session.get(ExportRequest, ids["pdf"])
            pdf.date_range_end = services._day_bounds(None, last - timedelta(days=1))[1]
            db.session.commit()
        org_id = admin.organization_id
        db.session.remove()
        db.engine.dispose()
    return org_id, ids


def main() -> None:
    base = server_url()
    if not base:
        print("exports_formats: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL to a PostgreSQL server)")
        return
    database_url = create_database(base, "exports")
    storage = tempfile.mkdtemp(prefix="cairn-bench-exports-")
    try:
        started = time.perf_counter()
        org_id, ids = prepare(database_url, storage)
        print(f"exports_formats: {ROWS:,} time entries in PostgreSQL (set up in {time.perf_counter() - started:.1f} s)")
        copy = run_child("copy", database_url, str(org_id), str(Path(storage) / "copy.csv"))
        print(f"  {'COPY TO STDOUT (baseline)':28} {copy['rows']:>9,} rows {copy['seconds']:7.2f} s "
              f"{copy['rows'] / copy['seconds']:>10,.0f} rows/s  peak RSS {copy['rss_mb']:6.1f} MB")
        baseline_json = Path(storage) / "baseline.json"
        json_sql = run_child("json-sql", database_url, storage, str(ids["json"]), str(baseline_json))
        print(f"  {'PostgreSQL makes the JSON':28} {ROWS:>9,} rows {json_sql['seconds']:7.2f} s "
              f"{ROWS / json_sql['seconds']:>10,.0f} rows/s  peak RSS {json_sql['rss_mb']:6.1f} MB")
        for fmt in ("csv", "json", "excel", "pdf"):
            result = run_child("export", database_url, storage, str(ids[fmt]))
            ratio = f"  {result['seconds'] / copy['seconds']:.2f}x COPY" if fmt == "csv" else ""
            if fmt == "json":
                same = Path(result["path"]).read_bytes() == baseline_json.read_bytes()
                ratio = (f"  {result['seconds'] / json_sql['seconds']:.2f}x PostgreSQL's JSON (aim <= 1.5x; "
                         f"{'identical bytes' if same else 'BYTES DIFFER'})")
            print(f"  {fmt:28} {result['rows']:>9,} rows {result['seconds']:7.2f} s "
                  f"{result['rows'] / result['seconds']:>10,.0f} rows/s  peak RSS {result['rss_mb']:6.1f} MB "
                  f"(app loaded: {result['rss_before_mb']:.1f} MB){ratio}")
    finally:
        drop_database(database_url)
        import shutil

        shutil.rmtree(storage, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "export":
        child_export(sys.argv[2], sys.argv[3], uuid.UUID(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "json-sql":
        child_json_sql(sys.argv[2], sys.argv[3], uuid.UUID(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) > 1 and sys.argv[1] == "copy":
        child_copy(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()

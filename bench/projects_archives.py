"""How fast are the projects area's archives and its drafts cleanup?

1. Archives: a generated project of many files is packed as zip and tar.gz by
   `app.projects.archives` (sorted entries, fixed times and modes: byte-identical output)
   and, in the same run on the same files, by the `zip -r` and `tar czf` command-line
   tools at the same compression level (6). Printed: the median of 3 runs each, and the ratio
   to the tool (aim: within 1.3x).
2. Drafts cleanup: `services.drafts_cleanup` on N drafts of which half are abandoned,
   in batches, with the EXPLAIN of its batch query (it must read idx_project_draft_cleanup).
   Baseline in the same run: one unbatched DELETE of the same rows on the same data.

Sizes: default small (400 files / 10 MB; 20,000 drafts on SQLite, 100,000 on PostgreSQL).
PROJECTS_BENCH_FULL=1: 2,000 files / 50 MB and 1,000,000 drafts on PostgreSQL (200,000 on SQLite).
PostgreSQL runs when BENCH_DATABASE_URL or TEST_DATABASE_URL is set (a throwaway database).
Run: `make bench`, or `.venv/bin/python bench/projects_archives.py`.
"""
from __future__ import annotations

import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

FULL = os.environ.get("PROJECTS_BENCH_FULL", "") not in ("", "0")
QUICK = os.environ.get("BENCH_QUICK") == "1"  # bench/README.md: the smallest size, run by the test suite
FILES, TOTAL_BYTES = (2000, 50 * 1024 * 1024) if FULL else (20, 200 * 1024) if QUICK else (400, 10 * 1024 * 1024)
WORDS = ("def class return import self value project course module test data render archive file "
         "tree commit branch token deadline milestone exam teacher goal study").split()


def make_files(root: Path) -> list[tuple[str, int, bool]]:
    """Source-like text (compressible) with some binary blobs, in nested folders; every 10th executable."""
    rng = random.Random(5)
    per_file = TOTAL_BYTES // FILES
    out = []
    for i in range(FILES):
        rel = f"pkg{i % 20}/sub{i % 7}/file_{i:05d}" + (".bin" if i % 25 == 0 else ".py")
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if i % 25 == 0:
            data = rng.randbytes(per_file)
        else:
            lines, size = [], 0
            while size < per_file:
                line = " ".join(rng.choice(WORDS) for _ in range(10)) + f"  # {rng.randrange(10**6)}\n"
                lines.append(line)
                size += len(line)
            data = "".join(lines).encode()[:per_file]
        path.write_bytes(data)
        executable = i % 10 == 0
        os.chmod(path, 0o755 if executable else 0o644)
        out.append((rel, len(data), executable))
    return out


def _median_time(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_archives() -> None:
    from app.projects import archives

    tmp = Path(tempfile.mkdtemp(prefix="cairn-bench-archives-"))
    try:
        src = tmp / "project"
        files = make_files(src)
        total = sum(size for _, size, _ in files)
        entries = [archives.Entry(path=rel, executable=ex, open=lambda p=src / rel: open(p, "rb"), size=size)
                   for rel, size, ex in files]
        print(f"\n== Archives: {len(files):,} files, {total / 2**20:.1f} MB (median of 3 runs)")

        def ours_zip():
            with open(tmp / "ours.zip", "wb") as out:
                archives.write_zip(out, entries, prefix="project/")

        def ours_tgz():
            with open(tmp / "ours.tar.gz", "wb") as out:
                archives.write_tar(out, entries, prefix="project/", compress=True)

        def tool_zip():
            (tmp / "tool.zip").unlink(missing_ok=True)
            subprocess.run(["zip", "-q", "-r", "-6", str(tmp / "tool.zip"), "project"], cwd=tmp, check=True)

        def tool_tgz():
            subprocess.run(["tar", "czf", str(tmp / "tool.tar.gz"), "project"], cwd=tmp, check=True)  # gzip -6

        rows = []
        for label, ours, tool, tool_name in (("zip", ours_zip, tool_zip, "zip -r"),
                                             ("tar.gz", ours_tgz, tool_tgz, "tar czf")):
            if shutil.which(tool_name.split()[0]) is None:
                print(f"{label}: `{tool_name}` is not installed (make zip-tool); skipped")
                continue
            t_tool = _median_time(tool)
            t_ours = _median_time(ours)
            size_ours = (tmp / f"ours.{label}").stat().st_size
            size_tool = (tmp / f"tool.{label}").stat().st_size
            rows.append((label, t_ours, t_tool, size_ours, size_tool))
        print(f"{'format':8} {'cairn':>9} {'tool':>9} {'ratio':>7} {'cairn size':>12} {'tool size':>12}")
        for label, t_ours, t_tool, s_ours, s_tool in rows:
            print(f"{label:8} {t_ours * 1000:8.0f}ms {t_tool * 1000:8.0f}ms {t_ours / t_tool:6.2f}x "
                  f"{s_ours / 2**20:10.2f}MB {s_tool / 2**20:10.2f}MB")
        first = (tmp / "ours.zip").read_bytes()
        ours_zip()
        print(f"byte-identical on rebuild: {first == (tmp / 'ours.zip').read_bytes()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- drafts cleanup
def build_app(database_url: str, storage: Path):
    from app import create_app
    from app.config import Config

    config = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL="", EMBEDDED_WORKER=False,
                  STORAGE_DIR=str(storage), SECRET_KEY="bench", USAGE_LOG_ENABLED=False,
                  PERIODIC_TICK_SECONDS=3600)
    return create_app(config)


def seed_drafts(count: int, owner_id: int, organization_id: int) -> None:
    """`count` self-study drafts, every other one untouched for 30 days (abandoned), in shuffled order."""
    import sqlalchemy as sa

    from app.extensions import db

    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text(
            "INSERT INTO projects (id, name, project_type, owner_id, organization_id, description, is_draft, "
            "created_at, updated_at) "
            # A UUIDv7 as the app makes them: 48 bits of Unix milliseconds (now), version 7, random bits.
            "SELECT CAST(lpad(to_hex(CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint)), 12, '0') "
            "|| '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15) AS uuid), "
            "'draft ' || g, 'self_study', :owner, :org, '', true, "
            "now() - CASE WHEN g % 2 = 0 THEN interval '30 days' ELSE interval '1 hour' END - g * interval '1 ms', "
            "now() - CASE WHEN g % 2 = 0 THEN interval '30 days' ELSE interval '1 hour' END - g * interval '1 ms' "
            "FROM generate_series(1, :n) AS g ORDER BY random()"), {"owner": owner_id, "org": organization_id,
                                                                    "n": count})
        _self_study_rows()
        db.session.commit()
        db.session.execute(sa.text("ANALYZE projects"))
        db.session.commit()
        return
    from app.platform.models import utcnow, uuid7
    from app.projects.models import Project

    now = utcnow()
    rows = [{"id": uuid7(), "name": f"draft {i}", "project_type": "self_study", "owner_id": owner_id,
             "organization_id": organization_id, "description": "", "is_draft": True,
             "created_at": now - timedelta(days=30 if i % 2 == 0 else 0, hours=1, milliseconds=i),
             "updated_at": now - timedelta(days=30 if i % 2 == 0 else 0, hours=1, milliseconds=i)}
            for i in range(count)]
    random.Random(3).shuffle(rows)
    for start in range(0, len(rows), 50_000):
        db.session.execute(sa.insert(Project.__table__), rows[start:start + 50_000])
    _self_study_rows()
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def _self_study_rows() -> None:
    """Each self-study project's own row (its type's fields live in self_study_projects since migration 0014)."""
    import sqlalchemy as sa

    from app.extensions import db

    db.session.execute(sa.text(
        "INSERT INTO self_study_projects (id, goal_description, study_frequency) SELECT p.id, 'goal', 'weekly' "
        "FROM projects p WHERE p.project_type = 'self_study' "
        "AND NOT EXISTS (SELECT 1 FROM self_study_projects s WHERE s.id = p.id)"))


def bench_cleanup(database_url: str, label: str, count: int) -> None:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app.accounts import services as accounts
    from app.extensions import db
    from app.platform.models import utcnow
    from app.projects import services
    from app.projects.models import Project

    storage = Path(tempfile.mkdtemp(prefix="cairn-bench-storage-"))
    app = build_app(database_url, storage)
    try:
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            admin = accounts.organization_signup(organization_name="Bench", full_name="Bench", password="Tall-granite-lighthouse-47",
                                                 email="bench@cairn-bench.example.com")
            print(f"\n== Drafts cleanup on {label}: {count:,} drafts, half abandoned (batch 5,000)")
            start = time.perf_counter()
            seed_drafts(count, admin.id, admin.organization_id)
            print(f"seeded in {time.perf_counter() - start:.1f} s")
            # The batch's key lookup (services.drafts_cleanup): the 5,000th abandoned draft in index order.
            stmt = (Project.abandoned_drafts(24).with_only_columns(Project.updated_at, Project.id)
                    .order_by(Project.updated_at, Project.id).offset(4999).limit(1))
            compiled = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            if db.engine.dialect.name == "postgresql":
                plan = [r[0] for r in db.session.execute(sa.text(f"EXPLAIN {compiled}"))]
            else:
                plan = [str(r[-1]) for r in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))]
            db.session.rollback()
            print("EXPLAIN of one batch's key lookup:\n  " + "\n  ".join(plan))
            batch_times: list[float] = []
            original_commit = db.session.commit

            def timed_commit():
                original_commit()
                batch_times.append(time.perf_counter())

            db.session.commit = timed_commit
            start = time.perf_counter()
            result = services.drafts_cleanup(hours=24, batch_size=5000)
            total = time.perf_counter() - start
            db.session.commit = original_commit
            gaps = [b - a for a, b in zip([start] + batch_times, batch_times)]
            print(f"drafts_cleanup: removed {result['removed']:,} in {result['batches']} batches, {total:.2f} s "
                  f"(batch p50 {statistics.median(gaps) * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms)")
            # Baseline: one unbatched DELETE of the same rows on the same data.
            db.session.execute(sa.delete(Project.__table__))
            db.session.commit()
            seed_drafts(count, admin.id, admin.organization_id)
            cutoff = utcnow() - timedelta(hours=24)
            start = time.perf_counter()
            removed = db.session.execute(sa.delete(Project.__table__).where(
                Project.__table__.c.is_draft.is_(True), Project.__table__.c.updated_at < cutoff)).rowcount
            db.session.commit()
            single = time.perf_counter() - start
            print(f"baseline one DELETE: removed {removed:,} in {single:.2f} s (holds its locks for all of it)")
            print(f"ratio batched / single: {total / single:.2f}x; longest lock held by cleanup: "
                  f"{max(gaps) / single:.2f} of the single DELETE's")
            db.session.remove()
            db.engine.dispose()
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    print("Projects: archive building vs zip/tar, and the drafts cleanup" + (" (full size)" if FULL else
                                                                             " (small; PROJECTS_BENCH_FULL=1 for full)"))
    bench_archives()
    tmp = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
    try:
        bench_cleanup(f"sqlite:///{tmp / 'bench.sqlite3'}", "SQLite", 200_000 if FULL else 400 if QUICK else 20_000)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pg_base = server_url()
    if pg_base:
        url = create_database(pg_base, "archives")
        try:
            bench_cleanup(url, "PostgreSQL", 1_000_000 if FULL else 400 if QUICK else 100_000)
        finally:
            drop_database(url)
    else:
        print("\n(PostgreSQL skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL to include it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

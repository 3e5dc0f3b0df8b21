"""What does the APIUsageLog middleware (app/platform/usage.py) cost a request?

The same pages are served by separately built apps that differ only in their usage-log
settings, on one database, in one process, through the Flask test client:

  unlogged     USAGE_LOG_ENABLED=false                         (the baseline)
  unlogged-2   a second, identical baseline app                (A/A check: run-to-run noise)
  logged       USAGE_LOG_ENABLED=true, flush every 1 s         (production)
  logged-sync  USAGE_LOG_ENABLED=true, flush on every request  (tests; shows what the buffer saves)

Requests are interleaved: one request per variant at a time, in a fresh random order,
so load from other processes, the flush thread and the growing log table land on every
variant alike. Printed per database and page: p50 / p95 wall-clock latency, the median
CPU time of the requesting thread (much less sensitive to a busy machine), and each
variant's ratio to the baseline measured in the same run. A ratio means something only
where it differs from 1 by more than the A/A (unlogged-2) ratio does.

Databases: SQLite (a temporary file) always; PostgreSQL too when BENCH_DATABASE_URL or
TEST_DATABASE_URL is set (a throwaway database is created next to it and dropped).
Run: `make bench`, or `.venv/bin/python bench/usage_log_overhead.py [--requests N]`.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

EMAIL = "ops@cairn-bench.example.com"
PASSWORD = "Tall-granite-lighthouse-47"
VARIANTS = {
    "unlogged": {"USAGE_LOG_ENABLED": False},
    "unlogged-2": {"USAGE_LOG_ENABLED": False},
    "logged": {"USAGE_LOG_ENABLED": True, "USAGE_LOG_FLUSH_SECONDS": 1.0},
    "logged-sync": {"USAGE_LOG_ENABLED": True, "USAGE_LOG_FLUSH_SECONDS": 0.0},
}
BASELINE = "unlogged"


def build_app(database_url: str, storage: Path, **overrides):
    from app import create_app
    from app.config import Config

    config = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    config.update(
        SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL="", EMBEDDED_WORKER=False, STORAGE_DIR=str(storage),
        SECRET_KEY="bench", WTF_CSRF_ENABLED=False, TESTING=False, PERIODIC_TICK_SECONDS=3600,
    )
    config.update(overrides)
    return create_app(config)


def prepare_database(database_url: str, storage: Path) -> str:
    """Migrate, create one organization with an admin and one finished job; return the job's status URL."""
    from flask_migrate import upgrade

    from app.accounts import services
    from app.extensions import db
    from app.platform.jobs import BackgroundTask
    from app.platform.models import utcnow

    app = build_app(database_url, storage, USAGE_LOG_ENABLED=False)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        admin = services.organization_signup(organization_name="Bench", full_name="Bench Admin", email=EMAIL,
                                             password=PASSWORD)
        task = BackgroundTask(organization_id=admin.organization_id, kind="purge_trash", title="Purge expired trash",
                              status="succeeded", progress=100, started_at=utcnow(), finished_at=utcnow(),
                              result={"total": 0}, requested_by_id=admin.id)
        db.session.add(task)
        db.session.commit()
        url = f"/jobs/purge_trash/{task.id}/status"
        db.session.remove()
        db.engine.dispose()
    return url


def signed_in_client(app):
    client = app.test_client()
    response = client.post("/signin", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 302, f"sign-in failed ({response.status_code})"
    return client


def run(database_url: str, label: str, requests: int) -> None:
    storage = Path(tempfile.mkdtemp(prefix="cairn-bench-storage-"))
    try:
        status_url = prepare_database(database_url, storage)
        pages = {
            "dashboard (full page)": ("/dashboard", {}),
            "job status (htmx poll)": (status_url, {"HX-Request": "true"}),
        }
        apps = {name: build_app(database_url, storage, **settings) for name, settings in VARIANTS.items()}
        clients = {name: signed_in_client(app) for name, app in apps.items()}
        samples = {(page, name): [] for page in pages for name in VARIANTS}
        for client in clients.values():  # warm up: templates compiled, pools filled
            for path, headers in pages.values():
                for _ in range(20):
                    assert client.get(path, headers=headers).status_code == 200
        started = time.perf_counter()
        order = list(VARIANTS)
        for _ in range(requests):
            for page, (path, headers) in pages.items():
                random.shuffle(order)  # one request per variant, in a fresh order each time
                for name in order:
                    c0, t0 = time.thread_time(), time.perf_counter()
                    response = clients[name].get(path, headers=headers)
                    samples[(page, name)].append(((time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000))
                    assert response.status_code == 200
        elapsed = time.perf_counter() - started
        logged_rows = _flush_and_count(apps["logged"]) + _flush_and_count(apps["logged-sync"])
        report(label, pages, samples, elapsed, logged_rows)
        for app in apps.values():
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()
    finally:
        shutil.rmtree(storage, ignore_errors=True)


def _flush_and_count(app) -> int:
    import sqlalchemy as sa

    from app.extensions import db
    from app.platform.usage import APIUsageLog

    app.extensions["cairn_usage_buffer"].flush()
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(APIUsageLog))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def report(label: str, pages: dict, samples: dict, elapsed: float, logged_rows: int) -> None:
    count = sum(len(v) for v in samples.values())
    print(f"\n{label}: {count:,} requests in {elapsed:.1f} s ({logged_rows:,} usage rows written)")
    print(f"  {'page':<24} {'variant':<12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>7}"
          f"  {'p50 ratio':>9} {'p95 ratio':>9} {'cpu ratio':>9}")
    for page in pages:
        base = _stats(samples[(page, BASELINE)])
        for name in VARIANTS:
            p50, p95, cpu = stats = _stats(samples[(page, name)])
            r50, r95, rcpu = (a / b for a, b in zip(stats, base))
            print(f"  {page:<24} {name:<12} {len(samples[(page, name)]):>5} {p50:>8.2f} {p95:>8.2f} {cpu:>7.2f}"
                  f"  {r50:>9.3f} {r95:>9.3f} {rcpu:>9.3f}")
    for page in pages:
        base, twin, logged = (_stats(samples[(page, n)]) for n in (BASELINE, "unlogged-2", "logged"))
        print(f"  {page}: the usage log adds {logged[0] - base[0]:+.2f} ms at p50, {logged[2] - base[2]:+.2f} ms CPU"
              f" (A/A noise: p50 ratio {twin[0] / base[0]:.3f}, cpu ratio {twin[2] / base[2]:.3f})")


def _stats(values: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(p50 wall ms, p95 wall ms, median CPU ms of the requesting thread)."""
    wall = [w for w, _ in values]
    return statistics.median(wall), percentile(wall, 0.95), statistics.median(c for _, c in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    quick = os.environ.get("BENCH_QUICK") == "1"  # bench/README.md: the smallest size, run by the test suite
    parser.add_argument("--requests", type=int, default=10 if quick else 200,
                        help="requests per variant and page (default 200)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    random.seed(1)

    print("APIUsageLog middleware overhead: the same pages with the usage log off and on (Flask test client)")
    tmp = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
    try:
        run(f"sqlite:///{tmp / 'bench.sqlite3'}", "SQLite", args.requests)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pg_base = server_url()
    if pg_base:
        url = create_database(pg_base, "usage")
        try:
            run(url, "PostgreSQL", args.requests)
        finally:
            drop_database(url)
    else:
        print("\n(PostgreSQL skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL to include it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

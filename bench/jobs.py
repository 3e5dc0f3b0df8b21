"""What Cairn's job platform costs over plain RQ: submits per second, jobs per second, SQL per job.

The same trivial job (it does nothing) goes through both, on the same private
redis-server (started on a free port, no persistence) in the same run:

- Cairn: `platform.jobs.job_submit` of a BackgroundTask row of a no-op kind that counts
  against its organization's limit of 5 concurrent jobs (so every finished job
  dispatches the next waiting one: the full bookkeeping), run by Cairn's worker;
- plain RQ: `Queue.enqueue` of a no-op function, run by RQ's own worker.

Printed: submits/s (Cairn vs `enqueue`), jobs/s with the forking worker (`flask worker`,
whose work-horse serves up to 100 jobs before it is replaced, against RQ's `Worker`,
which forks a horse per job), Cairn with a horse per job too (JOB_HORSE_MAX_JOBS=1),
the same with the worker's warm start off (JOB_WORKER_WARM_START=0: each work-horse opens
its own database connection and compiles its SQL, as before issue 16's work), and with
the in-process worker
(`SimpleWorker`, the embedded queue's kind), each with its ratio to RQ, and the SQL
statements per submit and per job (counted with SQLAlchemy's cursor events).
Aims (issue 16): at most 3 statements per submit and 5 per job; the forking
worker at least half of plain RQ's jobs/s.

Databases: SQLite (a temporary file) always; PostgreSQL too when BENCH_DATABASE_URL or
TEST_DATABASE_URL is set (a throwaway database next to it, dropped at the end).
Sizes: `--jobs N` (default 400); `--quick` or BENCH_QUICK=1 runs 20 (CI's smallest size).
Needs `redis-server` on the PATH.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support.postgres import create_database, drop_database, server_url  # noqa: E402

KIND = "bench-noop"
QUEUE = "default"
LIMIT = 5


def noop() -> None:
    """Plain RQ's job: nothing at all."""


def cairn_noop(task, progress) -> None:
    """Cairn's job: nothing at all; what is measured is the platform around it."""


# --------------------------------------------------------------------------- setup
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    import redis

    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(directory)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.time() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.time() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
    client.close()
    return process, url


def build_app(database_url: str, redis_url: str, storage: Path):
    from app import create_app
    from app.config import Config

    config = {key: getattr(Config, key) for key in dir(Config) if key.isupper()}
    config.update(SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url, EMBEDDED_WORKER=False,
                  STORAGE_DIR=str(storage), SECRET_KEY="bench", USAGE_LOG_ENABLED=False,
                  PERIODIC_TICK_SECONDS=3600, JOB_MONITORING_INTERVAL=5)
    return create_app(config)


def prepare(app) -> int:
    """Migrate and create one organization (limit 5 concurrent jobs); return its id."""
    from flask_migrate import upgrade

    from app.accounts.models import Organization
    from app.extensions import db
    from app.platform.jobs import BackgroundTask, JobKind, job_kinds, register_job_kind

    if KIND not in job_kinds:
        register_job_kind(JobKind(KIND, BackgroundTask, cairn_noop, title=lambda row: "Bench no-op"))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        org = Organization(name="Bench Jobs", slug="bench-jobs", subscription_tier="professional",
                           settings={"max_concurrent_jobs": LIMIT})
        db.session.add(org)
        db.session.commit()
        return org.id


# --------------------------------------------------------------------------- measuring
class StatementCounter:
    """Counts SQL statements (not BEGIN/COMMIT) on the app's engine, in this process."""

    def __init__(self, engine) -> None:
        self.engine, self.count = engine, 0

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.count += 1

    def __enter__(self):
        import sqlalchemy as sa

        sa.event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc) -> None:
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self)


def cairn_submit(app, organization_id: int, jobs: int) -> tuple[float, float]:
    """(submits per second, statements per submit)."""
    from app.extensions import db
    from app.platform.jobs import BackgroundTask, job_submit

    with app.app_context():
        with StatementCounter(db.engine) as counter:
            started = time.perf_counter()
            for _ in range(jobs):
                job_submit(BackgroundTask(organization_id=organization_id, kind=KIND, title="Bench", params={}))
                db.session.remove()
            elapsed = time.perf_counter() - started
    return jobs / elapsed, counter.count / jobs


def rq_submit(connection, jobs: int) -> float:
    from rq import Queue

    queue = Queue(QUEUE, connection=connection)
    started = time.perf_counter()
    for _ in range(jobs):
        queue.enqueue("bench.jobs.noop")  # by name: the worker imports it, as any RQ job
    return jobs / (time.perf_counter() - started)


def cairn_drain(app, organization_id: int, *, forking: bool, warm: bool = True,
                horse_jobs: int = 100) -> tuple[float, int]:
    """Run the organization's submitted jobs to the end; (seconds, rows finished).

    `horse_jobs`: JOB_HORSE_MAX_JOBS, the jobs one work-horse serves (1: a horse per job, as RQ forks).
    `warm=False`: the forking worker as it was before (JOB_WORKER_WARM_START=0, and no compiled SQL left in
    the engine's cache by earlier rounds): each work-horse compiles its statements and opens its connection.
    """
    from app.extensions import db
    from app.platform.jobs import BackgroundTask, SUCCEEDED, make_worker

    app.config["JOB_WORKER_WARM_START"] = warm
    app.config["JOB_HORSE_MAX_JOBS"] = horse_jobs
    if not warm:
        with app.app_context():
            db.engine._compiled_cache.clear()
    started = time.perf_counter()  # make_worker's preparation counts: it is part of the worker's cost
    worker = make_worker(app, [QUEUE], threaded=not forking)
    worker.work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - started
    with app.app_context():
        done = db.session.query(BackgroundTask).filter(BackgroundTask.organization_id == organization_id,
                                                       BackgroundTask.status == SUCCEEDED).count()
        db.session.query(BackgroundTask).delete()
        db.session.commit()
    return elapsed, done


def rq_drain(connection, *, forking: bool) -> float:
    from rq import Queue, SimpleWorker, Worker

    worker_class = Worker if forking else SimpleWorker
    worker = worker_class([Queue(QUEUE, connection=connection)], connection=connection)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    return time.perf_counter() - started


def statements_per_job(app, organization_id: int) -> float:
    """Bookkeeping of one job run inline here, with a row waiting for its slot (the dearer case)."""
    from app.extensions import db
    from app.platform.jobs import BackgroundTask, RUNNING, execute, job_submit

    with app.app_context():
        for _ in range(LIMIT - 1):  # every slot but one taken
            db.session.add(BackgroundTask(organization_id=organization_id, kind=KIND, title="busy",
                                          status=RUNNING, rq_job_id="busy", params={}))
        db.session.commit()
        first = job_submit(BackgroundTask(organization_id=organization_id, kind=KIND, title="b", params={})).id
        job_submit(BackgroundTask(organization_id=organization_id, kind=KIND, title="waits", params={}))
        db.session.remove()
        with StatementCounter(db.engine) as counter:
            execute(KIND, first)
        db.session.query(BackgroundTask).delete()
        db.session.commit()
    return float(counter.count)


def run(label: str, database_url: str, redis_url: str, jobs: int, rounds: int) -> list[float]:
    import redis

    storage = Path(tempfile.mkdtemp(prefix="cairn-bench-jobs-"))
    connection = redis.Redis.from_url(redis_url)
    try:
        app = build_app(database_url, redis_url, storage)
        organization_id = prepare(app)
        results: dict[str, list[float]] = {key: [] for key in
                                           ("cairn_submit", "rq_submit", "cairn_fork", "rq_fork", "cairn_inproc",
                                            "rq_inproc", "cairn_fork_each", "rq_fork_each", "cairn_fork_cold",
                                            "rq_fork_cold")}
        per_submit = 0.0
        for _ in range(rounds):  # alternated, so a busy moment on the machine hits both alike
            for forking, key in ((True, "fork"), (False, "inproc"), (True, "fork_each"), (True, "fork_cold")):
                connection.flushdb()
                rate, per_submit = cairn_submit(app, organization_id, jobs)
                results["cairn_submit"].append(rate)
                elapsed, done = cairn_drain(app, organization_id, forking=forking, warm=key != "fork_cold",
                                            horse_jobs=100 if key == "fork" else 1)
                if done != jobs:
                    raise SystemExit(f"Cairn finished {done} of {jobs} jobs")
                results[f"cairn_{key}"].append(jobs / elapsed)
                connection.flushdb()
                results["rq_submit"].append(rq_submit(connection, jobs))
                results[f"rq_{key}"].append(jobs / rq_drain(connection, forking=forking))
        per_job = statements_per_job(app, organization_id)
        median = {key: statistics.median(values) for key, values in results.items()}
        print(f"\n{label}: {jobs} no-op jobs, {rounds} round(s), medians")
        print(f"  {'':28} {'Cairn':>10} {'plain RQ':>10} {'ratio':>7}")
        rows = (("submits/s", "cairn_submit", "rq_submit"),
                ("jobs/s, forking worker", "cairn_fork", "rq_fork"),
                ("jobs/s, in-process worker", "cairn_inproc", "rq_inproc"),
                ("jobs/s, a horse per job", "cairn_fork_each", "rq_fork_each"),
                ("jobs/s, forking, cold start", "cairn_fork_cold", "rq_fork_cold"))
        for name, ours, theirs in rows:
            ratio = median[ours] / median[theirs]
            print(f"  {name:28} {median[ours]:10.1f} {median[theirs]:10.1f} {ratio:7.2f}")
        print(f"  SQL statements per submit: {per_submit:.1f} (aim <= 3); per job's bookkeeping, "
              f"with a row waiting for the freed slot: {per_job:.0f} (aim <= 5)")
        fork_ratio = median["cairn_fork"] / median["rq_fork"]
        each_ratio = median["cairn_fork_each"] / median["rq_fork_each"]
        cold_ratio = median["cairn_fork_cold"] / median["rq_fork_cold"]
        print(f"  forking worker at {fork_ratio:.2f} of plain RQ's jobs/s (aim >= 0.50; a work-horse serves up to "
              f"100 jobs); {each_ratio:.2f} with a horse per job (JOB_HORSE_MAX_JOBS=1, as RQ forks); "
              f"{cold_ratio:.2f} with that and JOB_WORKER_WARM_START=0 (each horse connects and compiles)")
        with app.app_context():
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()
        return [per_submit, per_job, fork_ratio]
    finally:
        connection.close()
        shutil.rmtree(storage, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=400, help="jobs per measurement (default 400)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1",
                        help="the smallest size (20 jobs, 1 round), as CI runs it")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.rounds = 20, 1
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    if shutil.which("redis-server") is None:
        print("redis-server is not installed: the jobs benchmark needs one (it starts its own)")
        return 1

    print("Job platform cost: Cairn's jobs against plain RQ on the same private Redis")
    tmp = Path(tempfile.mkdtemp(prefix="cairn-bench-"))
    redis_process, redis_url = start_redis(tmp)
    try:
        run("SQLite", f"sqlite:///{tmp / 'bench.sqlite3'}", redis_url, args.jobs, args.rounds)
        pg_base = server_url()
        if pg_base:
            url = create_database(pg_base, "jobs")
            try:
                run("PostgreSQL", url, redis_url, args.jobs, args.rounds)
            finally:
                drop_database(url)
        else:
            print("\n(PostgreSQL skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL to include it)")
    finally:
        redis_process.kill()
        redis_process.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

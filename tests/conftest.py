"""Test fixtures: one app per test process on a real database, cleaned after each test.

Backends come from the environment, so the same suite runs twice in CI:
- default: SQLite file per xdist worker + the embedded queue (fakeredis);
- TEST_DATABASE_URL=postgresql://... TEST_REDIS_URL=redis://...: PostgreSQL and
  Redis, and job tests use a real `flask worker` process.

Outside CI a test may skip for a missing service or browser; with CI=true a
missing one fails (see `require`).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip outside CI, fail in CI: a missing service must never pass silently there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _worker_index() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(re.sub(r"\D", "", name) or 0)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _admin_engine(base_url: str):
    url = sa.engine.make_url(base_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url, sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def _postgres_url_for_worker(base_url: str) -> str:
    """Create a fresh database for this test process next to the one in TEST_DATABASE_URL.

    The name carries the process id, so two test runs on one server (xdist
    workers, or two people running the suite at once) never share a database.
    Databases left by runs that died are dropped here.
    """
    url, admin = _admin_engine(base_url)
    prefix = f"{url.database or 'cairn'}_test_p"
    name = f"{prefix}{os.getpid()}"
    with admin.connect() as conn:
        leftovers = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                 {"p": prefix.replace("_", r"\_") + "%"}).scalars().all()
        for old in leftovers:
            pid = old[len(prefix):]
            if old == name or (pid.isdigit() and not _pid_alive(int(pid))):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(base_url: str, database_url: str) -> None:
    _url, admin = _admin_engine(base_url)
    name = sa.engine.make_url(database_url).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


REDIS_CLAIM_KEY = "cairn-test:claimed-by"


def _redis_url_for_worker(base_url: str) -> str:
    """Claim a Redis database (1-15) no other test process is using.

    Tests flush their database after each test; sharing one with another run
    would wipe its queues and counters mid-test. The claim key expires, so a
    run that died frees its database within the hour.
    """
    import redis

    base = re.sub(r"/\d+$", "", base_url.rstrip("/"))
    token = f"{os.getpid()}"
    for offset in range(15):
        index = 1 + (_worker_index() + offset) % 15
        connection = redis.Redis.from_url(f"{base}/{index}")
        try:
            if connection.set(REDIS_CLAIM_KEY, token, nx=True, ex=3600) or connection.get(REDIS_CLAIM_KEY) == token.encode():
                return f"{base}/{index}"
        finally:
            connection.close()
    raise RuntimeError("no free Redis database (1-15) for this test process")


def _reclaim_redis(connection) -> None:
    """Keep this process's claim after a flush (called by the per-test cleanup)."""
    connection.set(REDIS_CLAIM_KEY, f"{os.getpid()}", ex=3600)


@pytest.fixture(scope="session")
def backend() -> dict:
    base_db = os.environ.get("TEST_DATABASE_URL", "")
    base_redis = os.environ.get("TEST_REDIS_URL", "")
    tmp = Path(tempfile.mkdtemp(prefix=f"cairn-test-{_worker_index()}-"))
    info = {
        "tmp": tmp,
        "postgres": bool(base_db),
        "redis": bool(base_redis),
        "database_url": _postgres_url_for_worker(base_db) if base_db else f"sqlite:///{tmp / 'test.sqlite3'}",
        "redis_url": _redis_url_for_worker(base_redis) if base_redis else "",
    }
    yield info
    shutil.rmtree(tmp, ignore_errors=True)
    if base_redis:
        import redis

        connection = redis.Redis.from_url(info["redis_url"])
        connection.flushdb()  # also releases the claim
        connection.close()
    if base_db:
        _drop_postgres_database(base_db, info["database_url"])  # FORCE closes the app's pooled connections


def make_test_app(backend: dict, **overrides):
    from app import create_app
    from app.config import TestConfig

    config = {
        key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()
    }
    config.update(
        SQLALCHEMY_DATABASE_URI=backend["database_url"],
        REDIS_URL=backend["redis_url"],
        STORAGE_DIR=str(backend["tmp"] / "storage"),
        PASSWORD_HASH_PROFILE="CHEAPEST",  # argon2 at production cost is ~0.2 s per sign-in
    )
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def app(backend):
    from flask_migrate import upgrade

    application = make_test_app(backend)
    with application.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return application


def _table_names(application) -> list[str]:
    from app.extensions import db

    return [t.name for t in reversed(db.metadata.sorted_tables)]


def clean_database(application) -> None:
    """Empty every table. Retried: a worker process may briefly hold a lock on a row."""
    from app.extensions import db

    with application.app_context():
        db.session.remove()
        tables = _table_names(application)
        for attempt in range(5):
            try:
                with db.engine.begin() as conn:
                    _empty_tables(conn, tables)
                return
            except sa.exc.OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))


def _empty_tables(conn, tables: list[str]) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
        if not conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            return
        # DELETE + resetting the sequences: ~1 ms on these small tables, where TRUNCATE
        # takes 150-450 ms (new files for every table), once per test.
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # no FK checks while emptying
        for table in tables:
            conn.execute(sa.text(f'DELETE FROM "{table}"'))
        conn.execute(sa.text("SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n "
                             "ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'public'"))
        return
    # Not `PRAGMA foreign_keys=OFF`/`ON`: pysqlite runs the OFF before its BEGIN (it applies) and the ON
    # inside the transaction (a no-op), leaving the pooled connection without foreign keys for later tests.
    # Deferred checks end with this transaction by themselves.
    conn.execute(sa.text("PRAGMA defer_foreign_keys=ON"))
    for table in tables:
        conn.execute(sa.text(f'DELETE FROM "{table}"'))
    if conn.execute(sa.text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first():
        conn.execute(sa.text("DELETE FROM sqlite_sequence"))


@pytest.fixture(autouse=True)
def _clean_state(request, backend):
    yield
    if "app" in request.fixturenames:
        application = request.getfixturevalue("app")
        clean_database(application)
        with application.app_context():
            connection = application.extensions["cairn_redis"]
            connection.flushdb()
            if backend["redis"]:
                _reclaim_redis(connection)


@pytest.fixture()
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture()
def db_session(app_ctx):
    from app.extensions import db

    yield db.session
    db.session.rollback()
    db.session.remove()


@pytest.fixture()
def client(app):
    return app.test_client()


# --------------------------------------------------------------------------- jobs
@pytest.fixture()
def run_jobs(app, backend):
    """Run queued jobs to completion.

    Embedded backend: in this thread. Redis backend: wait for the real worker
    process (the `worker_process` fixture) to finish them.
    """
    from app.platform.jobs import run_embedded_jobs

    def _run(timeout: float = 30.0) -> None:
        if not backend["redis"]:
            run_embedded_jobs(app)
            return
        from rq import Queue
        from rq.registry import StartedJobRegistry

        connection = app.extensions["cairn_redis"]
        deadline = time.time() + timeout
        idle_polls = 0
        while time.time() < deadline:
            busy = 0
            for name in app.config["RQ_QUEUES"]:
                queue = Queue(name, connection=connection)
                # A job the worker has taken sits in the intermediate list until it is registered as started.
                busy += queue.count + connection.llen(queue.intermediate_queue_key)
                busy += StartedJobRegistry(name, connection=connection).count
            # Idle twice in a row: a job popped by a multi-queue worker is briefly in no list at all.
            idle_polls = idle_polls + 1 if busy == 0 else 0
            if idle_polls >= 2:
                return
            time.sleep(0.1)
        raise AssertionError("jobs did not finish in time")

    if backend["redis"]:
        request_worker = _worker_for(app, backend)
        assert request_worker.poll() is None, "worker process died"
    return _run


@pytest.fixture()
def held_jobs(app, backend, run_jobs, monkeypatch):
    """Like `run_jobs`, but what this test process enqueues waits until the test calls the returned function.

    For tests that look at a job's row and page before it runs ("pending", the polling panel). With the
    embedded queue nothing runs before `run_jobs()` anyway; with Redis a real worker is already waiting, and
    a reused work-horse starts a job within milliseconds of the request that queued it. Here the test
    process's jobs go to "held-<queue>" queues no worker listens to, and each call moves them to their real
    queues, then waits for them like `run_jobs` (jobs the worker itself enqueues are not held).
    """
    if not backend["redis"]:
        return run_jobs
    from rq import Queue

    from app.platform import jobs

    real_get_queue = jobs.get_queue
    held_names: set[str] = set()

    def holding_queue(name: str = "default") -> Queue:
        held_names.add(name)
        return real_get_queue(f"held-{name}")

    monkeypatch.setattr(jobs, "get_queue", holding_queue)

    def release(timeout: float = 30.0) -> None:
        with app.app_context():
            for name in sorted(held_names):
                held, real = real_get_queue(f"held-{name}"), real_get_queue(name)
                for job in held.get_jobs():
                    real.enqueue_job(job)
                held.connection.delete(held.key)
        run_jobs(timeout)

    return release


_WORKERS: dict[str, subprocess.Popen] = {}


def worker_env(backend: dict, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(
        FLASK_APP="wsgi.py",
        DATABASE_URL=backend["database_url"],
        REDIS_URL=backend["redis_url"],
        STORAGE_DIR=str(backend["tmp"] / "storage"),
        SECRET_KEY="test-secret",
        JOB_MONITORING_INTERVAL="1",
        PERIODIC_TICK_SECONDS="3600",
        USAGE_LOG_ENABLED="false",
        PYTHONPATH=str(ROOT),
        # Job kinds the jobs tests submit; the worker must know them too.
        CAIRN_EXTRA_JOB_MODULES="tests.platform.sample_jobs",
    )
    env.update(extra)
    return env


def start_worker(backend: dict, *, beat: bool = False, **extra: str) -> subprocess.Popen:
    """Start a real `flask worker` process (its own process group, so tests can kill it and its horse).

    Without `beat` the worker enqueues no periodic tasks: a reconcile run at
    worker start would dispatch rows a test deliberately left waiting.
    """
    log = open(backend["tmp"] / f"worker-{time.time_ns()}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "worker"] + ([] if beat else ["--no-beat"]),
        cwd=ROOT,
        env=worker_env(backend, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()  # the child has its own descriptor
    time.sleep(1.5)
    return proc


@pytest.fixture()
def private_redis(app, backend):
    """A redis-server of the test's own on a free port (no persistence), so it can kill and restart it."""
    from tests.platform.sample_jobs import PrivateRedis  # imported here: the module registers a test job kind

    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = PrivateRedis(backend["tmp"]).start()
    yield server
    server.kill()


@pytest.fixture()
def workers(backend, private_redis):
    """Start `flask worker` processes against the private Redis; all stopped (horses too) at the end."""
    from tests.platform.sample_jobs import stop_process

    started = []

    def _start(beat: bool = False, **env: str):
        proc = start_worker(backend, beat=beat, **{"REDIS_URL": private_redis.url, **env})
        started.append(proc)
        assert proc.poll() is None, "the worker exited at start"
        return proc

    yield _start
    for proc in started:
        stop_process(proc)


@pytest.fixture()
def app_on_private_redis(backend, private_redis):
    """A second app (same database) whose queue is the private Redis: `app_on_private_redis(**config)`."""
    from tests.platform.sample_jobs import dispose_app

    made = []

    def _make(**config):
        made.append(make_test_app(backend, REDIS_URL=private_redis.url, JOB_RECONCILE_GRACE_SECONDS=0, **config))
        return made[-1]

    yield _make
    for app in made:
        dispose_app(app)


def _worker_for(app, backend) -> subprocess.Popen:
    proc = _WORKERS.get("main")
    if proc is None or proc.poll() is not None:
        proc = start_worker(backend)
        _WORKERS["main"] = proc
    return proc


def pytest_sessionfinish(session, exitstatus):
    for proc in _WORKERS.values():
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


# --------------------------------------------------------------------------- people
PASSWORD = "correct-horse-battery"


@pytest.fixture()
def make_org(app_ctx):
    from tests.factories import make_organization

    return make_organization


@pytest.fixture()
def make_user(app_ctx):
    from tests.factories import make_member

    return make_member


@pytest.fixture()
def org(make_org):
    return make_org("Acme")


@pytest.fixture()
def admin(make_user, org):
    return make_user(org, "admin", "admin@acme.example.com")


@pytest.fixture()
def auth(client, app):
    from tests.helpers import Auth

    return Auth(client)

"""A job kind used only by the jobs tests, and helpers to drive it.

The test process imports this module; worker processes import it through
CAIRN_EXTRA_JOB_MODULES (set by `tests.conftest.worker_env`), so both know
the kind. The handler's behaviour comes from the task's params:

- ``mode``: "ok" (default), "job_error" (raises JobError with ``message``)
  or "crash" (raises ValueError with an internal detail users must not see);
- ``gate``: report 50 % "Waiting at the gate", then wait until the test opens
  the gate (`open_gate`), so a test can watch the row while it runs;
- ``sleep``: seconds to work, reporting progress every 0.2 s (a slow job);
- ``mode`` "transient": the first ``transient_times`` runs (default 1) raise a lost-connection
  OperationalError (the platform retries it);
- ``db_sleep``: on its first ``db_sleep_times`` runs (default 1), report 30 % "In the database" and then
  hold a statement in the database (``SELECT pg_sleep(db_sleep)``, marked with `db_sleep_marker`), so a
  test can cut that connection at a known point (PostgreSQL only);
- ``session_lock``: take a session-level advisory lock with this key and keep it (PostgreSQL);
  ``exit_in_transaction``: open a transaction and end the work-horse there (``os._exit``), as a kill would;
  ``report_backend``: the result has the server process the job ran on (``backend_pid``; all three
  PostgreSQL only);
- ``file_lines`` (and ``line_pause``): write a storage file of that many numbered lines
  (`sample_file_path`), atomically, reporting progress per line when paused.
- ``prepared_on_second_connection``: run one statement 8 times on the session's connection and on a second
  pooled one, which psycopg then prepares on the server (the worker's lent connection excepted: PostgreSQL);
- ``report_pid``: the result has the work-horse's process id (``horse_pid``);
- ``grow_mb``: keep that many MB alive in the work-horse after the job (a leak), for the horse's memory bound.

Every run counts itself in Redis (`calls`), so a test can prove a row ran once.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from app.extensions import db
from app.platform.jobs import BackgroundTask, JobError, JobKind, get_connection, job_submit, register_job_kind

SAMPLE = "test_sample"
INTERNAL_DETAIL = "secret internal detail 42"
_LEAKED: list[bytes] = []  # what `grow_mb` jobs keep alive in their work-horse


def calls_key(row_id: int) -> str:
    return f"cairn-test:calls:{row_id}"


def gate_key(row_id: int) -> str:
    return f"cairn-test:gate:{row_id}"


def _sample_handler(task: BackgroundTask, progress) -> dict:
    params = dict(task.params or {})
    connection = get_connection()
    calls = int(connection.incr(calls_key(task.id)))
    progress(10, "Started")
    if params.get("gate"):
        progress(50, "Waiting at the gate")
        deadline = time.time() + float(params.get("gate_timeout", 30))
        while not connection.get(gate_key(task.id)):
            if time.time() > deadline:
                raise JobError("The test gate never opened.")
            time.sleep(0.05)
    sleep = float(params.get("sleep", 0))
    started = time.time()
    while time.time() - started < sleep:
        time.sleep(0.2)
        progress(min(99, 10 + 89 * (time.time() - started) / sleep), "Working slowly")
    if params.get("db_sleep") and calls <= int(params.get("db_sleep_times", 1)):
        import sqlalchemy as sa

        progress(30, "In the database")
        db.session.execute(sa.text(f"SELECT pg_sleep(:seconds) /* {db_sleep_marker(task.id)} */"),
                           {"seconds": float(params["db_sleep"])})
    backend_pid = None
    if params.get("report_backend") or params.get("session_lock") or params.get("exit_in_transaction"):
        import sqlalchemy as sa

        backend_pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        if params.get("session_lock"):
            db.session.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": int(params["session_lock"])})
        if params.get("exit_in_transaction"):
            os._exit(3)
    if params.get("prepared_on_second_connection"):
        import sqlalchemy as sa

        statement = sa.text("SELECT CAST(:n AS integer) + 1")
        with db.engine.connect() as other:  # the session holds one connection: this is another
            for number in range(8):  # past psycopg's prepare_threshold (5), on both connections
                db.session.scalar(statement, {"n": number})
                other.execute(statement, {"n": number}).scalar()
    mode = params.get("mode", "ok")
    if mode == "transient" and calls <= int(params.get("transient_times", 1)):
        import sqlalchemy as sa

        raise sa.exc.OperationalError("UPDATE background_tasks ...", {},
                                      ConnectionError("server closed the connection unexpectedly"))
    if params.get("file_lines"):
        _write_sample_file(task, progress, int(params["file_lines"]), float(params.get("line_pause", 0)))
    if mode == "job_error":
        raise JobError(params.get("message", "The sample job refused: bad input."))
    if mode == "crash":
        raise ValueError(INTERNAL_DETAIL)
    task.result = {"calls": calls, "answer": 42}
    if backend_pid is not None:
        task.result["backend_pid"] = backend_pid
    if params.get("report_pid"):
        task.result["horse_pid"] = os.getpid()
    if params.get("grow_mb"):
        _LEAKED.append(b"x" * (int(params["grow_mb"]) * 1024 * 1024))  # written, so resident
    return task.result


def db_sleep_marker(task_id: int) -> str:
    return f"cairn-test-db-sleep-{task_id}"


def sample_file_path(task_id: int) -> str:
    return f"test-sample/{task_id}.txt"


def _write_sample_file(task: BackgroundTask, progress, lines: int, pause: float) -> None:
    """A file of `lines` numbered lines, written atomically with progress as it goes (killable halfway)."""
    from app.platform import storage

    with storage.atomic_write(sample_file_path(task.id)) as handle:
        for number in range(lines):
            handle.write(f"line {number}\n".encode())
            if pause:
                handle.flush()
                time.sleep(pause)
                progress(10 + 80 * number // lines, f"{number} of {lines} lines")


register_job_kind(JobKind(SAMPLE, BackgroundTask, _sample_handler, title=lambda t: t.title or "Sample job"))


# --------------------------------------------------------------------------- helpers for tests
def new_task(organization, *, status: str = "queued", **params) -> BackgroundTask:
    """A sample row committed as-is (not submitted: no job id, nothing enqueued)."""
    task = BackgroundTask(organization_id=organization.id, kind=SAMPLE, title="Sample job", params=params,
                          status=status)
    db.session.add(task)
    db.session.commit()
    return task


def submit(organization, **params) -> BackgroundTask:
    """A sample row submitted the way services do (`job_submit`)."""
    task = BackgroundTask(organization_id=organization.id, kind=SAMPLE, title="Sample job", params=params)
    return job_submit(task)


def open_gate(row_id: int) -> None:
    get_connection().set(gate_key(row_id), "1")


def calls(row_id: int) -> int:
    return int(get_connection().get(calls_key(row_id)) or 0)


def fresh(row_id: int, model=BackgroundTask):
    """The row as the database has it now (ends the session's transaction first)."""
    db.session.rollback()
    return db.session.get(model, row_id, populate_existing=True)


def wait_for_row(row_id: int, predicate, *, timeout: float = 20.0, what: str = "", model=BackgroundTask):
    """Poll the row until `predicate(row)` holds; fail with the last state seen."""
    deadline = time.time() + timeout
    while True:
        row = fresh(row_id, model)
        if predicate(row):
            return row
        if time.time() > deadline:
            raise AssertionError(f"row #{row_id} never became {what or 'as expected'}: status={row.status} "
                                 f"progress={row.progress} message={row.progress_message!r} "
                                 f"error={row.error_message!r}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- processes and apps
def dispose_app(app) -> None:
    """Close what an extra test app holds: its database pool and its Redis connections."""
    with app.app_context():
        db.engine.dispose()
    app.extensions["cairn_redis"].close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own (no persistence), so a test can kill and restart it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.time() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not start")
                time.sleep(0.05)
            finally:
                client.close()
        return self

    def kill(self) -> None:
        """SIGKILL, like a crash: without persistence everything in it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children first), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def work_horses(worker_pid: int) -> list[int]:
    """The worker's forked work-horses: children that lead their own process group (`os.setpgrp`)."""
    horses = []
    for child in descendants(worker_pid):
        try:
            if os.getpgid(child) == child:
                horses.append(child)
        except ProcessLookupError:
            pass
    return horses


def kill_now(*pids: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a worker started in its own session (`start_worker`), its horse and scheduler too."""
    if proc.poll() is None:
        pids = descendants(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            kill_now(proc.pid)
            proc.wait(5)
        kill_now(*[p for p in pids if _alive(p)])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --------------------------------------------------------------------------- a job that does nothing
NOOP = "test_noop"


def _noop_handler(task: BackgroundTask, progress) -> None:
    """No work at all: what is left of a run is the platform's bookkeeping (statement counts, bench/jobs.py)."""


register_job_kind(JobKind(NOOP, BackgroundTask, _noop_handler, title=lambda t: "No-op job"))


def submit_noop(organization_id: int) -> BackgroundTask:
    return job_submit(BackgroundTask(organization_id=organization_id, kind=NOOP, title="No-op", params={}))


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temp dir, run as the `postgres` user), so a test may restart it.

    Never the shared server: other test runs use that one.
    """

    def __init__(self) -> None:
        import glob
        import tempfile

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        self.bin = Path(bins[-1]) if bins else None
        self.directory = Path(tempfile.mkdtemp(prefix="cairn-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def available() -> bool:
        import glob
        import shutil

        return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")) and shutil.which("runuser") is not None \
            and os.geteuid() == 0

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)

    def start(self) -> "PrivatePostgres":
        import shutil

        shutil.chown(self.directory, "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8")
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                          str(self.directory / "log"), "-w", action, *extra)

    def restart(self) -> None:
        """A fast restart: every connection is cut (SQLSTATE 57P01), the server is back in about a second."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        import shutil

        try:
            self._pg_ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)

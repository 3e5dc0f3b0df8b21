"""A forking worker whose work-horse serves many jobs, one at a time, before it is replaced.

RQ's `Worker` forks a work-horse per job. For Cairn's short jobs that fork was
most of the cost: the horse is a copy of a large process, and everything it
touches for the first time is copied page by page (about 5,000 copy-on-write
faults per job), it opens its own database connection (SQLite parses the
schema again on each new connection), and RQ re-reads nothing it could keep.
Here the worker forks a horse when it needs one and keeps it: the horse waits
on a pipe for the next job's id, runs it with RQ's own `perform_job` (so RQ's
registries, results, retries and callbacks are untouched), and reports "done"
on a second pipe. What does not change is the isolation a fork gives: the job
still runs in another process, in its own process group, and the worker
watches it the way RQ does (heartbeats, the job's time limit, stop-job
commands). A horse that dies mid-job (kill -9, the OOM killer, a crash) fails
only that job; the worker records it exactly as RQ records a dead horse, and
forks a new one for the next job.

What a long-lived horse could carry from one job to the next is bounded:

- it is replaced after `max_jobs` jobs (`JOB_HORSE_MAX_JOBS`; 1 is RQ's
  fork-per-job behaviour), after any job that failed (its state is suspect), and
  once its resident memory has grown by `max_growth_kb` since it started
  (`JOB_HORSE_MAX_GROWTH_MB`: a large export's memory goes back to the system);
- on PostgreSQL, what a job may leave in its database session (advisory locks,
  cursors, LISTENs, temporary tables) is dropped after every job, as a new
  connection would not have it (`SessionReset`);
- each job still runs in a fresh app context and database session.

A horse ends on its own when its worker goes away (the command pipe closes, or
its parent changes), so a killed worker leaves no idle horse behind; a horse
busy with a job when its worker dies finishes that job first, as RQ's does.
"""
from __future__ import annotations

import logging
import os
import random
import select
import signal
import time
from typing import Any

from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue

log = logging.getLogger("cairn.jobs")

DONE_KEEP_GOING = b"+"
DONE_LAST = b"."
ORPHAN_CHECK_SECONDS = 5.0


def resident_kb() -> int:
    """This process's resident set size in KiB (Linux: /proc/self/statm), 0 where unknown."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


class SessionReset:
    """PostgreSQL, in a long-lived horse: drop what a job left in the sessions it used.

    The pool's `checkout` event records each connection a job took; after the job
    each one that is idle gets one round trip that releases session advisory
    locks, closes cursors, stops LISTENs and drops temporary tables, so the next
    job starts as it would on a fresh connection. A connection that is not idle
    (a job that returned inside a transaction) is closed and dropped from the
    pool instead. Prepared statements stay: psycopg prepares its own (`_pg3_N`)
    and keeps a list of them on the connection; a DEALLOCATE ALL behind its back
    made the next job's statement fail with "prepared statement does not exist".
    """

    STATEMENT = b"SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; DISCARD TEMP"

    def __init__(self, engine) -> None:
        import sqlalchemy as sa

        self.used: dict[int, Any] = {}
        sa.event.listen(engine, "checkout", self._checked_out)

    def _checked_out(self, dbapi_connection, connection_record, connection_proxy) -> None:
        self.used[id(dbapi_connection)] = (dbapi_connection, connection_record)

    def after_job(self) -> None:
        from psycopg import pq

        used, self.used = list(self.used.values()), {}
        for connection, record in used:
            try:
                if connection.closed:
                    continue
                pgconn = connection.pgconn
                if pgconn.transaction_status == pq.TransactionStatus.IDLE:
                    result = pgconn.exec_(self.STATEMENT)
                    if result.status == pq.ExecStatus.COMMAND_OK \
                            and pgconn.transaction_status == pq.TransactionStatus.IDLE:
                        continue
                record.invalidate()  # not clean: the pool opens a new one when it is next needed
            except Exception:
                try:
                    record.invalidate()
                except Exception:
                    pass


class HorseLink:
    """The worker's end of one long-lived horse: its pid and the two pipes."""

    def __init__(self, pid: int, commands: int, reports: int) -> None:
        self.pid = pid
        self.commands = commands  # worker writes "job id, queue, execution id" lines
        self.reports = reports  # horse writes one byte per finished job
        self.busy = False

    def send(self, job: Job, queue: Queue, execution_id: str) -> bool:
        line = f"{job.id}\t{queue.name}\t{execution_id}\n".encode()
        try:
            os.write(self.commands, line)  # far below PIPE_BUF: one atomic write
        except OSError:  # EPIPE: the horse died while idle
            return False
        self.busy = True
        return True

    def read_report(self) -> bytes:
        """Block until the horse reports (b"" if it exited first). RQ's monitor interrupts it with an exception
        from its SIGALRM handler every job_monitoring_interval, to send heartbeats, then calls it again."""
        return os.read(self.reports, 1)

    def close(self) -> None:
        for fd in (self.commands, self.reports):
            try:
                os.close(fd)
            except OSError:
                pass


class ReusedHorseMixin:
    """Mixed into an RQ `Worker`: see the module docstring. `max_jobs <= 1` keeps RQ's fork per job."""

    horse_max_jobs: int = 1
    horse_max_growth_kb: int = 0
    _horse_link: HorseLink | None = None

    # -- hooks for the worker class that mixes this in ----------------------------------------------
    def before_horse_fork(self) -> None:
        """In the worker, just before a horse is forked."""

    def after_horse_fork(self) -> None:
        """In the worker, just after a horse was forked."""

    def after_horse_gone(self) -> None:
        """In the worker, after a horse ended and was reaped."""

    def horse_started(self) -> None:
        """In a new horse, before its first job."""

    def horse_after_job(self) -> None:
        """In a horse that goes on to another job: reset what a job may leave behind."""

    def horse_ending(self) -> None:
        """In a horse that ends normally, last thing before it exits."""

    # -- in the worker -------------------------------------------------------------------------------
    @property
    def reuses_horses(self) -> bool:
        return self.horse_max_jobs > 1

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        finally:
            if not self.reuses_horses:
                self.after_horse_gone()  # RQ's monitor reaped this job's horse (a reused one: _reap_horse)

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        if not self.reuses_horses:
            self.before_horse_fork()
            super().fork_work_horse(job, queue)  # the horse never returns from here (os._exit)
            self.after_horse_fork()
            return
        os.environ["RQ_WORKER_ID"] = self.name
        os.environ["RQ_JOB_ID"] = job.id
        execution_id = self.execution.id
        link = self._horse_link
        if link is not None and not link.send(job, queue, execution_id):
            self._reap_horse(link)  # it died while idle: a new one takes the job
            link = None
        if link is None:
            link = self._fork_reused_horse()
            link.send(job, queue, execution_id)  # if it died already, the monitor finds it gone
        self._horse_pid = link.pid
        self.procline(f"Sent job {job.id} to horse {link.pid}")

    def _fork_reused_horse(self) -> HorseLink:
        self.before_horse_fork()
        command_read, command_write = os.pipe()
        report_read, report_write = os.pipe()
        child_pid = os.fork()
        if child_pid == 0:
            os.close(command_write)
            os.close(report_read)
            os.setpgrp()
            try:
                self._serve_jobs(command_read, report_write)
            finally:
                os._exit(1)  # _serve_jobs exits by itself; anything else is a failure
        os.close(command_read)
        os.close(report_write)
        self.after_horse_fork()
        self._horse_link = HorseLink(child_pid, command_write, report_read)
        return self._horse_link

    def wait_for_horse(self):
        link = self._horse_link
        if not self.reuses_horses or link is None or link.pid != self.horse_pid or not link.busy:
            return super().wait_for_horse()
        report = link.read_report()
        link.busy = False
        if report == DONE_KEEP_GOING:
            return link.pid, 0, None
        pid, status, rusage = self._reap_horse(link)
        if report == DONE_LAST:
            return pid, 0, rusage
        # It ended without reporting: killed, crashed or `os._exit` inside the job. An exit status of 0
        # would read as success to RQ's monitor, so say what it is: a horse that died mid-job.
        return pid, status if status else 1 << 8, rusage

    def _reap_horse(self, link: HorseLink) -> tuple[Any, Any, Any]:
        link.close()
        if self._horse_link is link:
            self._horse_link = None
        pid = status = rusage = None
        try:
            pid, status, rusage = os.wait4(link.pid, 0)
        except ChildProcessError:
            pass
        self.after_horse_gone()
        return pid, status, rusage

    def retire_horse(self, *, wait_seconds: float = 5.0) -> None:
        """The worker stops: an idle horse exits at once; a busy one (Redis went away mid-job) finishes first."""
        link = self._horse_link
        if link is None:
            return
        self._horse_link = None
        link.close()  # the horse reads end-of-file and exits once its job (if any) is done
        if link.busy:
            return  # not ours to wait for: `run_worker` reaps it later, like RQ's orphaned horses
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                pid, _status = os.waitpid(link.pid, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                break
            if time.monotonic() > deadline:
                try:
                    os.killpg(link.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    os.waitpid(link.pid, 0)
                except ChildProcessError:
                    pass
                break
            time.sleep(0.01)
        self.after_horse_gone()

    # -- in the horse --------------------------------------------------------------------------------
    def _serve_jobs(self, commands: int, reports: int) -> None:
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        from rq.worker.base import logger

        self.log = logger
        parent = os.getppid()
        buffered = b""
        served = 0
        try:
            self.horse_started()
        except Exception:
            os._exit(1)
        start_kb = resident_kb()
        while True:
            line, buffered = self._next_command(commands, buffered, parent)
            if line is None:
                break
            try:
                job_id, queue_name, execution_id = line.decode().split("\t")
                os.environ["RQ_JOB_ID"] = job_id
                job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
                queue = self.queue_class(queue_name, connection=self.connection, job_class=self.job_class,
                                         serializer=self.serializer)
                self.execution = Execution.fetch(execution_id, job_id, connection=self.connection)
                succeeded = self.perform_job(job, queue)
            except BaseException:
                os._exit(1)  # as RQ's horse: the worker sees a dead horse and fails the job
            served += 1
            last = (not succeeded or served >= self.horse_max_jobs or os.getppid() != parent
                    or (self.horse_max_growth_kb and resident_kb() - start_kb > self.horse_max_growth_kb))
            if not last:
                try:
                    self.horse_after_job()
                except Exception:
                    last = True
            try:
                os.write(reports, DONE_LAST if last else DONE_KEEP_GOING)
            except OSError:
                break  # the worker is gone
            if last:
                break
        try:
            self.horse_ending()
        finally:
            os._exit(0)

    @staticmethod
    def _next_command(commands: int, buffered: bytes, parent: int) -> tuple[bytes | None, bytes]:
        """The next line from the worker; None when the pipe closed or the worker is gone."""
        while b"\n" not in buffered:  # (Python retries select and read after a signal by itself: PEP 475)
            ready, _, _ = select.select([commands], [], [], ORPHAN_CHECK_SECONDS)
            if not ready:
                if os.getppid() != parent:
                    return None, b""
                continue
            try:
                chunk = os.read(commands, 4096)
            except OSError:
                return None, b""
            if not chunk:
                return None, b""
            buffered += chunk
        line, _, rest = buffered.partition(b"\n")
        return line, rest

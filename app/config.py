"""Configuration read from the environment (a `.env` file is honoured).

Every setting has a default that works on a bare machine: SQLite under
`instance/`, jobs on an embedded in-process queue, mail written to the log.
"""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")


def _env_bool(name: str, default: bool | None) -> bool | None:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres://"):
        # Heroku-style URLs; SQLAlchemy wants the explicit driver name.
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url or f"sqlite:///{BASE_DIR / 'instance' / 'cairn.sqlite3'}"


# The key `make run` uses on a development machine. It is public (it is in this file), so
# `check_secret_key` refuses to start anywhere else with it, or with no key at all.
DEVELOPMENT_SECRET_KEY = "dev-only-change-me"
KNOWN_PUBLIC_KEYS = frozenset({DEVELOPMENT_SECRET_KEY, "", "changeme", "change-me", "secret", "dev", "development"})


def is_development() -> bool:
    """`make run` (CAIRN_ENV=development) or a Flask debug run; never gunicorn in production."""
    return os.environ.get("CAIRN_ENV", "").strip().lower() in {"development", "dev", "test"}


class InsecureSecretKey(RuntimeError):
    pass


def check_secret_key(app) -> None:
    """Refuse to start outside development and tests without a real SECRET_KEY.

    The key signs sessions, CSRF tokens and download links and encrypts push tokens: with the
    public default anyone could forge them. Development may fall back to the public default.
    """
    key = app.config.get("SECRET_KEY") or ""
    if app.testing or app.debug or is_development():
        if not key:
            app.config["SECRET_KEY"] = DEVELOPMENT_SECRET_KEY
        return
    if key.strip().lower() in KNOWN_PUBLIC_KEYS:
        raise InsecureSecretKey(
            "SECRET_KEY is not set (or is a public placeholder). Set it to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`, or set CAIRN_ENV=development "
            "on a development machine.")


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Empty means "no Redis": jobs run on the embedded queue inside the web process.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    RQ_QUEUES = ["default", "mail"]
    JOB_TIMEOUT_SECONDS = _env_int("JOB_TIMEOUT_SECONDS", 600)
    # A running job whose RQ heartbeat (written by its worker every JOB_MONITORING_INTERVAL) is older than
    # this is dead; with the reconciler every JOB_RECONCILE_INTERVAL_SECONDS a killed worker's row fails
    # within about 30 s.
    JOB_STALE_AFTER_SECONDS = _env_int("JOB_STALE_AFTER_SECONDS", 15)
    JOB_MONITORING_INTERVAL = _env_int("JOB_MONITORING_INTERVAL", 5)
    JOB_RECONCILE_INTERVAL_SECONDS = _env_int("JOB_RECONCILE_INTERVAL_SECONDS", 10)
    # A running row whose job vanished from Redis (restart without persistence) is re-queued once its
    # progress has been silent this long (handlers report progress more often than this).
    JOB_SILENT_AFTER_SECONDS = _env_int("JOB_SILENT_AFTER_SECONDS", 150)
    # Queued/running rows younger than this are left alone by the reconciler.
    JOB_RECONCILE_GRACE_SECONDS = _env_int("JOB_RECONCILE_GRACE_SECONDS", 10)
    JOB_MAX_ATTEMPTS = _env_int("JOB_MAX_ATTEMPTS", 3)
    # A job that failed on a transient database error (connection lost, serialization failure, deadlock)
    # runs again after 2, 4, 8... seconds; its worker waits up to JOB_TRANSIENT_WAIT_SECONDS for the
    # database to come back to record that on the row.
    JOB_RETRY_BACKOFF_SECONDS = _env_int("JOB_RETRY_BACKOFF_SECONDS", 2)
    JOB_TRANSIENT_WAIT_SECONDS = _env_int("JOB_TRANSIENT_WAIT_SECONDS", 60)
    # The forking worker prepares once what each work-horse would redo (compiled SQL) and, on PostgreSQL,
    # lends its work-horses one database connection in turn (platform/jobs.py ConnectionHandoff).
    # 0 turns both off (each horse connects and compiles by itself); bench/jobs.py measures both ways.
    JOB_WORKER_WARM_START = os.environ.get("JOB_WORKER_WARM_START", "1") != "0"
    # A work-horse serves up to this many jobs, one at a time, before the worker forks a new one
    # (platform/reused_horse.py); it is also replaced after a failed job and once its memory has grown by
    # JOB_HORSE_MAX_GROWTH_MB. 1 forks a horse per job, as RQ's own worker does.
    JOB_HORSE_MAX_JOBS = _env_int("JOB_HORSE_MAX_JOBS", 100)
    JOB_HORSE_MAX_GROWTH_MB = _env_int("JOB_HORSE_MAX_GROWTH_MB", 256)
    # Every Redis client gives up on a server that accepts but doesn't answer (a hung or overloaded Redis, a
    # half-open connection) instead of hanging the request: connect and reply within these many seconds, and
    # a connection idle for REDIS_HEALTH_CHECK_INTERVAL is PINGed before use. The worker's own client, which
    # blocks in BLPOP for up to (WORKER_TTL_SECONDS - 15) s between jobs, waits that long plus 10 s (RQ's rule).
    REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "5"))
    REDIS_SOCKET_CONNECT_TIMEOUT = float(os.environ.get("REDIS_SOCKET_CONNECT_TIMEOUT", "5"))
    REDIS_HEALTH_CHECK_INTERVAL = _env_int("REDIS_HEALTH_CHECK_INTERVAL", 30)
    # RQ's worker key lives this long without a heartbeat; RQ waits for a job (BLPOP) TTL - 15 s at a time.
    WORKER_TTL_SECONDS = _env_int("WORKER_TTL_SECONDS", 60)
    # A worker process announces itself this often; none heard for WORKER_ALIVE_SECONDS means "no worker".
    WORKER_HEARTBEAT_SECONDS = _env_int("WORKER_HEARTBEAT_SECONDS", 5)
    WORKER_ALIVE_SECONDS = _env_int("WORKER_ALIVE_SECONDS", 20)
    PERIODIC_TICK_SECONDS = _env_int("PERIODIC_TICK_SECONDS", 5)
    # Work files (XlsxWriter's temp files, git checkouts, archive staging) live under STORAGE_DIR/tmp;
    # the hourly sweep removes those older than this (a killed job's leftovers).
    WORK_DIR_MAX_AGE_SECONDS = _env_int("WORK_DIR_MAX_AGE_SECONDS", 3600)
    STORAGE_DIR = os.environ.get("STORAGE_DIR", str(BASE_DIR / "instance" / "storage"))
    DOWNLOAD_LINK_MAX_AGE = _env_int("DOWNLOAD_LINK_MAX_AGE", 3600)

    # Sessions: server-side rows (accounts.UserSession) make logout and role changes final.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Unset (None): Secure everywhere but development and tests (platform.security.init_app decides);
    # SESSION_COOKIE_SECURE=false only for a deployment that really serves plain http.
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", None)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = _env_int("REMEMBER_DAYS", 14) * 86400
    SESSION_IDLE_TIMEOUT = _env_int("SESSION_IDLE_MINUTES", 120) * 60
    SESSION_ABSOLUTE_TIMEOUT = _env_int("SESSION_ABSOLUTE_HOURS", 12) * 3600
    REMEMBERED_SESSION_IDLE_TIMEOUT = _env_int("REMEMBER_DAYS", 14) * 86400
    REMEMBERED_SESSION_ABSOLUTE_TIMEOUT = _env_int("REMEMBER_ABSOLUTE_DAYS", 30) * 86400
    # Sign-in backoff per (account, client address) pair: after LOGIN_FREE_FAILURES failures the pair
    # waits BASE seconds before its next try, doubling with each failure up to MAX; forgotten after MEMORY.
    LOGIN_FREE_FAILURES = _env_int("LOGIN_FREE_FAILURES", 3)
    LOGIN_BACKOFF_BASE_SECONDS = _env_int("LOGIN_BACKOFF_BASE_SECONDS", 2)
    LOGIN_BACKOFF_MAX_SECONDS = _env_int("LOGIN_BACKOFF_MAX_SECONDS", 900)
    LOGIN_FAILURE_MEMORY_SECONDS = _env_int("LOGIN_FAILURE_MEMORY_SECONDS", 86400)
    INVITATION_DAYS = _env_int("INVITATION_DAYS", 7)
    PASSWORD_MIN_LENGTH = 12
    # How long the Undo in a delete's flash message works (platform/undo.py).
    UNDO_SECONDS = _env_int("UNDO_SECONDS", 600)
    # Password reset links: valid this long; requests allowed per address and per client IP per window.
    PASSWORD_RESET_MAX_AGE_SECONDS = _env_int("PASSWORD_RESET_MAX_AGE_SECONDS", 3600)
    PASSWORD_RESET_MAX_PER_ADDRESS = _env_int("PASSWORD_RESET_MAX_PER_ADDRESS", 3)
    PASSWORD_RESET_MAX_PER_IP = _env_int("PASSWORD_RESET_MAX_PER_IP", 20)
    PASSWORD_RESET_WINDOW_SECONDS = _env_int("PASSWORD_RESET_WINDOW_SECONDS", 3600)
    # argon2.profiles name; tests use CHEAPEST, production the RFC 9106 low-memory profile.
    PASSWORD_HASH_PROFILE = os.environ.get("PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY")
    # Behind a reverse proxy, trust this many X-Forwarded-* hops (client IP for sign-in throttling, https).
    PROXY_FIX_HOPS = _env_int("PROXY_FIX_HOPS", 0)

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    MAX_CONTENT_LENGTH = _env_int("MAX_UPLOAD_MB", 50) * 1024 * 1024

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Cairn <no-reply@cairn.localhost>")
    # The outbox: a message that fails is tried again after BASE, 2*BASE, 4*BASE... seconds (at most an hour
    # apart), MAX_ATTEMPTS times in all; one "sending" longer than SENDING_STALE (its worker died) is retried.
    MAIL_MAX_ATTEMPTS = _env_int("MAIL_MAX_ATTEMPTS", 8)
    MAIL_RETRY_BASE_SECONDS = _env_int("MAIL_RETRY_BASE_SECONDS", 30)
    MAIL_SENDING_STALE_SECONDS = _env_int("MAIL_SENDING_STALE_SECONDS", 300)

    # How long a create form's idempotency key answers a repeat with the first result.
    IDEMPOTENCY_KEY_HOURS = _env_int("IDEMPOTENCY_KEY_HOURS", 24)
    USAGE_LOG_ENABLED = _env_bool("USAGE_LOG_ENABLED", True)
    USAGE_LOG_RETENTION_DAYS = _env_int("USAGE_LOG_RETENTION_DAYS", 90)
    USAGE_LOG_FLUSH_SECONDS = float(os.environ.get("USAGE_LOG_FLUSH_SECONDS", "1.0"))
    TRASH_RETENTION_DAYS = _env_int("TRASH_RETENTION_DAYS", 30)
    # Applies when an organization's settings don't say otherwise.
    DEFAULT_MAX_CONCURRENT_JOBS = _env_int("DEFAULT_MAX_CONCURRENT_JOBS", 3)
    # Operator setting (never a tenant's): let git exports push to private, loopback and local
    # repositories (an in-house git server). Off: only https/ssh hosts with global addresses.
    GIT_ALLOW_PRIVATE_REMOTES = _env_bool("GIT_ALLOW_PRIVATE_REMOTES", False)
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    EMBEDDED_WORKER = _env_bool("EMBEDDED_WORKER", True)


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
    WTF_CSRF_ENABLED = True
    USAGE_LOG_FLUSH_SECONDS = 0.0  # write synchronously so tests can read rows at once
    JOB_RECONCILE_GRACE_SECONDS = 0
    EMBEDDED_WORKER = False  # tests start the worker they need

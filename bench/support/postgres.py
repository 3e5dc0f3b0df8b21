"""Throwaway PostgreSQL databases for benchmarks: created next to the server the suite uses, dropped after.

A benchmark must never measure on (or leave rows in) a database someone else uses: each run gets
`<base>_bench_<label>_<pid>`, dropped with FORCE at the end, and dropped first if a killed run left it.
"""
from __future__ import annotations

import os

import sqlalchemy as sa


def server_url() -> str:
    """The PostgreSQL server a benchmark may create databases on (BENCH_DATABASE_URL, else the suite's
    TEST_DATABASE_URL), or "" when none is set."""
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or ""


def _server(url) -> sa.Engine:
    return sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def create_database(base_url: str, label: str) -> str:
    """A new empty database on `base_url`'s server; returns its URL (psycopg 3 driver, password kept)."""
    url = sa.engine.make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"{url.database or 'cairn'}_bench_{label}_{os.getpid()}"
    server = _server(url)
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    """Drop a database `create_database` made (its open connections are ended)."""
    url = sa.engine.make_url(database_url)
    server = _server(url)
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        server.dispose()

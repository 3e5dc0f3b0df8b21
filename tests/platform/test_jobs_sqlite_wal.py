"""The forking worker on SQLite checkpoints the write-ahead log between work-horses (SqliteWalTrim).

Plain sqlite3 on a temporary file: the same in both test passes.
"""
from __future__ import annotations

import os
import sqlite3

from app.platform.jobs import SqliteWalTrim


def _wal_database(path: str, rows: int) -> sqlite3.Connection:
    """A WAL database whose log holds `rows` rows of 4 KB, left as a work-horse leaves it (never checkpointed)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)")
    for _ in range(rows):
        connection.execute("INSERT INTO t (body) VALUES (randomblob(4000))")
    # Not closed, but kept: closing the last connection would checkpoint and remove the log itself.
    return connection


def _count(path: str) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        connection.close()


def test_a_grown_log_is_checkpointed_away_and_nothing_is_lost(tmp_path):
    path = str(tmp_path / "jobs.sqlite3")
    writer = _wal_database(path, 200)
    trim = SqliteWalTrim(path)
    trim.after_horse()  # the writer still holds the database open: the log is checkpointed but stays
    writer.close()  # (closing also checkpoints; the point is that the trim did not fail on a live database)
    assert _count(path) == 200

    writer = _wal_database(path, 200)
    assert os.path.getsize(f"{path}-wal") > SqliteWalTrim.TRIM_BYTES
    # A horse's connection dies without closing (os._exit): emulated by dropping the handle's file
    # descriptors in a child process that exits.
    writer.close()
    child = os.fork()
    if child == 0:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA wal_autocheckpoint=0")
        for _ in range(100):
            connection.execute("INSERT INTO t (body) VALUES (randomblob(4000))")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.path.getsize(f"{path}-wal") > SqliteWalTrim.TRIM_BYTES
    trim = SqliteWalTrim(path)
    trim.after_horse()
    assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0
    assert _count(path) == 500


def test_a_busy_database_is_left_alone_until_the_log_grows_again(tmp_path):
    path = str(tmp_path / "jobs.sqlite3")
    writer = _wal_database(path, 100)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # a read transaction pins the log
    writer.execute("INSERT INTO t (body) VALUES (randomblob(4000))")
    trim = SqliteWalTrim(path)
    size = os.path.getsize(f"{path}-wal")
    trim.after_horse()  # cannot truncate under the reader: gives up at once
    assert os.path.getsize(f"{path}-wal") == size
    assert trim.trim_above == size + SqliteWalTrim.TRIM_BYTES
    reader.execute("COMMIT")
    reader.close()
    writer.close()
    assert _count(path) == 101


def test_only_a_database_file_gets_one(app):
    trim = SqliteWalTrim.for_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///") and ":memory:" not in app.config[
            "SQLALCHEMY_DATABASE_URI"]:
        assert trim is not None and trim.wal.endswith("-wal")
    else:
        assert trim is None

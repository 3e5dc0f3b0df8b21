"""End a request's read-only transaction with COMMIT, not ROLLBACK, on PostgreSQL.

psycopg prepares a statement the fifth time a connection runs it, so PostgreSQL stops
planning the queries every page runs (the session, the nav, the ticket list's count and
page). But psycopg forgets its prepared statements at every ROLLBACK (one could have
undone a PREPARE), and a request that only read ends in one when Flask-SQLAlchemy closes
its session. For a transaction that ran nothing but SELECTs, COMMIT and ROLLBACK do the
same; so such a transaction is committed instead, and anything that may have written
(any statement that is not a plain SELECT) is still rolled back.

Prepared statements may be planned once for any values: see `plan_each_statement`.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from app.extensions import db


def plan_each_statement() -> None:
    """Plan this transaction's statements for their own values, prepared or not (PostgreSQL).

    A statement run often enough may get one generic plan for any values, which is right
    for "this organization's newest tickets" and badly wrong for a text search, whose
    best plan depends on the words: a common word's page walks the list order, a rare
    one's reads the trigram index. Searches call this first. set_config(..., true) lasts
    until the transaction ends; being a SELECT, it keeps the transaction read-only.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.set_config("plan_cache_mode", "force_custom_plan", True)))

_WROTE = "cairn_transaction_wrote"
_CONNECTION = "cairn_transaction_connection"


def _note_statement(conn, cursor, statement, parameters, context, executemany) -> None:
    if statement.lstrip()[:6].upper() != "SELECT":
        conn.info[_WROTE] = True


def _connection_enlisted(session, transaction, connection) -> None:
    connection.info.pop(_WROTE, None)
    session.info[_CONNECTION] = connection


def init_app(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", _note_statement)
    sa.event.listen(db.session, "after_begin", _connection_enlisted)

    @app.teardown_appcontext
    def commit_read_only(exc) -> None:
        # Runs before Flask-SQLAlchemy's own teardown (registered earlier), which then closes the session.
        session = db.session()
        connection = session.info.pop(_CONNECTION, None)
        # A closed connection belonged to a transaction that has already ended.
        if exc is not None or connection is None or connection.closed or connection.info.get(_WROTE):
            return
        if not session.in_transaction() or session.new or session.dirty or session.deleted:
            return
        # Objects stay loaded, as the close that follows would leave them: code that keeps one past the
        # context (a test, a streamed response) reads it as before.
        session.expire_on_commit = False
        try:
            session.commit()
        except sa.exc.SQLAlchemyError:  # a failed statement: the close that follows rolls back as before
            session.rollback()
        finally:
            session.expire_on_commit = True

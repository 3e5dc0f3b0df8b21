"""Seed 001's index performance analyzer: what each index costs and whether anything uses it.

PostgreSQL keeps the figures (`pg_stat_user_indexes`: scans, tuples read and
fetched; `pg_relation_size`), so the report lists every index of the app's
schema with them, the indexes no statement has used since the statistics were
last reset, the indexes that duplicate another (same table, method, columns or
expressions and predicate) or are a leading prefix of a wider one, and, when the
`pg_stat_statements` extension is installed and preloaded, the slowest
statements. SQLite keeps no usage statistics: the report still lists indexes,
their columns and duplicates, and says in `unknowns` what it cannot know.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa


@dataclass
class IndexStat:
    table: str
    name: str
    columns: tuple[str, ...]
    method: str = "btree"
    predicate: str = ""
    is_unique: bool = False
    is_primary: bool = False
    size_bytes: int | None = None
    scans: int | None = None
    tuples_read: int | None = None
    tuples_fetched: int | None = None
    definition: str = ""

    @property
    def signature(self) -> tuple:
        return (self.table, self.method, self.columns, self.predicate)

    @property
    def enforces_something(self) -> bool:
        """Unique and primary-key indexes enforce a constraint: never 'unused', whatever their scans."""
        return self.is_unique or self.is_primary


@dataclass
class Redundancy:
    index: IndexStat
    covered_by: IndexStat
    reason: str  # "duplicate" (same definition) or "prefix" (its columns lead the other index's)


@dataclass
class SlowStatement:
    query: str
    calls: int
    mean_ms: float
    total_ms: float
    rows: int


@dataclass
class IndexReport:
    dialect: str
    indexes: list[IndexStat]
    stats_since: object = None
    slow_statements: list[SlowStatement] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)

    @property
    def unused(self) -> list[IndexStat]:
        return [i for i in self.indexes if i.scans == 0 and not i.enforces_something]

    @property
    def redundant(self) -> list[Redundancy]:
        return find_redundant(self.indexes)

    @property
    def total_size_bytes(self) -> int | None:
        sizes = [i.size_bytes for i in self.indexes]
        return None if any(s is None for s in sizes) else sum(sizes)


def find_redundant(indexes: list[IndexStat]) -> list[Redundancy]:
    """Indexes that another index makes unnecessary.

    A duplicate has the same table, method, columns and predicate as another; of
    a duplicate pair the one that enforces uniqueness (or else the first by name)
    is kept. A prefix index (btree, same predicate, its columns the leading
    columns of a wider one) is redundant unless it enforces uniqueness.
    """
    found: list[Redundancy] = []
    by_signature: dict[tuple, list[IndexStat]] = {}
    for index in indexes:
        by_signature.setdefault(index.signature, []).append(index)
    for group in by_signature.values():
        if len(group) < 2:
            continue
        keeper = sorted(group, key=lambda i: (not i.enforces_something, i.name))[0]
        found += [Redundancy(i, keeper, "duplicate") for i in group if i is not keeper and not i.enforces_something]
    for index in indexes:
        if index.enforces_something or index.method != "btree" or not index.columns:
            continue
        wider = [other for other in indexes
                 if other is not index and other.table == index.table and other.method == "btree"
                 and other.predicate == index.predicate and len(other.columns) > len(index.columns)
                 and other.columns[:len(index.columns)] == index.columns]
        if wider:
            found.append(Redundancy(index, min(wider, key=lambda i: (len(i.columns), i.name)), "prefix"))
    return found


def index_report(connection: sa.Connection, *, slow_limit: int = 20) -> IndexReport:
    if connection.dialect.name == "postgresql":
        return _postgresql_report(connection, slow_limit)
    return _sqlite_report(connection)


# --------------------------------------------------------------------------- PostgreSQL
POSTGRESQL_INDEXES = sa.text("""
    SELECT s.relname AS table_name, s.indexrelname AS index_name, am.amname AS method,
           pg_relation_size(s.indexrelid) AS size_bytes, s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
           i.indisunique, i.indisprimary, pg_get_indexdef(s.indexrelid) AS definition,
           COALESCE(pg_get_expr(i.indpred, i.indrelid), '') AS predicate,
           ARRAY(SELECT pg_get_indexdef(s.indexrelid, k, true)
                 FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS columns
    FROM pg_stat_user_indexes s
    JOIN pg_index i ON i.indexrelid = s.indexrelid
    JOIN pg_class c ON c.oid = s.indexrelid
    JOIN pg_am am ON am.oid = c.relam
    WHERE s.schemaname = current_schema()
    ORDER BY s.idx_scan DESC, size_bytes DESC, s.indexrelname
""")


def _postgresql_report(connection: sa.Connection, slow_limit: int) -> IndexReport:
    indexes = [
        IndexStat(table=row.table_name, name=row.index_name, columns=tuple(row.columns), method=row.method,
                  predicate=row.predicate, is_unique=row.indisunique, is_primary=row.indisprimary,
                  size_bytes=row.size_bytes, scans=row.idx_scan, tuples_read=row.idx_tup_read,
                  tuples_fetched=row.idx_tup_fetch, definition=row.definition)
        for row in connection.execute(POSTGRESQL_INDEXES)
    ]
    since = connection.execute(sa.text(
        "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")).scalar()
    report = IndexReport("postgresql", indexes, stats_since=since)
    report.slow_statements, reason = _slow_statements(connection, slow_limit)
    if reason:
        report.unknowns.append(reason)
    return report


def _slow_statements(connection: sa.Connection, limit: int) -> tuple[list[SlowStatement], str]:
    installed = connection.execute(sa.text(
        "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")).scalar()
    if not installed:
        return [], ("The slowest statements need the pg_stat_statements extension "
                    "(shared_preload_libraries = 'pg_stat_statements', then CREATE EXTENSION pg_stat_statements).")
    try:
        with connection.begin_nested():
            rows = connection.execute(sa.text("""
                SELECT query, calls, mean_exec_time, total_exec_time, rows FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                ORDER BY mean_exec_time DESC LIMIT :limit"""), {"limit": limit}).all()
    except sa.exc.DBAPIError as error:  # installed but not preloaded: the view raises
        return [], f"pg_stat_statements is installed but not readable: {error.orig}"
    return [SlowStatement(r.query, r.calls, round(r.mean_exec_time, 3), round(r.total_exec_time, 3), r.rows)
            for r in rows], ""


# --------------------------------------------------------------------------- SQLite
SQLITE_UNKNOWNS = [
    "SQLite keeps no index usage statistics: scans, tuples read and unused indexes are unknown.",
    "The slowest statements are unknown on SQLite (there is no pg_stat_statements).",
]


def _sqlite_report(connection: sa.Connection) -> IndexReport:
    rows = connection.execute(sa.text(
        "SELECT name, tbl_name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' ORDER BY tbl_name, name"))
    indexes = []
    for name, table, sql in rows:
        columns = tuple(c[2] for c in connection.exec_driver_sql(f'PRAGMA index_info("{name}")'))
        where = re.split(r"\bWHERE\b", sql, maxsplit=1, flags=re.IGNORECASE)
        if None in columns:  # an expression index: its key is the text between the parentheses
            columns = (" ".join(where[0][where[0].index("(") + 1:where[0].rindex(")")].split()),)
        flags = {row[1]: row for row in connection.exec_driver_sql(f'PRAGMA index_list("{table}")')}
        listed = flags.get(name)
        indexes.append(IndexStat(
            table=table, name=name, columns=columns,
            predicate=" ".join(where[1].split()) if len(where) == 2 else "",
            is_unique=bool(listed and listed[2]), is_primary=bool(listed and listed[3] == "pk"),
            size_bytes=_sqlite_index_size(connection, name), definition=sql or f"(automatic index on {table})"))
    report = IndexReport("sqlite", indexes, unknowns=list(SQLITE_UNKNOWNS))
    if report.total_size_bytes is None:
        report.unknowns.append("Index sizes are unknown: this SQLite was built without the dbstat table.")
    return report


def _sqlite_index_size(connection: sa.Connection, name: str) -> int | None:
    try:  # a failed statement leaves an SQLite transaction usable: no savepoint needed
        return connection.execute(sa.text("SELECT SUM(pgsize) FROM dbstat WHERE name = :n"), {"n": name}).scalar()
    except sa.exc.DBAPIError:
        return None


def print_report(report: IndexReport, echo) -> None:
    """The report as text, for `flask db-indexes`."""
    echo(f"{len(report.indexes)} indexes on {report.dialect}"
         + (f", {report.total_size_bytes:,} bytes" if report.total_size_bytes is not None else "")
         + (f"; usage counted since {report.stats_since}" if report.stats_since else ""))
    echo("")
    echo(f"{'table':<28} {'index':<48} {'size':>12} {'scans':>10} {'read':>12} {'fetched':>12}")
    for i in report.indexes:
        echo(f"{i.table:<28} {i.name:<48} {_figure(i.size_bytes):>12} {_figure(i.scans):>10} "
             f"{_figure(i.tuples_read):>12} {_figure(i.tuples_fetched):>12}")
    if report.dialect == "postgresql":
        echo("")
        echo(f"Unused ({len(report.unused)}): never scanned, and enforcing no constraint")
        for i in report.unused:
            echo(f"  {i.table}.{i.name} ({_figure(i.size_bytes)} bytes)")
    echo("")
    echo(f"Redundant ({len(report.redundant)})")
    for r in report.redundant:
        why = "same definition as" if r.reason == "duplicate" else "leading columns of"
        echo(f"  {r.index.table}.{r.index.name} ({', '.join(r.index.columns)}): {why} {r.covered_by.name}")
    if report.slow_statements:
        echo("")
        echo("Slowest statements (mean ms, calls)")
        for s in report.slow_statements:
            echo(f"  {s.mean_ms:>10} {s.calls:>8}  {' '.join(s.query.split())[:160]}")
    for note in report.unknowns:
        echo(f"Note: {note}")


def _figure(value) -> str:
    return "-" if value is None else f"{value:,}"

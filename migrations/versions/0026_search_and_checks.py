"""projects full-text search; seed 000's status and severity values and non-negative counts as CHECKs

Search (app/projects/search.py explains the design):
- projects.search_vector: on PostgreSQL a tsvector ('simple' config: names are multilingual)
  of the name (weight A), a school project's course name and a self-study project's goal
  (weight B), kept by triggers on the three tables, with the GIN index
  idx_project_search_gin (organization_id, owner_id, search_vector) (btree_gin); on SQLite a
  plain text of the same casefolded words (" linear algebra ... "), kept by a model hook.
  Existing rows are filled here.

Checks (existing rows are fixed first, so the upgrade cannot fail on old data):
- generations.status IN seed 000's GenerationStatus (pending, in_progress, completed, failed);
  legacy logical names are mapped (queued -> pending, running -> in_progress, succeeded ->
  completed), anything else becomes failed with a note.
- conflict_checks.max_severity NULL or IN seed 000's ConflictSeverity; a legacy value is
  recomputed from the check's stored results (NULL when it has none).
- every count / size / total column >= 0 (negative legacy values become 0).

Conflict findings are listed worst severity first: idx_conflict_result_worst_first (check_id, severity
rank, id) holds that order (SQLite: idx_conflict_result_worst_first_lite), so a page is read, not sorted.

Revision ID: 0026_search_and_checks
Revises: 0022_accounts_security
"""
import re

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0026_search_and_checks"
down_revision = "0025_rules_global_stale"
branch_labels = None
depends_on = None

# Frozen copies of the models' SQL (a migration must not change when the models do).
GENERATION_STATUSES = ('pending', 'in_progress', 'completed', 'failed')
LEGACY_GENERATION_STATUSES = {'queued': 'pending', 'running': 'in_progress', 'succeeded': 'completed'}
SEVERITIES = ('info', 'warning', 'error', 'critical')  # increasing
USAGE_COUNT_COLUMNS = ("total_exports", "csv_exports", "json_exports", "pdf_exports", "excel_exports",
                       "total_records_exported", "total_file_size", "failed_exports")

# table -> [(constraint name, SQL, columns that must be >= 0)]
CHECKS = {
    'generations': [
        ('check_generation_status_valid', "status IN ('pending', 'in_progress', 'completed', 'failed')", []),
        ('check_generation_result_count', "result_count >= 0", ['result_count']),
    ],
    'conflict_checks': [
        ('check_conflict_max_severity_valid',
         "max_severity IS NULL OR max_severity IN ('info', 'warning', 'error', 'critical')", []),
        ('check_conflict_check_counts', "proposed_count >= 0 AND conflicts_found >= 0",
         ['proposed_count', 'conflicts_found']),
    ],
    'api_usage_logs': [
        ('check_usage_log_sizes', "request_size_bytes >= 0 AND response_size_bytes >= 0",
         ['request_size_bytes', 'response_size_bytes']),
    ],
    'export_templates': [('check_export_template_usage_count', "usage_count >= 0", ['usage_count'])],
    'export_requests': [
        ('check_export_request_counts', "download_count >= 0 AND (file_size IS NULL OR file_size >= 0)"
         " AND (row_count IS NULL OR row_count >= 0)", ['download_count', 'file_size', 'row_count']),
    ],
    'export_schedules': [
        ('check_export_schedule_consecutive_failures', "consecutive_failures >= 0", ['consecutive_failures']),
    ],
    'export_usage_stats': [
        ('check_export_usage_counts', " AND ".join(f"{c} >= 0" for c in USAGE_COUNT_COLUMNS),
         list(USAGE_COUNT_COLUMNS)),
    ],
    'project_templates': [
        ('check_project_template_totals', "total_files >= 0 AND total_size >= 0", ['total_files', 'total_size']),
    ],
    'ticket_mailboxes': [('check_mailbox_imported_count', "imported_count >= 0", ['imported_count'])],
    'ticket_inbound_emails': [('check_inbound_email_size', "size >= 0", ['size'])],
    'sign_in_throttles': [('check_sign_in_throttle_failures', "failures >= 0", ['failures'])],
}

PG_SEARCH_DDL = [
    """CREATE OR REPLACE FUNCTION projects_search_document(p_name text, p_course text, p_goal text)
       RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
         SELECT setweight(to_tsvector('simple'::regconfig, coalesce(p_name, '')), 'A')
             || setweight(to_tsvector('simple'::regconfig, coalesce(p_course, '')), 'B')
             || setweight(to_tsvector('simple'::regconfig, coalesce(p_goal, '')), 'B')
       $$""",
    # projects: computed before the row is written (on insert its type row may not exist yet: the
    # type table's trigger below fills it in then).
    """CREATE OR REPLACE FUNCTION projects_search_vector_own() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         NEW.search_vector := projects_search_document(NEW.name,
             (SELECT course_name FROM school_projects WHERE id = NEW.id),
             (SELECT goal_description FROM self_study_projects WHERE id = NEW.id));
         RETURN NEW;
       END $$""",
    """CREATE OR REPLACE FUNCTION projects_search_vector_from_type() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE projects SET search_vector = projects_search_document(projects.name,
             (SELECT course_name FROM school_projects WHERE id = NEW.id),
             (SELECT goal_description FROM self_study_projects WHERE id = NEW.id))
         WHERE projects.id = NEW.id;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER projects_search_vector BEFORE INSERT OR UPDATE OF name ON projects
       FOR EACH ROW EXECUTE FUNCTION projects_search_vector_own()""",
    """CREATE TRIGGER school_projects_search_vector AFTER INSERT OR UPDATE OF course_name ON school_projects
       FOR EACH ROW EXECUTE FUNCTION projects_search_vector_from_type()""",
    """CREATE TRIGGER self_study_projects_search_vector AFTER INSERT OR UPDATE OF goal_description
       ON self_study_projects FOR EACH ROW EXECUTE FUNCTION projects_search_vector_from_type()""",
]
PG_SEARCH_DROP = [
    "DROP TRIGGER IF EXISTS self_study_projects_search_vector ON self_study_projects",
    "DROP TRIGGER IF EXISTS school_projects_search_vector ON school_projects",
    "DROP TRIGGER IF EXISTS projects_search_vector ON projects",
    "DROP FUNCTION IF EXISTS projects_search_vector_from_type()",
    "DROP FUNCTION IF EXISTS projects_search_vector_own()",
    "DROP FUNCTION IF EXISTS projects_search_document(text, text, text)",
]
SEVERITY_RANK_SQL = "(CASE severity WHEN 'critical' THEN 0 WHEN 'error' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END)"
_WORD = re.compile(r"[^\W_]+")


def _document_text(*parts):
    found = [w.casefold() for part in parts if part for w in _WORD.findall(part)]
    return " " + " ".join(found) + " " if found else ""


def _upgrade_search(postgres: bool) -> None:
    column_type = postgresql.TSVECTOR() if postgres else sa.Text()
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_vector', column_type, nullable=True))
    conn = op.get_bind()
    if postgres:
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gin')
        for statement in PG_SEARCH_DDL:
            op.execute(statement)
        op.execute("UPDATE projects SET search_vector = projects_search_document(name,"
                   " (SELECT course_name FROM school_projects s WHERE s.id = projects.id),"
                   " (SELECT goal_description FROM self_study_projects t WHERE t.id = projects.id))")
        op.create_index('idx_project_search_gin', 'projects', ['organization_id', 'owner_id', 'search_vector'],
                        unique=False, postgresql_using='gin')
        return
    rows = conn.execute(sa.text(
        "SELECT p.id, p.name, s.course_name, t.goal_description FROM projects p"
        " LEFT OUTER JOIN school_projects s ON s.id = p.id LEFT OUTER JOIN self_study_projects t ON t.id = p.id"
    )).all()
    update = sa.text("UPDATE projects SET search_vector = :text WHERE id = :id")
    for start in range(0, len(rows), 1000):
        conn.execute(update, [{"id": r.id, "text": _document_text(r.name, r.course_name, r.goal_description)}
                              for r in rows[start:start + 1000]])


def _fix_rows() -> None:
    for legacy, value in LEGACY_GENERATION_STATUSES.items():
        op.execute(sa.text("UPDATE generations SET status = :value WHERE status = :legacy")
                   .bindparams(value=value, legacy=legacy))
    allowed = ", ".join(f"'{s}'" for s in GENERATION_STATUSES)
    op.execute(f"UPDATE generations SET error_message = 'Stopped: its status (' || status || ') is no longer used.',"
               f" status = 'failed' WHERE status NOT IN ({allowed})")
    # A legacy max_severity: the worst severity among the check's stored results (they have a CHECK already).
    rank = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES))
    worst = (f"(SELECT r.severity FROM conflict_results r WHERE r.check_id = conflict_checks.id"
             f" ORDER BY CASE r.severity {rank} END DESC LIMIT 1)")
    known = ", ".join(f"'{s}'" for s in SEVERITIES)
    op.execute(f"UPDATE conflict_checks SET max_severity = {worst}"
               f" WHERE max_severity IS NOT NULL AND max_severity NOT IN ({known})")
    for table, checks in CHECKS.items():
        for _name, _sql, columns in checks:
            for column in columns:
                op.execute(f"UPDATE {table} SET {column} = 0 WHERE {column} < 0")


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    _upgrade_search(postgres)
    _fix_rows()
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, sql, _columns in checks:
                batch_op.create_check_constraint(name, sql)
    name = 'idx_conflict_result_worst_first' + ('' if postgres else '_lite')
    op.create_index(name, 'conflict_results', ['check_id', sa.text(SEVERITY_RANK_SQL), 'id'], unique=False)
    op.drop_index('ix_conflict_results_check_id', table_name='conflict_results')  # the new index leads with it


def downgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.create_index('ix_conflict_results_check_id', 'conflict_results', ['check_id'], unique=False)
    op.drop_index('idx_conflict_result_worst_first' + ('' if postgres else '_lite'), table_name='conflict_results')
    for table, checks in reversed(list(CHECKS.items())):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _sql, _columns in reversed(checks):
                batch_op.drop_constraint(name, type_='check')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('idx_project_search_gin', table_name='projects', postgresql_using='gin')
        for statement in PG_SEARCH_DROP:
            op.execute(statement)
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('search_vector')

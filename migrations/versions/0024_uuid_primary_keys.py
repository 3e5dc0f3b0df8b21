"""projects, exports: UUIDv7 primary keys (issue 15)

Project, GeneratedProject, ProjectFile, RepositoryExport and the export models
(ExportRequest, ExportTemplate, ExportAuditLog, ExportSchedule, ExportUsageStats)
had serial keys: their URLs counted upwards and told anyone how many existed.
Seeds 002-004 give them UUIDs. They become UUIDv7 (`uuid` on PostgreSQL, CHAR(32)
hex on SQLite: SQLAlchemy's `Uuid`), and every column pointing at them follows:
the type tables' keys, project meta, dates, attachments, workflow runs, files,
repository exports, template shares, requests' template and schedule, audit rows.

Existing rows keep their data and links, on SQLite and PostgreSQL alike. Each
table is rebuilt: a map of old key -> new key is written first (UUIDv7 from the
row's own creation time, made increasing in id order, so UUID order is the old id
order), the old tables are renamed aside, the tables are created as the models
declare them (every CHECK, UNIQUE, index and name), the rows are copied with
their keys looked up in the map, and the old tables are dropped. The downgrade is
the same walk backwards: integers 1, 2, 3... in UUID order.

Revision ID: 0024_uuid_primary_keys
Revises: 0022_accounts_security
"""
import os
import uuid
from datetime import timezone

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0024_uuid_primary_keys"
down_revision = "0023_platform_redundant_indexes"
branch_labels = None
depends_on = None

# Tables keyed by the new UUIDs, with the column whose time orders their ids.
KEYED = {
    'projects': 'created_at', 'generated_projects': 'created_at', 'project_files': 'created_at',
    'repository_exports': 'created_at', 'export_templates': 'created_at', 'export_schedules': 'created_at',
    'export_requests': 'created_at', 'export_audit_logs': 'timestamp', 'export_usage_stats': 'created_at',
}
# Every column holding one of those keys: (table, column) -> the table it names.
KEY_COLUMNS = {
    **{(table, 'id'): table for table in KEYED},
    ('school_projects', 'id'): 'projects',
    ('self_study_projects', 'id'): 'projects',
    ('project_meta', 'project_id'): 'projects',
    ('project_important_dates', 'project_id'): 'projects',
    ('project_attachments', 'project_id'): 'projects',
    ('workflow_executions', 'project_id'): 'projects',
    ('generated_projects', 'project_id'): 'projects',
    ('generated_projects', 'previous_id'): 'generated_projects',
    ('project_files', 'generated_project_id'): 'generated_projects',
    ('repository_exports', 'generated_project_id'): 'generated_projects',
    ('export_template_shares', 'template_id'): 'export_templates',
    ('export_schedules', 'template_id'): 'export_templates',
    ('export_requests', 'template_id'): 'export_templates',
    ('export_requests', 'schedule_id'): 'export_schedules',
    ('export_audit_logs', 'export_request_id'): 'export_requests',
}
# Every rebuilt table, parents before children (the order _create_tables makes them in).
TABLES = [
    'projects', 'school_projects', 'self_study_projects', 'project_meta', 'project_important_dates',
    'project_attachments', 'workflow_executions', 'generated_projects', 'project_files', 'repository_exports',
    'export_templates', 'export_template_shares', 'export_schedules', 'export_requests', 'export_audit_logs',
    'export_usage_stats',
]
KEY_MAP = '_cairn_key_map'
OLD = '_old_'
BATCH = 5000


def upgrade():
    _rebuild(old_key=sa.Integer, new_key=sa.Uuid, new_keys=_uuid7_keys)


def downgrade():
    _rebuild(old_key=sa.Uuid, new_key=sa.Integer, new_keys=_integer_keys)


# --------------------------------------------------------------------------- new keys
def _uuid7_keys(rows) -> list:
    """UUIDv7s for rows (id, created) in id order: the row's creation millisecond, kept increasing.

    Rows created in the same millisecond (or out of order) share the previous one and count up in
    the 12 bits after the version (RFC 9562 method 1), so the UUIDs sort as the old ids did.
    """
    keys, last_ms, counter = [], -1, 0
    for _old_id, created in rows:
        if created is None:
            ms = last_ms
        else:
            if created.tzinfo is None:
                created = created.replace(tzinfo=timezone.utc)
            ms = int(created.timestamp() * 1000)
        if ms <= last_ms:
            ms, counter = last_ms, counter + 1
            if counter > 0xFFF:
                ms, counter = ms + 1, 0
        else:
            counter = int.from_bytes(os.urandom(2), 'big') & 0x7FF
        last_ms = ms
        random_b = int.from_bytes(os.urandom(8), 'big') & ((1 << 62) - 1)
        keys.append(uuid.UUID(int=(ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | random_b))
    return keys


def _integer_keys(rows) -> list:
    """1, 2, 3... in UUID (that is, time) order."""
    return list(range(1, len(rows) + 1))


# --------------------------------------------------------------------------- the rebuild
def _rebuild(*, old_key, new_key, new_keys) -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == 'postgresql'
    columns = {table: [c['name'] for c in sa.inspect(conn).get_columns(table)] for table in TABLES}

    op.create_table(
        KEY_MAP,
        sa.Column('tbl', sa.String(64), nullable=False),
        sa.Column('old_key', old_key(), nullable=False),
        sa.Column('new_key', new_key(), nullable=False),
        sa.PrimaryKeyConstraint('tbl', 'old_key', name='pk_cairn_key_map'),
    )
    key_map = sa.table(KEY_MAP, sa.column('tbl', sa.String), sa.column('old_key', old_key()),
                       sa.column('new_key', new_key()))
    for table, time_column in KEYED.items():
        source = sa.table(table, sa.column('id', old_key()), sa.column(time_column, sa.DateTime(timezone=True)))
        rows = conn.execute(sa.select(source.c.id, source.c[time_column]).order_by(source.c.id)).all()
        pairs = [{'tbl': table, 'old_key': row[0], 'new_key': key} for row, key in zip(rows, new_keys(rows))]
        for start in range(0, len(pairs), BATCH):
            op.bulk_insert(key_map, pairs[start:start + BATCH])

    for table in TABLES:
        _set_aside(conn, table, columns[table], postgres)
    _create_tables(new_key, postgres)
    for table in TABLES:
        _copy(table, columns[table])
    for table in reversed(TABLES):
        op.drop_table(OLD + table)
    op.drop_table(KEY_MAP)
    if postgres:  # serial columns go on from the highest id copied
        for table in TABLES:
            if 'id' not in columns[table]:
                continue
            sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {'t': table}).scalar()
            if sequence:
                op.execute(f"SELECT setval('{sequence}', COALESCE(MAX(id), 0) + 1, false) FROM {table}")


def _set_aside(conn, table: str, columns: list[str], postgres: bool) -> None:
    """Rename `table` to _old_<table>, freeing the names of its indexes, key constraint and sequence."""
    if postgres:
        # Index (and so primary key and unique constraint) names are schema-wide on PostgreSQL; so are sequences.
        for (name,) in conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                            "AND tablename = :t"), {'t': table}).all():
            op.execute(f'ALTER INDEX "{name}" RENAME TO "{(OLD + name)[:63]}"')
        sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                {'t': table}).scalar() if 'id' in columns else None
        if sequence:
            op.execute(f'ALTER SEQUENCE {sequence} RENAME TO "{(OLD + table + "_id_seq")[:63]}"')
    else:
        # SQLite's index names are global too; constraint indexes (sqlite_autoindex_*) go with their table.
        for (name,) in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                                            "AND sql IS NOT NULL"), {'t': table}).all():
            op.execute(f'DROP INDEX "{name}"')
    op.rename_table(table, OLD + table)


def _copy(table: str, columns: list[str]) -> None:
    """INSERT the old rows into the new table, each key column looked up in the map."""
    values, joins = [], []
    for column in columns:
        target = KEY_COLUMNS.get((table, column))
        if target is None:
            values.append(f'o."{column}"')
            continue
        alias = f'm{len(joins)}'
        values.append(f'{alias}.new_key')
        joins.append(f"LEFT JOIN {KEY_MAP} {alias} ON {alias}.tbl = '{target}' AND {alias}.old_key = o.\"{column}\"")
    names = ', '.join(f'"{column}"' for column in columns)
    op.execute(f'INSERT INTO {table} ({names}) SELECT {", ".join(values)} FROM {OLD}{table} o {" ".join(joins)}')


# --------------------------------------------------------------------------- the tables, as the models declare them
def _create_tables(key, postgres: bool) -> None:
    """Every rebuilt table with `key` as the type of the keys above (sa.Uuid up, sa.Integer down)."""
    op.create_table('projects',
    sa.Column('id', key(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('project_type', sa.String(length=20), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('is_draft', sa.Boolean(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("project_type IN ('school', 'self_study')", name='check_project_type_valid'),
    sa.CheckConstraint('end_date IS NULL OR start_date IS NULL OR end_date >= start_date', name='check_project_dates_ordered'),
    sa.CheckConstraint('is_draft OR published_at IS NOT NULL', name='check_project_published_at'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_projects_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_projects_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    op.create_index('idx_project_draft_cleanup', 'projects', ['is_draft', 'updated_at', 'id'], unique=False)
    op.create_index('idx_project_owner_created', 'projects', ['organization_id', 'owner_id', 'created_at', 'id'], unique=False)
    op.create_index('idx_project_owner_type', 'projects', ['organization_id', 'owner_id', 'project_type', 'created_at'], unique=False)
    op.create_index(op.f('ix_projects_owner_id'), 'projects', ['owner_id'], unique=False)
    # ### end Alembic commands ###
    op.create_table('school_projects',
    sa.Column('id', key(), nullable=False),
    sa.Column('course_name', sa.String(length=255), nullable=False),
    sa.Column('course_code', sa.String(length=50), nullable=False),
    sa.Column('teacher_name', sa.String(length=255), nullable=False),
    sa.CheckConstraint("(course_name IS NOT NULL AND TRIM(course_name) <> '') AND (course_code IS NOT NULL AND TRIM(course_code) <> '') AND (teacher_name IS NOT NULL AND TRIM(teacher_name) <> '')", name='check_school_project_fields_filled'),
    sa.ForeignKeyConstraint(['id'], ['projects.id'], name=op.f('fk_school_projects_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_projects'))
    )
    # ### end Alembic commands ###
    op.create_table('self_study_projects',
    sa.Column('id', key(), nullable=False),
    sa.Column('goal_description', sa.Text(), nullable=False),
    sa.Column('study_frequency', sa.String(length=50), nullable=False),
    sa.CheckConstraint("(goal_description IS NOT NULL AND TRIM(goal_description) <> '') AND (study_frequency IS NOT NULL AND TRIM(study_frequency) <> '')", name='check_self_study_project_fields_filled'),
    sa.ForeignKeyConstraint(['id'], ['projects.id'], name=op.f('fk_self_study_projects_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_study_projects'))
    )
    # ### end Alembic commands ###
    op.create_table('project_meta',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', key(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("TRIM(key) <> ''", name='check_project_meta_key_not_empty'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_meta_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_meta')),
    sa.UniqueConstraint('project_id', 'key', name='uq_project_meta_key')
    )
    if postgres:
        op.create_index('idx_project_meta_value_gin', 'project_meta', ['value'], unique=False, postgresql_using='gin')
    # ### end Alembic commands ###
    op.create_table('project_important_dates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', key(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('deadline', 'exam', 'milestone')", name='check_important_date_kind_valid'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_important_dates_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_important_dates'))
    )
    op.create_index('idx_important_date_project_date', 'project_important_dates', ['project_id', 'date'], unique=False)
    # ### end Alembic commands ###
    op.create_table('project_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', key(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('storage_path', sa.String(length=500), nullable=False),
    sa.Column('content_type', sa.String(length=120), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('size >= 0', name='check_project_attachment_size'),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_project_attachments_deleted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_project_attachments_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_attachments_project_id_projects'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_project_attachments_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_attachments'))
    )
    op.create_index('idx_project_attachment_project', 'project_attachments', ['project_id', 'is_active'], unique=False)
    op.create_index(op.f('ix_project_attachments_organization_id'), 'project_attachments', ['organization_id'], unique=False)
    # ### end Alembic commands ###
    op.create_table('workflow_executions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', key(), nullable=False),
    sa.Column('workflow', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('log', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_workflow_executions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_workflow_executions_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_executions'))
    )
    op.create_index('idx_workflow_project_created', 'workflow_executions', ['project_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_workflow_executions_organization_id'), 'workflow_executions', ['organization_id'], unique=False)
    # ### end Alembic commands ###
    op.create_table('generated_projects',
    sa.Column('id', key(), nullable=False),
    sa.Column('project_id', key(), nullable=False),
    sa.Column('workflow_execution_id', sa.Integer(), nullable=True),
    sa.Column('previous_id', key(), nullable=True),
    sa.Column('template_key', sa.String(length=100), nullable=False),
    sa.Column('template_name', sa.String(length=200), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('output_directory', sa.String(length=500), nullable=False),
    sa.Column('total_files', sa.Integer(), nullable=False),
    sa.Column('total_size', sa.BigInteger(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('progress_message', sa.String(length=255), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('rq_job_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("output_directory = '' OR (output_directory NOT LIKE '/%' AND output_directory <> '..' AND output_directory NOT LIKE '../%' AND output_directory NOT LIKE '%/../%' AND output_directory NOT LIKE '%/..' AND replace(output_directory, '\\', '') = output_directory)", name='check_generated_project_output_directory'),
    sa.CheckConstraint("status IN ('pending', 'generating', 'completed', 'failed', 'archived')", name='check_generated_project_status_valid'),
    sa.CheckConstraint('total_files >= 0 AND total_size >= 0', name='check_generated_project_totals'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_generated_projects_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_generated_projects_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['previous_id'], ['generated_projects.id'], name=op.f('fk_generated_projects_previous_id_generated_projects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_generated_projects_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_execution_id'], ['workflow_executions.id'], name=op.f('fk_generated_projects_workflow_execution_id_workflow_executions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generated_projects'))
    )
    op.create_index('idx_generated_project_created', 'generated_projects', ['created_at'], unique=False)
    op.create_index('idx_generated_project_creator_created', 'generated_projects', ['created_by_id', 'created_at'], unique=False)
    op.create_index('idx_generated_project_project_created', 'generated_projects', ['project_id', 'created_at'], unique=False)
    op.create_index('idx_generated_project_updated', 'generated_projects', ['updated_at'], unique=False)
    op.create_index(op.f('ix_generated_projects_organization_id'), 'generated_projects', ['organization_id'], unique=False)
    op.create_index(op.f('ix_generated_projects_status'), 'generated_projects', ['status'], unique=False)
    # ### end Alembic commands ###
    op.create_table('project_files',
    sa.Column('id', key(), nullable=False),
    sa.Column('generated_project_id', key(), nullable=False),
    sa.Column('file_path', sa.String(length=500), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_type', sa.String(length=50), nullable=False),
    sa.Column('file_size', sa.BigInteger(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('content_preview', sa.Text(), nullable=False),
    sa.Column('is_executable', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("file_path <> '' AND file_path NOT LIKE '/%' AND file_path <> '..' AND file_path NOT LIKE '../%' AND file_path NOT LIKE '%/../%' AND file_path NOT LIKE '%/..'", name='check_project_file_path_relative'),
    sa.CheckConstraint("length(content_hash) = 64 AND ltrim(content_hash, '0123456789abcdef') = ''", name='check_project_file_content_hash'),
    sa.CheckConstraint('file_size >= 0', name='check_project_file_size'),
    sa.ForeignKeyConstraint(['generated_project_id'], ['generated_projects.id'], name=op.f('fk_project_files_generated_project_id_generated_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_files')),
    sa.UniqueConstraint('generated_project_id', 'file_path', name='uq_project_file_path')
    )
    op.create_index('idx_project_file_created', 'project_files', ['created_at'], unique=False)
    op.create_index('idx_project_file_generated_path', 'project_files', ['generated_project_id', 'file_path'], unique=False)
    op.create_index('idx_project_file_hash', 'project_files', ['content_hash'], unique=False)
    op.create_index('idx_project_file_type', 'project_files', ['file_type'], unique=False)
    op.create_index('idx_project_file_updated', 'project_files', ['updated_at'], unique=False)
    op.create_index(op.f('ix_project_files_file_path'), 'project_files', ['file_path'], unique=False)
    # ### end Alembic commands ###
    op.create_table('repository_exports',
    sa.Column('id', key(), nullable=False),
    sa.Column('generated_project_id', key(), nullable=False),
    sa.Column('export_type', sa.String(length=20), nullable=False),
    sa.Column('repository_name', sa.String(length=255), nullable=False),
    sa.Column('repository_url', sa.String(length=500), nullable=False),
    sa.Column('include_git', sa.Boolean(), nullable=False),
    sa.Column('archive_path', sa.String(length=500), nullable=False),
    sa.Column('archive_size', sa.BigInteger(), nullable=True),
    sa.Column('archive_sha256', sa.String(length=64), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('credential', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('progress_message', sa.String(length=255), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('rq_job_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("export_type IN ('zip', 'tar', 'tar.gz', 'github', 'gitlab', 'git')", name='check_repository_export_type_valid'),
    sa.CheckConstraint("status IN ('pending', 'exporting', 'completed', 'failed')", name='check_repository_export_status_valid'),
    sa.CheckConstraint('archive_size IS NULL OR archive_size >= 0', name='check_repository_export_size'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_repository_exports_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['generated_project_id'], ['generated_projects.id'], name=op.f('fk_repository_exports_generated_project_id_generated_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_repository_exports_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repository_exports'))
    )
    op.create_index('idx_repository_export_created', 'repository_exports', ['created_at'], unique=False)
    op.create_index('idx_repository_export_generated_created', 'repository_exports', ['generated_project_id', 'created_at'], unique=False)
    op.create_index('idx_repository_export_type', 'repository_exports', ['export_type'], unique=False)
    op.create_index('idx_repository_export_updated', 'repository_exports', ['updated_at'], unique=False)
    op.create_index(op.f('ix_repository_exports_organization_id'), 'repository_exports', ['organization_id'], unique=False)
    op.create_index(op.f('ix_repository_exports_status'), 'repository_exports', ['status'], unique=False)
    # ### end Alembic commands ###
    op.create_table('export_templates',
    sa.Column('id', key(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('dataset', sa.String(length=50), nullable=False),
    sa.Column('field_configuration', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('default_filters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('layout_settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('usage_count', sa.Integer(), nullable=False),
    sa.Column('last_used', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("format IN ('csv', 'json', 'pdf', 'excel')", name='check_export_template_format'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_export_templates_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_templates_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_templates'))
    )
    op.create_index('idx_export_template_public_usage', 'export_templates', ['is_public', 'usage_count'], unique=False)
    op.create_index('idx_export_template_user_created', 'export_templates', ['user_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_export_templates_organization_id'), 'export_templates', ['organization_id'], unique=False)
    # ### end Alembic commands ###
    op.create_table('export_template_shares',
    sa.Column('template_id', key(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['export_templates.id'], name=op.f('fk_export_template_shares_template_id_export_templates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_template_shares_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('template_id', 'user_id', name=op.f('pk_export_template_shares'))
    )
    # ### end Alembic commands ###
    op.create_table('export_schedules',
    sa.Column('id', key(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('template_id', key(), nullable=False),
    sa.Column('cron_pattern', sa.String(length=100), nullable=False),
    sa.Column('timezone', sa.String(length=50), nullable=False),
    sa.Column('email_recipients', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('include_download_link', sa.Boolean(), nullable=False),
    sa.Column('attach_file', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('last_run', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_run', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_count', sa.Integer(), nullable=False),
    sa.Column('failure_count', sa.Integer(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('paused_reason', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('run_count >= 0 AND failure_count >= 0', name='check_export_schedule_counts'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_export_schedules_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['export_templates.id'], name=op.f('fk_export_schedules_template_id_export_templates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_schedules_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_schedules'))
    )
    op.create_index('idx_export_schedule_next_active', 'export_schedules', ['next_run', 'is_active'], unique=False)
    op.create_index('idx_export_schedule_user_active', 'export_schedules', ['user_id', 'is_active'], unique=False)
    op.create_index(op.f('ix_export_schedules_organization_id'), 'export_schedules', ['organization_id'], unique=False)
    # ### end Alembic commands ###
    op.create_table('export_requests',
    sa.Column('id', key(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('template_id', key(), nullable=True),
    sa.Column('dataset', sa.String(length=50), nullable=False),
    sa.Column('filters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('date_range_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('date_range_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('selected_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('progress_percentage', sa.Integer(), nullable=False),
    sa.Column('file_path', sa.String(length=500), nullable=False),
    sa.Column('file_size', sa.BigInteger(), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=True),
    sa.Column('download_url', sa.String(length=500), nullable=False),
    sa.Column('download_count', sa.Integer(), nullable=False),
    sa.Column('is_scheduled', sa.Boolean(), nullable=False),
    sa.Column('schedule_id', key(), nullable=True),
    sa.Column('schedule_pattern', sa.String(length=100), nullable=False),
    sa.Column('next_run', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('progress_message', sa.String(length=255), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('rq_job_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("format IN ('csv', 'json', 'pdf', 'excel')", name='check_export_request_format'),
    sa.CheckConstraint("status IN ('pending', 'processing', 'completed', 'failed', 'expired')", name='check_export_request_status'),
    sa.CheckConstraint('progress_percentage >= 0 AND progress_percentage <= 100', name='check_export_request_progress'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_export_requests_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['schedule_id'], ['export_schedules.id'], name=op.f('fk_export_requests_schedule_id_export_schedules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['template_id'], ['export_templates.id'], name=op.f('fk_export_requests_template_id_export_templates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_requests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_requests')),
    sa.UniqueConstraint('schedule_id', 'next_run', name='uq_export_request_schedule_slot')
    )
    op.create_index('idx_export_request_expires', 'export_requests', ['expires_at'], unique=False)
    op.create_index('idx_export_request_next_run', 'export_requests', ['next_run'], unique=False)
    op.create_index('idx_export_request_status_created', 'export_requests', ['status', 'created_at'], unique=False)
    op.create_index('idx_export_request_user_created', 'export_requests', ['user_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_export_requests_organization_id'), 'export_requests', ['organization_id'], unique=False)
    # ### end Alembic commands ###
    op.create_table('export_audit_logs',
    sa.Column('id', key(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('export_request_id', key(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=False),
    sa.Column('additional_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('created', 'started', 'completed', 'downloaded', 'failed', 'expired', 'deleted', 'shared')", name='check_export_audit_action'),
    sa.ForeignKeyConstraint(['export_request_id'], ['export_requests.id'], name=op.f('fk_export_audit_logs_export_request_id_export_requests'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_export_audit_logs_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_audit_logs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_audit_logs'))
    )
    op.create_index('idx_export_audit_action_ts', 'export_audit_logs', ['action', 'timestamp'], unique=False)
    op.create_index('idx_export_audit_org_ts', 'export_audit_logs', ['organization_id', 'timestamp'], unique=False)
    op.create_index('idx_export_audit_request_ts', 'export_audit_logs', ['export_request_id', 'timestamp'], unique=False)
    op.create_index('idx_export_audit_user_ts', 'export_audit_logs', ['user_id', 'timestamp'], unique=False)
    # ### end Alembic commands ###
    op.create_table('export_usage_stats',
    sa.Column('id', key(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('total_exports', sa.Integer(), nullable=False),
    sa.Column('csv_exports', sa.Integer(), nullable=False),
    sa.Column('json_exports', sa.Integer(), nullable=False),
    sa.Column('pdf_exports', sa.Integer(), nullable=False),
    sa.Column('excel_exports', sa.Integer(), nullable=False),
    sa.Column('total_records_exported', sa.BigInteger(), nullable=False),
    sa.Column('total_file_size', sa.BigInteger(), nullable=False),
    sa.Column('avg_processing_time', sa.Interval(), nullable=True),
    sa.Column('failed_exports', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_export_usage_stats_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_usage_stats_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_usage_stats')),
    sa.UniqueConstraint('user_id', 'date', name='uq_export_usage_user_date')
    )
    op.create_index('idx_export_usage_date', 'export_usage_stats', ['date'], unique=False)
    op.create_index('idx_export_usage_user_date', 'export_usage_stats', ['user_id', 'date'], unique=False)
    op.create_index(op.f('ix_export_usage_stats_organization_id'), 'export_usage_stats', ['organization_id'], unique=False)
    # ### end Alembic commands ###

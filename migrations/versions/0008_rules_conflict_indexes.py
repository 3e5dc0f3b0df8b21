"""rules: conflict checks run as jobs; indexes for set-based near-duplicate search

Conflict checks get the job status columns (like generations), the generation
whose whole output they check, the number of names checked and the count per
severity. Checks made before this revision ran synchronously and are
completed. Two expression indexes on the active names serve the "one edit
away" search: (workspace, length, first half) and (workspace, length, second
half). PostgreSQL gets fuzzystrmatch for levenshtein_less_equal(); SQLite
checks candidates with a function the app registers on its connection.

Revision ID: 0008_rules_conflict_indexes
Revises: 0007_tickets_history
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008_rules_conflict_indexes'
down_revision = '0007_tickets_history'
branch_labels = None
depends_on = None

HALF_INDEXES = {
    'idx_string_active_len_head': 'substr(value, 1, length(value) / 2)',
    'idx_string_active_len_tail': 'substr(value, length(value) / 2 + 1)',
}


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _ts(name):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade():
    if _is_postgresql():
        op.execute('CREATE EXTENSION IF NOT EXISTS fuzzystrmatch')

    # New NOT NULL columns get server defaults for the rows already there (checks made before
    # this revision finished synchronously), then lose them: the models set every value.
    with op.batch_alter_table('conflict_checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False, server_default='completed'))
        batch_op.add_column(sa.Column('progress', sa.Integer(), nullable=False, server_default='100'))
        batch_op.add_column(sa.Column('progress_message', sa.String(length=255), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('error_message', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('rq_job_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(_ts('enqueued_at'))
        batch_op.add_column(_ts('started_at'))
        batch_op.add_column(_ts('finished_at'))
        batch_op.add_column(sa.Column('proposed_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('generation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column(
            'severity_counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=False, server_default='{}'))
        batch_op.create_foreign_key(batch_op.f('fk_conflict_checks_generation_id_generations'), 'generations',
                                    ['generation_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_conflict_checks_status'), ['status'], unique=False)

    length = 'jsonb_array_length(proposed_strings)' if _is_postgresql() else 'json_array_length(proposed_strings)'
    op.execute(f'UPDATE conflict_checks SET proposed_count = {length}, finished_at = created_at, started_at = created_at')

    with op.batch_alter_table('conflict_checks', schema=None) as batch_op:
        for column in ('status', 'progress', 'progress_message', 'attempts', 'proposed_count', 'severity_counts'):
            batch_op.alter_column(column, server_default=None)

    for name, half in HALF_INDEXES.items():
        op.create_index(name, 'strings', ['workspace_id', sa.text('length(value)'), sa.text(half)], unique=False,
                        postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active'))


def downgrade():
    for name in HALF_INDEXES:
        op.drop_index(name, table_name='strings', postgresql_where=sa.text('is_active'),
                      sqlite_where=sa.text('is_active'))
    with op.batch_alter_table('conflict_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflict_checks_status'))
        batch_op.drop_constraint(batch_op.f('fk_conflict_checks_generation_id_generations'), type_='foreignkey')
        for column in ('severity_counts', 'generation_id', 'proposed_count', 'finished_at', 'started_at',
                       'enqueued_at', 'attempts', 'rq_job_id', 'error_message', 'progress_message', 'progress',
                       'status'):
            batch_op.drop_column(column)
    # fuzzystrmatch stays: dropping an extension other objects may have come to use is not this revision's call.

"""rules: organization-first indexes for the global conflict check, stale-name scans, RE2 catalogue patterns

- strings: four partial indexes over the active names led by organization_id, for platforms whose names
  are unique globally (the conflict check then matches across the organization, where the
  workspace-first indexes can't help): exact value (+ rule_id), normalised value (+ rule_id), and the
  two half-length keys of the "one edit away" search. bench/rules_global_conflicts.py measures them.
- rule_stale_scans: the job that finds a workspace's stale names (Names -> Stale shows its live
  status, then its findings a page at a time).
- rule_platforms added from the catalogue's three entries whose table regex RE2 can't read get the
  equivalent RE2 form (app/rules/catalogue/README.md; the equivalence is property-tested), so their
  check keeps working now that catalogue patterns have no Python-re fallback.

Revision ID: 0025_rules_global_stale
Revises: 0022_accounts_security
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0025_rules_global_stale"
down_revision = "0024_uuid_primary_keys"
branch_labels = None
depends_on = None

ACTIVE = {'postgresql_where': sa.text('is_active'), 'sqlite_where': sa.text('is_active')}
ORG_INDEXES = {
    'idx_string_org_active_value': ['organization_id', 'value', 'rule_id'],
    'idx_string_org_active_normalized': ['organization_id', 'normalized', 'rule_id'],
    'idx_string_org_active_len_head': ['organization_id', sa.text('length(value)'),
                                       sa.text('substr(value, 1, length(value) / 2)')],
    'idx_string_org_active_len_tail': ['organization_id', sa.text('length(value)'),
                                       sa.text('substr(value, length(value) / 2 + 1)')],
}
NOT_ALL_DIGITS = '^[a-zA-Z0-9-]*[a-zA-Z-][a-zA-Z0-9-]*$'
RE2_FORMS = {  # the table's pattern -> (RE2 pattern, invalid first, invalid last)
    '^(?![0-9]+$)([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,62}[a-zA-Z0-9])$': (NOT_ALL_DIGITS, '-', '-'),
    '^(?![0-9]+$)([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,13}[a-zA-Z0-9])$': (NOT_ALL_DIGITS, '-', '-'),
    '^[A-Za-z0-9-_\\.~]{1,1024}$': ('^[A-Za-z0-9_.~-]+$', '', ''),
}


def upgrade():
    for name, columns in ORG_INDEXES.items():
        op.create_index(name, 'strings', columns, unique=False, **ACTIVE)

    op.create_table('rule_stale_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('checked', sa.Integer(), nullable=False),
    sa.Column('stale_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
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
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rule_stale_scans_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_rule_stale_scans_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_rule_stale_scans_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_stale_scans'))
    )
    with op.batch_alter_table('rule_stale_scans', schema=None) as batch_op:
        batch_op.create_index('idx_stale_scan_workspace_created', ['workspace_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_stale_scans_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rule_stale_scans_status'), ['status'], unique=False)

    platforms = sa.table('rule_platforms', sa.column('regex', sa.String), sa.column('invalid_first_chars', sa.String),
                         sa.column('invalid_last_chars', sa.String))
    for old, (new, first, last) in RE2_FORMS.items():
        values = {'regex': new}
        if first:
            values.update(invalid_first_chars=first, invalid_last_chars=last)
        op.execute(platforms.update().where(platforms.c.regex == old).values(**values))


def downgrade():
    with op.batch_alter_table('rule_stale_scans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_stale_scans_status'))
        batch_op.drop_index(batch_op.f('ix_rule_stale_scans_organization_id'))
        batch_op.drop_index('idx_stale_scan_workspace_created')
    op.drop_table('rule_stale_scans')
    for name in ORG_INDEXES:
        op.drop_index(name, table_name='strings', **ACTIVE)
    # The RE2 forms of the three catalogue patterns stay: they mean the same, and the old ones no longer compile.

"""rules: platform minimum length, uniqueness scope and catalogue entry; names' sequence numbers; propagation scopes

A platform's minimum length (an Azure storage account is 3 to 24 characters):
the renderer refuses shorter names and the conflict check reports them.
strings.sequence records the number a name was made with, so regenerating it
after a rename or a rule change keeps it. rule_propagations.scope/target_id:
a propagation regenerates the stale names of a value, field, rule, platform or
workspace, not only those of a renamed value. rule_platforms.uniqueness_scope drives
the conflict check's scope; catalogue_key/catalogue_version link a platform to the
built-in catalogue entry it was added from (app/rules/catalogue/).

Revision ID: 0016_rules_identity_catalogue
Revises: 0015_accounts_time_zone
"""
from alembic import op
import sqlalchemy as sa

revision = '0016_rules_identity_catalogue'
down_revision = '0015_accounts_time_zone'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rule_platforms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_length', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('uniqueness_scope', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('catalogue_key', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('catalogue_version', sa.Integer(), nullable=True))
    with op.batch_alter_table('strings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=True))
    with op.batch_alter_table('rule_propagations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=20), nullable=False, server_default='value'))
        batch_op.add_column(sa.Column('target_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('target_label', sa.String(length=200), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('rule_propagations', schema=None) as batch_op:
        batch_op.drop_column('target_label')
        batch_op.drop_column('target_id')
        batch_op.drop_column('scope')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite drops the column in place: batch mode would copy the table and lose its expression indexes
        # (idx_string_active_len_head/_tail, which it can't reflect).
        op.execute('ALTER TABLE strings DROP COLUMN sequence')
    else:
        op.drop_column('strings', 'sequence')
    with op.batch_alter_table('rule_platforms', schema=None) as batch_op:
        batch_op.drop_column('catalogue_version')
        batch_op.drop_column('catalogue_key')
        batch_op.drop_column('uniqueness_scope')
        batch_op.drop_column('min_length')

"""accounts: organizations.directory_version, the key of per-organization caches

Every signed-in page showed the organization's workspaces (the nav) and the ticket
list showed its agents (the assignee filter), each read with a query of its own on
every request. They are now cached in each process, keyed by this counter, which
the accounts hooks bump in the same transaction as any change to members or
workspaces; the session query already reads the organization row, so checking the
key costs nothing.

Revision ID: 0010_org_directory_version
Revises: 0009_tickets_live_status_index
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_org_directory_version'
down_revision = '0009_tickets_live_status_index'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('directory_version', sa.Integer(), nullable=False, server_default='1'))


def downgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('directory_version')

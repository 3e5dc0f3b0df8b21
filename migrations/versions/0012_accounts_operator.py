"""accounts: users.is_operator, who may see the server-wide operator pages

Set only from the server's command line (`flask operator-grant EMAIL`): an
organization's admin is a stranger to the server and can never set it.

Revision ID: 0012_accounts_operator
Revises: 0011_projects_seed003_checks
"""
from alembic import op
import sqlalchemy as sa

revision = '0012_accounts_operator'
down_revision = '0011_projects_seed003_checks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_operator', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_operator')

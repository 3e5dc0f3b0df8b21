"""accounts: user_preferences.timezone, the zone every time is shown in

Empty means "the organization's default zone" (organizations.settings["time_zone"],
else UTC). Times stay stored in UTC; this only says how to show them and which
day "today" is.

Revision ID: 0015_accounts_time_zone
Revises: 0014_projects_subtype_tables
"""
from alembic import op
import sqlalchemy as sa

revision = '0015_accounts_time_zone'
down_revision = '0014_projects_subtype_tables'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_preferences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('user_preferences', schema=None) as batch_op:
        batch_op.drop_column('timezone')

"""rules: platform minimum length

A platform's minimum length (an Azure storage account is 3 to 24 characters):
the renderer refuses shorter names and the conflict check reports them.

Revision ID: 0011_rules_identity_catalogue
Revises: 0010_org_directory_version
"""
from alembic import op
import sqlalchemy as sa

revision = '0011_rules_identity_catalogue'
down_revision = '0010_org_directory_version'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rule_platforms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_length', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('rule_platforms', schema=None) as batch_op:
        batch_op.drop_column('min_length')

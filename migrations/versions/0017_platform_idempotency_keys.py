"""platform: idempotency_keys, so a create form sent twice makes one record

A double click, a retried request or Back-and-send made two tickets, two exports
or two generations. Each create form now carries a key; (user, key) is unique and
committed with what the form created, and remembers where its result is.

Revision ID: 0017_platform_idempotency_keys
Revises: 0016_rules_identity_catalogue
"""
from alembic import op
import sqlalchemy as sa

revision = '0017_platform_idempotency_keys'
down_revision = '0016_rules_identity_catalogue'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('endpoint', sa.String(length=100), nullable=False),
    sa.Column('result_url', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'key', name='uq_idempotency_keys_user_key')
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index('idx_idempotency_keys_created', ['created_at'], unique=False)


def downgrade():
    op.drop_table('idempotency_keys')

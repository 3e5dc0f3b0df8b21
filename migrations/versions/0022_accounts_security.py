"""accounts: API token scopes and expiry, single-use invitation nonces, sign-in backoff rows

- api_tokens.scopes / expires_at / revoke_reason: tokens are limited to the JSON API, to the
  scopes chosen at creation, and expire; existing tokens keep read and write (what they could do).
- users.invitation_nonce_hash / invitation_expires_at: an invitation link carries a random
  nonce stored hashed, works once, for members with no password, and expires. Links sent before
  this revision stop working: an admin sends a new one from the member's page.
- sign_in_throttles: per (account, client address) failed sign-ins, for an exponential backoff
  that lives in the database (it holds with Redis down) and can't lock the owner out.

Revision ID: 0022_accounts_security
Revises: 0021_tickets_saved_views
"""
from alembic import op
import sqlalchemy as sa

revision = '0022_accounts_security'
down_revision = '0021_tickets_saved_views'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=50), nullable=False, server_default='read'))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revoke_reason', sa.String(length=50), nullable=False, server_default=''))
    op.execute("UPDATE api_tokens SET scopes = 'read write'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invitation_nonce_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('invitation_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_users_invitation_nonce_hash'), ['invitation_nonce_hash'])
    op.create_table('sign_in_throttles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_throttles')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_sign_in_throttles_key_hash'))
    )
    with op.batch_alter_table('sign_in_throttles', schema=None) as batch_op:
        batch_op.create_index('idx_sign_in_throttle_last', ['last_failure_at'], unique=False)


def downgrade():
    with op.batch_alter_table('sign_in_throttles', schema=None) as batch_op:
        batch_op.drop_index('idx_sign_in_throttle_last')
    op.drop_table('sign_in_throttles')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_invitation_nonce_hash'), type_='unique')
        batch_op.drop_column('invitation_expires_at')
        batch_op.drop_column('invitation_nonce_hash')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('revoke_reason')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scopes')

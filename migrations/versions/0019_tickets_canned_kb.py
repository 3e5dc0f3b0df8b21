"""tickets: canned replies (personal or shared) and knowledge base categories

Revision ID: 0019_tickets_canned_kb
Revises: 0018_tickets_helpdesk_fixes
"""
from alembic import op
import sqlalchemy as sa

revision = '0019_tickets_canned_kb'
down_revision = '0018_tickets_helpdesk_fixes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'canned_replies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.CheckConstraint('length(title) > 0', name='check_canned_title_not_empty'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.create_index('idx_canned_org_owner', ['organization_id', 'owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_canned_replies_organization_id'), ['organization_id'], unique=False)
    with op.batch_alter_table('knowledge_articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=80), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('knowledge_articles', schema=None) as batch_op:
        batch_op.drop_column('category')
    op.drop_table('canned_replies')

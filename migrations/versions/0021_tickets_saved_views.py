"""tickets: saved views of the ticket list (personal or shared)

Revision ID: 0021_tickets_saved_views
Revises: 0020_tickets_email_channel
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0021_tickets_saved_views'
down_revision = '0020_tickets_email_channel'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ticket_saved_views',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('filters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.CheckConstraint('length(name) > 0', name='check_saved_view_name_not_empty'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('ticket_saved_views', schema=None) as batch_op:
        batch_op.create_index('idx_saved_view_org_owner', ['organization_id', 'owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_saved_views_organization_id'), ['organization_id'], unique=False)


def downgrade():
    op.drop_table('ticket_saved_views')

"""tickets: a partial index on live tickets by status and priority, for the list's counts

The agent list counts an organization's live tickets under its status filter (with
or without a priority) on every page. idx_ticket_org_status_priority covers every
ticket, trashed ones too, so PostgreSQL had to visit each matching row to check
is_active (3.5 ms for "active + high" at 10,000 tickets an organization); this index
holds live tickets only, so the count is an index-only scan.

Revision ID: 0009_tickets_live_status_index
Revises: 0008_rules_conflict_indexes
"""
from alembic import op
import sqlalchemy as sa

revision = '0009_tickets_live_status_index'
down_revision = '0008_rules_conflict_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('idx_ticket_org_live_status_priority', ['organization_id', 'status', 'priority'],
                              unique=False, postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active'))


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('idx_ticket_org_live_status_priority', postgresql_where=sa.text('is_active'),
                            sqlite_where=sa.text('is_active'))

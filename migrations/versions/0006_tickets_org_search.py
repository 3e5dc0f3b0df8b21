"""tickets: organization-led trigram indexes for the ticket list search

The seed's idx_ticket_search_gin covers every organization's tickets, so a search in one
organization either walks that organization's tickets in order or reads matches from all
100 of them. These lead with organization_id (btree_gin) and hold only live tickets and
their comments, so a search, and the count of its matches, reads one organization's matches.

Revision ID: 0006_tickets_org_search
Revises: 0005_exports
"""
from alembic import op

revision = '0006_tickets_org_search'
down_revision = '0005_exports'
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    if not _postgresql():
        return  # SQLite searches with LIKE scans: there is no trigram index to build
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gin')
    op.create_index('idx_ticket_org_live_search_gin', 'tickets', ['organization_id', 'subject', 'description'],
                    unique=False, postgresql_using='gin',
                    postgresql_ops={'subject': 'gin_trgm_ops', 'description': 'gin_trgm_ops'},
                    postgresql_where='is_active')
    op.create_index('idx_comment_org_search_gin', 'ticket_comments', ['organization_id', 'content'], unique=False,
                    postgresql_using='gin', postgresql_ops={'content': 'gin_trgm_ops'})


def downgrade():
    if not _postgresql():
        return
    op.drop_index('idx_comment_org_search_gin', table_name='ticket_comments')
    op.drop_index('idx_ticket_org_live_search_gin', table_name='tickets')

"""tickets: helpdesk tickets, comments, attachments, SLA, knowledge base

Revision ID: 0003_tickets
Revises: 0002_rules
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

revision = '0003_tickets'
down_revision = '0002_rules'
branch_labels = None
depends_on = None


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade():
    op.create_table('sla_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('low_first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('low_resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('medium_first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('medium_resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('high_first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('high_resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('urgent_first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('urgent_resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('business_hours_only', sa.Boolean(), nullable=False),
    sa.Column('business_days', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('business_start', sa.Time(), nullable=True),
    sa.Column('business_end', sa.Time(), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('low_first_response_minutes > 0 AND medium_first_response_minutes > 0 AND high_first_response_minutes > 0 AND urgent_first_response_minutes > 0 AND low_resolution_minutes > 0 AND medium_resolution_minutes > 0 AND high_resolution_minutes > 0 AND urgent_resolution_minutes > 0', name='check_sla_targets_positive'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_sla_policies_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies'))
    )
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.create_index('exclude_overlapping_sla_policies', ['organization_id', 'name'], unique=True, postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active = 1'))
        batch_op.create_index(batch_op.f('ix_sla_policies_organization_id'), ['organization_id'], unique=False)

    op.create_table('ticket_counters',
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ticket_counters_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_ticket_counters'))
    )
    op.create_table('knowledge_articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('is_published', sa.Boolean(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_knowledge_articles_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_knowledge_articles_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_articles'))
    )
    with op.batch_alter_table('knowledge_articles', schema=None) as batch_op:
        batch_op.create_index('idx_kb_org_published', ['organization_id', 'is_published'], unique=False)
        batch_op.create_index(batch_op.f('ix_knowledge_articles_organization_id'), ['organization_id'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_number', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('assigned_agent_id', sa.Integer(), nullable=True),
    sa.Column('sla_policy_id', sa.Integer(), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('custom_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('first_response_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sla_breach', sa.Boolean(), nullable=False),
    sa.Column('sla_paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sla_paused_seconds', sa.Integer(), nullable=False),
    sa.Column('first_responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('time_to_first_response', sa.Integer(), nullable=True),
    sa.Column('customer_satisfaction_score', sa.SmallInteger(), nullable=True),
    sa.Column('satisfaction_comment', sa.Text(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deletion_metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('can_be_restored', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('auto_delete_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delete_reason', sa.String(length=255), server_default='', nullable=False),
    sa.Column('deleted_by_id', sa.Integer(), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'urgent')", name='check_ticket_priority_valid'),
    sa.CheckConstraint("status IN ('new', 'open', 'pending', 'resolved', 'closed', 'cancelled')", name='check_ticket_status_valid'),
    sa.CheckConstraint('customer_satisfaction_score IS NULL OR (customer_satisfaction_score >= 1 AND customer_satisfaction_score <= 5)', name='check_ticket_satisfaction_score_range'),
    sa.CheckConstraint('resolved_at IS NULL OR resolved_at >= created_at', name='check_ticket_resolved_after_created'),
    sa.CheckConstraint('time_to_first_response IS NULL OR time_to_first_response >= 0', name='check_ticket_first_response_time_positive'),
    sa.CheckConstraint('updated_at >= created_at', name='check_ticket_updated_after_created'),
    sa.ForeignKeyConstraint(['assigned_agent_id'], ['users.id'], name=op.f('fk_tickets_assigned_agent_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['users.id'], name=op.f('fk_tickets_customer_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['deleted_by_id'], ['users.id'], name=op.f('fk_tickets_deleted_by_id_users'), ondelete='SET NULL', use_alter=True),
    sa.ForeignKeyConstraint(['merged_into_id'], ['tickets.id'], name=op.f('fk_tickets_merged_into_id_tickets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_tickets_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sla_policy_id'], ['sla_policies.id'], name=op.f('fk_tickets_sla_policy_id_sla_policies'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('organization_id', 'ticket_number', name='unique_org_ticket_number')
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('idx_ticket_active_org_agent', ['organization_id', 'assigned_agent_id'], unique=False, postgresql_where=sa.text("status IN ('new', 'open', 'pending')"), sqlite_where=sa.text("status IN ('new', 'open', 'pending')"))
        batch_op.create_index('idx_ticket_first_response_due', ['first_response_due'], unique=False)
        batch_op.create_index('idx_ticket_org_agent', ['organization_id', 'assigned_agent_id'], unique=False)
        batch_op.create_index('idx_ticket_org_agent_status', ['organization_id', 'assigned_agent_id', 'status'], unique=False)
        batch_op.create_index('idx_ticket_org_customer', ['organization_id', 'customer_id'], unique=False)
        batch_op.create_index('idx_ticket_org_live_number', ['organization_id', 'is_active', 'ticket_number'], unique=False)
        batch_op.create_index('idx_ticket_org_priority_status', ['organization_id', 'priority', 'status'], unique=False)
        batch_op.create_index('idx_ticket_org_status', ['organization_id', 'status'], unique=False)
        batch_op.create_index('idx_ticket_org_status_priority', ['organization_id', 'status', 'priority'], unique=False)
        batch_op.create_index('idx_ticket_resolution_due', ['resolution_due'], unique=False)
        batch_op.create_index('idx_ticket_sla_breach', ['sla_breach'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_auto_delete_at'), ['auto_delete_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_organization_id'), ['organization_id'], unique=False)

    op.create_table('ticket_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('comment_type', sa.String(length=10), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("comment_type IN ('reply', 'note')", name='check_comment_type_valid'),
    sa.CheckConstraint('length(content) > 0', name='check_comment_content_not_empty'),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_ticket_comments_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ticket_comments_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_comments_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_comments'))
    )
    with op.batch_alter_table('ticket_comments', schema=None) as batch_op:
        batch_op.create_index('idx_comment_ticket_created', ['ticket_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_comments_organization_id'), ['organization_id'], unique=False)

    op.create_table('ticket_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('field', sa.String(length=50), nullable=False),
    sa.Column('old_value', sa.Text(), nullable=False),
    sa.Column('new_value', sa.Text(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_ticket_history_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ticket_history_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_history_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_history'))
    )
    with op.batch_alter_table('ticket_history', schema=None) as batch_op:
        batch_op.create_index('idx_history_ticket_created', ['ticket_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_history_organization_id'), ['organization_id'], unique=False)

    op.create_table('ticket_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('storage_path', sa.String(length=255), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('download_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('download_count >= 0', name='check_attachment_download_count_positive'),
    sa.CheckConstraint('size >= 0', name='check_attachment_size_positive'),
    sa.ForeignKeyConstraint(['comment_id'], ['ticket_comments.id'], name=op.f('fk_ticket_attachments_comment_id_ticket_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ticket_attachments_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_attachments_ticket_id_tickets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_ticket_attachments_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_attachments'))
    )
    with op.batch_alter_table('ticket_attachments', schema=None) as batch_op:
        batch_op.create_index('idx_attachment_ticket', ['ticket_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_attachments_organization_id'), ['organization_id'], unique=False)

    if _is_postgresql():
        # Trigram GIN indexes for search (ILIKE '%...%'), JSONB GIN indexes for tags and custom fields.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        # Alembic leaves use_alter foreign keys out of CREATE TABLE on PostgreSQL; add it now.
        op.create_foreign_key(op.f('fk_tickets_deleted_by_id_users'), 'tickets', 'users',
                              ['deleted_by_id'], ['id'], ondelete='SET NULL')
        op.create_index('idx_kb_search_gin', 'knowledge_articles', ['title', 'content'], unique=False, postgresql_using='gin', postgresql_ops={'title': 'gin_trgm_ops', 'content': 'gin_trgm_ops'})
        op.create_index('idx_ticket_custom_fields_gin', 'tickets', ['custom_fields'], unique=False, postgresql_using='gin')
        op.create_index('idx_ticket_search_gin', 'tickets', ['subject', 'description'], unique=False, postgresql_using='gin', postgresql_ops={'subject': 'gin_trgm_ops', 'description': 'gin_trgm_ops'})
        op.create_index('idx_ticket_tags_gin', 'tickets', ['tags'], unique=False, postgresql_using='gin')
        op.create_index('idx_comment_search_gin', 'ticket_comments', ['content'], unique=False, postgresql_using='gin', postgresql_ops={'content': 'gin_trgm_ops'})


def downgrade():
    if _is_postgresql():
        op.drop_index('idx_comment_search_gin', table_name='ticket_comments')
        op.drop_index('idx_ticket_tags_gin', table_name='tickets')
        op.drop_index('idx_ticket_search_gin', table_name='tickets')
        op.drop_index('idx_ticket_custom_fields_gin', table_name='tickets')
        op.drop_index('idx_kb_search_gin', table_name='knowledge_articles')
    with op.batch_alter_table('ticket_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_attachments_organization_id'))
        batch_op.drop_index('idx_attachment_ticket')

    op.drop_table('ticket_attachments')
    with op.batch_alter_table('ticket_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_history_organization_id'))
        batch_op.drop_index('idx_history_ticket_created')

    op.drop_table('ticket_history')
    with op.batch_alter_table('ticket_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_comments_organization_id'))
        batch_op.drop_index('idx_comment_ticket_created')

    op.drop_table('ticket_comments')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_organization_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_auto_delete_at'))
        batch_op.drop_index('idx_ticket_sla_breach')
        batch_op.drop_index('idx_ticket_resolution_due')
        batch_op.drop_index('idx_ticket_org_status_priority')
        batch_op.drop_index('idx_ticket_org_status')
        batch_op.drop_index('idx_ticket_org_priority_status')
        batch_op.drop_index('idx_ticket_org_live_number')
        batch_op.drop_index('idx_ticket_org_customer')
        batch_op.drop_index('idx_ticket_org_agent_status')
        batch_op.drop_index('idx_ticket_org_agent')
        batch_op.drop_index('idx_ticket_first_response_due')
        batch_op.drop_index('idx_ticket_active_org_agent', postgresql_where=sa.text("status IN ('new', 'open', 'pending')"), sqlite_where=sa.text("status IN ('new', 'open', 'pending')"))

    op.drop_table('tickets')
    with op.batch_alter_table('knowledge_articles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_articles_organization_id'))
        batch_op.drop_index('idx_kb_org_published')

    op.drop_table('knowledge_articles')
    op.drop_table('ticket_counters')
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_policies_organization_id'))
        batch_op.drop_index('exclude_overlapping_sla_policies', postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active = 1'))

    op.drop_table('sla_policies')

"""tickets: the email channel (support mailboxes fetched over IMAP, and every received message's record)

Revision ID: 0020_tickets_email_channel
Revises: 0019_tickets_canned_kb
"""
from alembic import op
import sqlalchemy as sa

revision = '0020_tickets_email_channel'
down_revision = '0019_tickets_canned_kb'
branch_labels = None
depends_on = None


def _stamps():
    return [sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('organization_id', sa.Integer(), nullable=False)]


def upgrade():
    op.create_table(
        'ticket_mailboxes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('email_address', sa.String(length=320), nullable=False),
        sa.Column('imap_host', sa.String(length=255), nullable=False),
        sa.Column('imap_port', sa.Integer(), nullable=False),
        sa.Column('security', sa.String(length=10), nullable=False),
        sa.Column('username', sa.String(length=320), nullable=False),
        sa.Column('password_sealed', sa.Text(), nullable=False),
        sa.Column('folder', sa.String(length=255), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('allow_new_customers', sa.Boolean(), nullable=False),
        sa.Column('last_fetch_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('imported_count', sa.Integer(), nullable=False),
        *_stamps(),
        sa.CheckConstraint("security IN ('ssl', 'starttls', 'none')", name='check_mailbox_security_valid'),
        sa.CheckConstraint('imap_port > 0 AND imap_port < 65536', name='check_mailbox_port_range'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('organization_id', 'email_address', name='unique_org_mailbox_address'),
    )
    with op.batch_alter_table('ticket_mailboxes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_mailboxes_organization_id'), ['organization_id'], unique=False)
    op.create_table(
        'ticket_inbound_emails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('mailbox_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.String(length=512), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('from_address', sa.String(length=320), nullable=False),
        sa.Column('from_name', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.String(length=998), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('comment_id', sa.Integer(), nullable=True),
        sa.Column('raw_path', sa.String(length=255), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        *_stamps(),
        sa.CheckConstraint("status IN ('imported', 'ignored', 'held', 'rejected', 'discarded')",
                           name='check_inbound_status_valid'),
        sa.ForeignKeyConstraint(['comment_id'], ['ticket_comments.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['mailbox_id'], ['ticket_mailboxes.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('organization_id', 'message_id', name='unique_org_inbound_message_id'),
    )
    with op.batch_alter_table('ticket_inbound_emails', schema=None) as batch_op:
        batch_op.create_index('idx_inbound_org_status', ['organization_id', 'status'], unique=False)
        batch_op.create_index('idx_inbound_ticket', ['ticket_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_inbound_emails_organization_id'), ['organization_id'],
                              unique=False)


def downgrade():
    op.drop_table('ticket_inbound_emails')
    op.drop_table('ticket_mailboxes')

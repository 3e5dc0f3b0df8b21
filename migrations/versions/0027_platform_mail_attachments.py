"""platform: mail_outbox.attachments, files a queued message carries (by reference)

Scheduled exports mailed their file with smtplib directly, outside the outbox: an
SMTP failure lost the mail and a retry of the job could send it twice. The
outbox now carries attachments as references to files under STORAGE_DIR (path,
name, type, size, sha256), not their bytes: an export's file is already stored
and published atomically, a message goes to several recipients, and the size
is checked again when the message is sent.

Revision ID: 0027_platform_mail_attachments
Revises: 0022_accounts_security
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0027_platform_mail_attachments"
down_revision = "0026_search_and_checks"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mail_outbox') as batch_op:
        batch_op.add_column(sa.Column(
            'attachments', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=False, server_default='[]'))


def downgrade():
    with op.batch_alter_table('mail_outbox') as batch_op:
        batch_op.drop_column('attachments')

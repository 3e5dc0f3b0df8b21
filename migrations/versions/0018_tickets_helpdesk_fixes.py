"""tickets: every organization has a default SLA policy; tag changes are internal history

New organizations get a "Default" policy from a hook (app.tickets.hooks); this gives one
to existing organizations that have no policy at all, so their new tickets have clocks.
Tags are the team's labels, no longer shown to customers: their past changes in the
timeline become internal too.

Revision ID: 0018_tickets_helpdesk_fixes
Revises: 0017_platform_idempotency_keys
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

revision = '0018_tickets_helpdesk_fixes'
down_revision = '0017_platform_idempotency_keys'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    orgs = bind.execute(sa.text(
        "SELECT id FROM organizations WHERE id NOT IN (SELECT organization_id FROM sla_policies)")).scalars().all()
    now = datetime.now(timezone.utc)
    policies = sa.table(
        'sla_policies', sa.column('organization_id', sa.Integer), sa.column('name', sa.String),
        sa.column('is_active', sa.Boolean), sa.column('is_default', sa.Boolean),
        *(sa.column(f'{p}_{k}_minutes', sa.Integer) for p in ('low', 'medium', 'high', 'urgent')
          for k in ('first_response', 'resolution')),
        sa.column('business_hours_only', sa.Boolean), sa.column('business_days', sa.JSON),
        sa.column('business_start', sa.Time), sa.column('business_end', sa.Time), sa.column('timezone', sa.String),
        sa.column('created_at', sa.DateTime(timezone=True)), sa.column('updated_at', sa.DateTime(timezone=True)))
    targets = dict(low_first_response_minutes=1440, low_resolution_minutes=7200, medium_first_response_minutes=480,
                   medium_resolution_minutes=2880, high_first_response_minutes=120, high_resolution_minutes=960,
                   urgent_first_response_minutes=30, urgent_resolution_minutes=240)
    if orgs:
        op.bulk_insert(policies, [dict(organization_id=org_id, name='Default', is_active=True, is_default=True,
                                       business_hours_only=False, business_days=[0, 1, 2, 3, 4],
                                       business_start=None, business_end=None, timezone='UTC',
                                       created_at=now, updated_at=now, **targets) for org_id in orgs])
    bind.execute(sa.text("UPDATE ticket_history SET internal = :yes WHERE field = 'tags'"), {"yes": True})


def downgrade():
    pass  # the policies are ordinary, editable rows; tag history stays internal

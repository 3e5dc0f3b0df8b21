"""platform: drop single-column indexes that a composite index or unique constraint already leads with

The index analyzer (`flask db-indexes`) listed them: each costs every insert and update
and serves no query that the wider index doesn't. Indexes the seeds name are kept even
where they are redundant (tests/operator/test_index_report.py lists those).

Revision ID: 0023_platform_redundant_indexes
Revises: 0022_accounts_security
"""
from alembic import op

revision = "0023_platform_redundant_indexes"
down_revision = "0022_accounts_security"
branch_labels = None
depends_on = None

# (table, column): the index Flask-SQLAlchemy named ix_<table>_<column>
REDUNDANT = [
    ("audit_events", "organization_id"),
    ("background_tasks", "organization_id"),
    ("canned_replies", "organization_id"),
    ("knowledge_articles", "organization_id"),
    ("project_templates", "organization_id"),
    ("projects", "organization_id"),
    ("ticket_inbound_emails", "organization_id"),
    ("ticket_mailboxes", "organization_id"),
    ("ticket_saved_views", "organization_id"),
    ("tickets", "organization_id"),
    ("time_entries", "organization_id"),
    ("users", "organization_id"),
    ("workspaces", "organization_id"),
    ("conflict_checks", "workspace_id"),
    ("generations", "workspace_id"),
    ("rule_dimensions", "workspace_id"),
    ("rule_platforms", "workspace_id"),
    ("rule_propagations", "workspace_id"),
    ("rules", "workspace_id"),
    ("strings", "workspace_id"),
    ("project_meta", "project_id"),
    ("export_requests", "status"),
]


def upgrade():
    for table, column in REDUNDANT:
        op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade():
    for table, column in REDUNDANT:
        op.create_index(f"ix_{table}_{column}", table, [column])

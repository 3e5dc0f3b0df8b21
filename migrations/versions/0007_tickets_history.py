"""tickets: the history becomes the ticket's timeline (events, internal entries, links to comments)

ticket_history gains `event` (created, changed, reply, note, attachment, merged_in, deleted,
restored), `internal` (never shown to customers) and `comment_id`. Existing tickets get their
timeline back-filled: their creation, their replies and notes, and their files; the old
"In trash" field changes become deleted/restored events, and staff-only fields are marked internal.

Revision ID: 0007_tickets_history
Revises: 0006_tickets_org_search
"""
from alembic import op
import sqlalchemy as sa

revision = '0007_tickets_history'
down_revision = '0006_tickets_org_search'
branch_labels = None
depends_on = None

EVENTS = "event IN ('created', 'changed', 'reply', 'note', 'attachment', 'merged_in', 'deleted', 'restored')"
INTERNAL_FIELDS = ("custom_fields", "sla_policy_id", "first_response_due", "resolution_due", "sla_breach")
COLUMNS = "organization_id, ticket_id, actor_id, created_at, event, internal, comment_id, field, old_value, new_value"


def _execute(sql: str, **params) -> None:
    """Run `sql` with :yes/:no bound as booleans (each dialect writes them its own way)."""
    flags = {name: value for name, value in (("yes", True), ("no", False)) if f":{name}" in sql}
    statement = sa.text(sql).bindparams(**flags)
    if params:
        statement = statement.bindparams(*(sa.bindparam(name, value, expanding=isinstance(value, (list, tuple)))
                                           for name, value in params.items()))
    op.execute(statement)


def upgrade():
    with op.batch_alter_table('ticket_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=20), server_default='changed', nullable=False))
        batch_op.add_column(sa.Column('internal', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('comment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ticket_history_comment_id_ticket_comments'), 'ticket_comments',
                                    ['comment_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint('check_history_event_valid', EVENTS)

    _execute(
        "UPDATE ticket_history SET event = CASE WHEN new_value = 'yes' THEN 'deleted' ELSE 'restored' END, "
        "internal = :yes, field = '', old_value = '', new_value = '' WHERE field = 'is_active'")
    _execute("UPDATE ticket_history SET internal = :yes WHERE field IN :fields", fields=list(INTERNAL_FIELDS))
    _execute(
        f"INSERT INTO ticket_history ({COLUMNS}) SELECT organization_id, id, NULL, created_at, 'created', :no, NULL, "
        "'', '', subject FROM tickets")
    _execute(
        f"INSERT INTO ticket_history ({COLUMNS}) SELECT organization_id, ticket_id, author_id, created_at, "
        "CASE WHEN comment_type = 'note' THEN 'note' ELSE 'reply' END, "
        "CASE WHEN comment_type = 'note' THEN :yes ELSE :no END, id, '', '', substr(content, 1, 200) "
        "FROM ticket_comments")
    _execute(
        f"INSERT INTO ticket_history ({COLUMNS}) SELECT a.organization_id, a.ticket_id, a.uploaded_by_id, "
        "a.created_at, 'attachment', CASE WHEN c.comment_type = 'note' THEN :yes ELSE :no END, a.comment_id, "
        "'', '', a.original_name FROM ticket_attachments a LEFT JOIN ticket_comments c ON c.id = a.comment_id")


def downgrade():
    _execute(
        "UPDATE ticket_history SET field = 'is_active', old_value = CASE WHEN event = 'deleted' THEN 'no' ELSE 'yes' END, "
        "new_value = CASE WHEN event = 'deleted' THEN 'yes' ELSE 'no' END WHERE event IN ('deleted', 'restored')")
    _execute("DELETE FROM ticket_history WHERE event NOT IN ('changed', 'deleted', 'restored')")
    with op.batch_alter_table('ticket_history', schema=None) as batch_op:
        batch_op.drop_constraint('check_history_event_valid', type_='check')
        batch_op.drop_constraint(batch_op.f('fk_ticket_history_comment_id_ticket_comments'), type_='foreignkey')
        batch_op.drop_column('comment_id')
        batch_op.drop_column('internal')
        batch_op.drop_column('event')

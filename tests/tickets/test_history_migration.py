"""Revision 0008 turns an existing history into the timeline: back-filled creations, replies, notes and files,
the old "In trash" changes as events, and staff-only entries marked internal; downgrading gives the old rows back."""
from datetime import datetime, timezone

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app.extensions import db
from tests.platform.test_migrations import MIGRATIONS, _script_directory, fresh_app, fresh_database_url  # noqa: F401

REVISION = "0007_tickets_history"
WHEN = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def _insert(conn, table: str, **values) -> int:
    table_ = sa.Table(table, sa.MetaData(), autoload_with=conn)
    return conn.execute(table_.insert().values(**values).returning(table_.c[list(table_.primary_key)[0].name])).scalar_one()


def _old_helpdesk(conn) -> dict:
    """One ticket as revision 0007 stored it: a reply, a note with a file, a field change, a trip to the trash."""
    stamps = {"created_at": WHEN, "updated_at": WHEN}
    org = _insert(conn, "organizations", name="Acme", slug="acme", subscription_tier="free", settings={}, **stamps)
    user = _insert(conn, "users", email="a@acme.test", full_name="A", role="agent", availability_status="online",
                   max_concurrent_tickets=10, skills=[], certifications=[], customer_tier="basic",
                   credentials_version=1, organization_id=org, **stamps)
    customer = _insert(conn, "users", email="c@acme.test", full_name="C", role="customer",
                       availability_status="offline", max_concurrent_tickets=10, skills=[], certifications=[],
                       customer_tier="basic", credentials_version=1, organization_id=org, **stamps)
    ticket = _insert(conn, "tickets", ticket_number=1, subject="Old ticket", description="", status="open",
                     priority="medium", customer_id=customer, tags=[], custom_fields={}, sla_breach=False,
                     sla_paused_seconds=0, satisfaction_comment="", deletion_metadata={}, organization_id=org, **stamps)
    common = {"organization_id": org, "ticket_id": ticket, **stamps}
    reply = _insert(conn, "ticket_comments", author_id=customer, comment_type="reply", content="Public words", **common)
    note = _insert(conn, "ticket_comments", author_id=user, comment_type="note", content="Secret words", **common)
    _insert(conn, "ticket_attachments", comment_id=note, uploaded_by_id=user, storage_path="x", original_name="secret.pdf",
            content_type="application/pdf", size=1, sha256="", download_count=0, **common)
    history = {"organization_id": org, "ticket_id": ticket, "actor_id": user, "created_at": WHEN}
    _insert(conn, "ticket_history", field="custom_fields", old_value="", new_value="plan: gold", **history)
    _insert(conn, "ticket_history", field="is_active", old_value="no", new_value="yes", **history)
    _insert(conn, "ticket_history", field="status", old_value="new", new_value="open", **history)
    return {"ticket": ticket, "reply": reply, "note": note}


def _rows(conn):
    return conn.execute(sa.text("SELECT event, field, internal, comment_id, new_value FROM ticket_history "
                                "ORDER BY id")).all()


def test_upgrade_backfills_the_timeline_and_downgrade_restores_the_old_rows(fresh_app):  # noqa: F811
    before = _script_directory().get_revision(REVISION).down_revision
    upgrade(directory=str(MIGRATIONS), revision=before)
    with db.engine.begin() as conn:
        ids = _old_helpdesk(conn)

    upgrade(directory=str(MIGRATIONS), revision=REVISION)
    with db.engine.connect() as conn:
        rows = [(event, field, bool(internal), comment_id, value) for event, field, internal, comment_id, value in _rows(conn)]
    assert rows == [
        ("changed", "custom_fields", True, None, "plan: gold"),
        ("deleted", "", True, None, ""),
        ("changed", "status", False, None, "open"),
        ("created", "", False, None, "Old ticket"),
        ("reply", "", False, ids["reply"], "Public words"),
        ("note", "", True, ids["note"], "Secret words"),
        ("attachment", "", True, ids["note"], "secret.pdf"),
    ]

    downgrade(directory=str(MIGRATIONS), revision=before)
    with db.engine.connect() as conn:
        old = conn.execute(sa.text("SELECT field, old_value, new_value FROM ticket_history ORDER BY id")).all()
    assert [tuple(r) for r in old] == [("custom_fields", "", "plan: gold"), ("is_active", "no", "yes"),
                                       ("status", "new", "open")]

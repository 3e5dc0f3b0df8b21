"""Seed 001's database constraints hold even when validation is bypassed (Core inserts, raw SQL)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from app.accounts.models import User, UserPermission, UserSession, Workspace
from app.extensions import db
from tests.factories import make_member, make_organization

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture()
def acme(app_ctx):
    org = make_organization("Acme")
    return {"org": org, "user": make_member(org, "agent", "agent@acme.example.com")}


def _user_row(org_id: int, **fields) -> dict:
    row = {"email": "raw@example.com", "full_name": "Raw", "role": "agent", "availability_status": "online", "max_concurrent_tickets": 10,
           "skills": [], "certifications": [], "customer_tier": "basic", "credentials_version": 1,
           "created_at": NOW, "updated_at": NOW, "is_active": True, "delete_reason": "", "organization_id": org_id}
    row.update(fields)
    return row


def _insert_fails(table, row: dict, constraint: str) -> None:
    """A Core insert on its own connection: no ORM, no hooks, no validation."""
    with pytest.raises(sa.exc.IntegrityError) as caught:
        with db.engine.begin() as conn:
            conn.execute(sa.insert(table), [row])
    message = str(caught.value.orig).lower()
    dialect = db.engine.dialect.name
    # PostgreSQL names the violated constraint; SQLite names CHECK constraints, and the columns of UNIQUE ones.
    assert constraint.lower() in message or (dialect == "sqlite" and "unique" in message), message


def _insert_ok(table, row: dict) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.insert(table), [row])


@pytest.mark.parametrize("bad,good,constraint", [
    ({"max_concurrent_tickets": 0}, {"max_concurrent_tickets": 1}, "check_user_max_tickets_range"),
    ({"max_concurrent_tickets": 101}, {"max_concurrent_tickets": 100}, "check_user_max_tickets_range"),
    ({"role": "root", "availability_status": "offline"}, {"role": "customer", "availability_status": "offline"},
     "check_user_role_valid"),
    ({"role": "agent", "customer_tier": "premium"}, {"role": "customer", "customer_tier": "premium",
                                                     "availability_status": "offline"},
     "check_user_customer_tier_only_for_customers"),
    ({"role": "customer", "availability_status": "online"}, {"role": "agent", "availability_status": "online"},
     "check_user_availability_only_for_agents"),
])
def test_user_check_constraints(acme, bad, good, constraint):
    org_id = acme["org"].id
    _insert_fails(User.__table__, _user_row(org_id, email="bad@example.com", **bad), constraint)
    # The control: the same row with an allowed value goes in.
    _insert_ok(User.__table__, _user_row(org_id, email="good@example.com", **good))


def test_customer_tier_and_availability_are_allowed_for_the_right_roles(acme):
    org_id = acme["org"].id
    _insert_ok(User.__table__, _user_row(org_id, email="c@example.com", role="customer", customer_tier="enterprise",
                                         availability_status="offline"))
    _insert_ok(User.__table__, _user_row(org_id, email="m@example.com", role="manager", availability_status="busy"))


def test_workspace_slug_is_unique_per_organization(acme):
    org_id = acme["org"].id
    row = {"organization_id": org_id, "name": "Dup", "slug": "general", "description": "", "created_at": NOW,
           "updated_at": NOW, "deletion_metadata": {}, "can_be_restored": True, "is_active": True, "delete_reason": ""}
    _insert_fails(Workspace.__table__, row, "unique_org_slug")
    other = make_organization("Other", workspaces=())
    _insert_ok(Workspace.__table__, {**row, "organization_id": other.id})  # same slug, other organization


def test_a_permission_is_granted_once_per_user(acme):
    user_id = acme["user"].id
    row = {"user_id": user_id, "permission": "view_usage", "created_at": NOW, "updated_at": NOW}
    _insert_ok(UserPermission.__table__, row)
    _insert_fails(UserPermission.__table__, row, "unique_user_permission")
    _insert_ok(UserPermission.__table__, {**row, "permission": "purge_trash"})


def test_one_active_session_per_user_and_key(acme):
    user_id = acme["user"].id
    row = {"user_id": user_id, "session_key": "same-key", "is_active": True, "remember": False, "last_seen_at": NOW,
           "end_reason": "", "ip_address": "", "user_agent": "", "created_at": NOW, "updated_at": NOW}
    _insert_ok(UserSession.__table__, row)
    _insert_fails(UserSession.__table__, row, "exclude_duplicate_active_sessions")
    # Ended sessions don't count: the constraint is partial (WHERE is_active).
    _insert_ok(UserSession.__table__, {**row, "is_active": False})
    _insert_ok(UserSession.__table__, {**row, "is_active": False})


def test_raw_sql_is_refused_too(acme):
    with pytest.raises(sa.exc.IntegrityError):
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET role = 'superuser' WHERE id = :id"), {"id": acme["user"].id})
    with pytest.raises(sa.exc.IntegrityError):
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET max_concurrent_tickets = 1000 WHERE id = :id"), {"id": acme["user"].id})
    db.session.expire_all()
    user = db.session.get(User, acme["user"].id)
    assert (user.role, user.max_concurrent_tickets) == ("agent", 10)

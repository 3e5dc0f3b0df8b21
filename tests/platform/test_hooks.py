"""Model hooks (seed 001): the twelve types fire, in the order app/platform/hooks.py documents."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import AuditEvent, User, UserSession, Workspace
from app.extensions import db
from app.platform.hooks import HOOK_TYPES, ModelHookRegistry, hook_registry
from app.platform.models import EnhancedSoftDeleteMixin, utcnow
from app.platform.validation import ModelValidationError
from tests.factories import make_member, make_organization


@pytest.fixture()
def hooks():
    """Register hooks for one test only."""
    registered = []

    def register(hook_type, model, function):
        hook_registry.register_hook(hook_type, model, function)
        registered.append((hook_type, model, function))
        return function

    yield register
    for hook_type, model, function in registered:
        hook_registry.unregister_hook(hook_type, model, function)


@pytest.fixture()
def calls(hooks):
    """Record every hook type on Workspace as (hook type, workspace name)."""
    seen: list[tuple[str, str]] = []
    for hook_type in HOOK_TYPES:
        hooks(hook_type, Workspace, lambda ws, _t=hook_type, **ctx: seen.append((_t, ws.name)))
    return seen


def test_all_twelve_hook_types_fire_in_the_documented_order(app_ctx, calls):
    org = make_organization("Acme", workspaces=())
    calls.clear()
    workspace = Workspace(organization_id=org.id, name="Ops", slug="ops")
    db.session.add(workspace)
    db.session.commit()
    assert calls == [("before_create", "Ops"), ("before_save", "Ops"), ("after_save", "Ops"), ("after_create", "Ops")]

    calls.clear()
    workspace.name = "Operations"
    db.session.commit()
    assert calls == [("before_update", "Operations"), ("before_save", "Operations"),
                     ("after_save", "Operations"), ("after_update", "Operations")]

    calls.clear()
    workspace.soft_delete(reason="done", retention_days=30)
    assert calls == [("before_soft_delete", "Operations"), ("after_soft_delete", "Operations")]
    db.session.commit()  # the soft delete is an update when flushed
    assert calls[2:] == [("before_update", "Operations"), ("before_save", "Operations"),
                         ("after_save", "Operations"), ("after_update", "Operations")]

    calls.clear()
    workspace.restore()
    assert calls == [("before_restore", "Operations"), ("after_restore", "Operations")]
    db.session.commit()
    assert [c[0] for c in calls[2:]] == ["before_update", "before_save", "after_save", "after_update"]

    calls.clear()
    db.session.delete(workspace)
    db.session.commit()
    assert calls == [("before_delete", "Operations"), ("after_delete", "Operations")]
    assert {t for t in HOOK_TYPES} == {"before_save", "after_save", "before_create", "after_create", "before_update",
                                       "after_update", "before_delete", "after_delete", "before_restore",
                                       "after_restore", "before_soft_delete", "after_soft_delete"}


def test_soft_delete_hooks_see_the_row_before_and_after_the_change(app_ctx, hooks):
    make_organization("Acme", workspaces=("General", "Spare"))
    spare = db.session.scalars(sa.select(Workspace).where(Workspace.slug == "spare")).one()
    states = []
    hooks("before_soft_delete", Workspace, lambda ws, **ctx: states.append(("before", ws.is_active, ctx["reason"])))
    hooks("after_soft_delete", Workspace, lambda ws, **ctx: states.append(("after", ws.is_active, ctx["reason"])))
    hooks("before_restore", Workspace, lambda ws, **ctx: states.append(("before_restore", ws.is_active)))
    hooks("after_restore", Workspace, lambda ws, **ctx: states.append(("after_restore", ws.is_active)))
    spare.soft_delete(reason="tidy")
    spare.restore()
    assert states == [("before", True, "tidy"), ("after", False, "tidy"), ("before_restore", False),
                      ("after_restore", True)]
    db.session.rollback()


def test_update_hooks_receive_the_changed_columns(app_ctx, hooks):
    make_organization("Acme")
    seen = []
    hooks("after_update", Workspace, lambda ws, changes, **ctx: seen.append(changes))
    workspace = db.session.scalars(sa.select(Workspace)).one()
    workspace.description = "Everyday work"
    db.session.commit()
    assert seen[0]["description"] == ("", "Everyday work")
    assert "name" not in seen[0]


def test_before_hooks_fill_fields_that_validation_then_checks(app_ctx, hooks):
    org = make_organization("Acme", workspaces=())

    def slug_from_name(ws, **ctx):
        if not ws.slug:
            ws.slug = ws.name.lower().replace(" ", "-")

    hooks("before_create", Workspace, slug_from_name)
    db.session.add(Workspace(organization_id=org.id, name="Field Team"))
    db.session.commit()  # the slug was required; the hook supplied it before the rules ran
    assert db.session.scalars(sa.select(Workspace.slug)).all() == ["field-team"]

    db.session.add(Workspace(organization_id=org.id, name="Bad Name!"))
    with pytest.raises(ModelValidationError) as caught:  # the hook's value is checked too
        db.session.commit()
    assert caught.value.errors == {"slug": ["Slug may contain lowercase letters, digits and dashes."]}
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Workspace)) == 1


def test_after_hooks_can_add_rows_audit_events_are_written(app_ctx, hooks):
    org = make_organization("Acme", workspaces=())
    db.session.add(Workspace(organization_id=org.id, name="Ops", slug="ops"))
    db.session.commit()
    [event] = db.session.scalars(sa.select(AuditEvent)).all()
    assert (event.action, event.object_type, event.object_label, event.organization_id) == (
        "workspace_created", "workspace", "Ops", org.id)
    assert event.object_id is not None  # known only after the INSERT: written by an after-hook

    extra = []

    def add_a_second_workspace(ws, session, **ctx):
        if ws.slug == "ops-2" and not extra:
            extra.append(Workspace(organization_id=ws.organization_id, name="Ops shadow", slug="ops-shadow"))
            session.add(extra[0])

    hooks("after_create", Workspace, add_a_second_workspace)
    db.session.add(Workspace(organization_id=org.id, name="Ops 2", slug="ops-2"))
    db.session.commit()  # commit flushes again for what after-hooks added
    assert sorted(db.session.scalars(sa.select(Workspace.slug)).all()) == ["ops", "ops-2", "ops-shadow"]


def test_a_failed_flush_runs_no_after_hooks_and_a_retry_runs_them_once(app_ctx, hooks):
    org = make_organization("Acme", workspaces=())
    created = []
    hooks("after_create", Workspace, lambda ws, **ctx: created.append(ws.slug))
    workspace = Workspace(organization_id=org.id, name="Ops", slug="Not Valid")
    db.session.add(workspace)
    with pytest.raises(ModelValidationError):
        db.session.flush()
    assert created == []
    workspace.slug = "ops"
    db.session.commit()
    assert created == ["ops"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1


def test_rows_added_by_hooks_get_their_own_hooks(app_ctx, hooks):
    """User's before_create hook adds its preferences row; that row's hooks run in the same flush."""
    from app.accounts.models import UserPreferences

    seen = []
    hooks("before_create", UserPreferences, lambda prefs, **ctx: seen.append(("before_create", prefs.user.email)))
    hooks("after_create", UserPreferences, lambda prefs, **ctx: seen.append(("after_create", prefs.user_id)))
    org = make_organization("Acme")
    user = make_member(org, "agent", "a@acme.example.com")
    assert seen == [("before_create", "a@acme.example.com"), ("after_create", user.id)]


def test_hooks_on_a_base_class_run_for_subclasses(app_ctx, hooks):
    make_organization("Acme", workspaces=("General", "Spare"))
    seen = []
    hooks("before_soft_delete", EnhancedSoftDeleteMixin, lambda row, **ctx: seen.append(type(row).__name__))
    spare = db.session.scalars(sa.select(Workspace).where(Workspace.slug == "spare")).one()
    spare.soft_delete()
    assert seen == ["Workspace"]
    db.session.rollback()


def test_unknown_hook_types_are_refused():
    with pytest.raises(ValueError, match="Invalid hook type"):
        ModelHookRegistry().register_hook("before_everything", Workspace, lambda *a, **k: None)


def test_user_session_hook_updates_last_active_at(app_ctx):
    org = make_organization("Acme")
    user = make_member(org, "agent", "a@acme.example.com")
    assert user.last_active_at is None
    user_session = UserSession(user=user)
    db.session.add(user_session)
    db.session.commit()
    assert user.last_active_at == user_session.last_seen_at
    later = utcnow() + timedelta(minutes=5)
    user_session.last_seen_at = later
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, user.id).last_active_at == later
    # An ended session says nothing about activity.
    user_session.is_active = False
    user_session.last_seen_at = later + timedelta(hours=1)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, user.id).last_active_at == later


def test_deactivating_a_user_ends_their_sessions_through_a_hook(app_ctx):
    org = make_organization("Acme")
    admin = make_member(org, "admin", "admin@acme.example.com")
    user = make_member(org, "agent", "a@acme.example.com")
    db.session.add_all([UserSession(user=user), UserSession(user=user)])
    db.session.commit()
    user.soft_delete(user=admin, reason="left")
    db.session.commit()
    sessions = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id)).all()
    assert [(s.is_active, s.end_reason) for s in sessions] == [(False, "deactivated")] * 2
    actions = db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "user", AuditEvent.object_id == user.id).order_by(AuditEvent.id)).all()
    assert actions == ["member_added", "member_deactivated"]

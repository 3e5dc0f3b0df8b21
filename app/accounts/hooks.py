"""Model hooks of the accounts area: real work done on save, soft delete and restore."""
from __future__ import annotations

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlalchemy.orm import Session

from app.accounts.models import AuditEvent, Organization, User, UserPreferences, UserSession, Workspace
from app.platform.hooks import model_hook
from app.platform.models import utcnow
from app.platform.tenancy import forget_organization_cache

AUDITED_USER_FIELDS = ("role", "email", "full_name", "is_active", "availability_status", "customer_tier",
                       "max_concurrent_tickets")


def _actor_id() -> int | None:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.id
    return None


def _audit(session, *, organization_id, action, object_type, object_id, label, changes=None) -> None:
    session.add(
        AuditEvent(
            organization_id=organization_id,
            actor_id=_actor_id(),
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_label=(label or "")[:255],
            changes=changes or {},
        )
    )


@model_hook("before_create", User)
def give_new_user_preferences(user: User, session, **_) -> None:
    """Every user has a preferences row from the start (seed 000's one-to-one)."""
    if user.preferences is None:
        user.preferences = UserPreferences()
    user.email = (user.email or "").strip().lower()


@model_hook("before_update", User)
def normalise_email(user: User, session, changes, **_) -> None:
    if "email" in changes:
        user.email = (user.email or "").strip().lower()


@model_hook("before_save", UserSession)
def track_last_activity(user_session: UserSession, session, **_) -> None:
    """A session seen now means its user was active now (User.last_active_at)."""
    if user_session.user is not None and user_session.is_active:
        user_session.user.last_active_at = user_session.last_seen_at or utcnow()


@model_hook("after_create", User)
def audit_user_created(user: User, session, **_) -> None:
    _audit(session, organization_id=user.organization_id, action="member_added", object_type="user",
           object_id=user.id, label=user.email, changes={"role": [None, user.role]})


@model_hook("after_update", User)
def audit_user_changed(user: User, session, changes, **_) -> None:
    audited = {k: [_plain(v[0]), _plain(v[1])] for k, v in changes.items() if k in AUDITED_USER_FIELDS}
    if audited:
        action = "member_changed"
        if "is_active" in changes:
            action = "member_restored" if user.is_active else "member_deactivated"
        _audit(session, organization_id=user.organization_id, action=action, object_type="user",
               object_id=user.id, label=user.email, changes=audited)


@model_hook("before_soft_delete", User)
def end_sessions_of_deactivated_user(member: User, **_) -> None:
    """Deactivation signs the member out everywhere, at once, revokes their API tokens (restoring
    them doesn't bring the tokens back) and voids their invitation link for good."""
    from app.accounts.services import sessions_end_all
    from app.accounts.tokens import api_tokens_revoke_all

    sessions_end_all(user=member, reason="deactivated")
    api_tokens_revoke_all(user=member, reason="deactivated")
    member.credentials_version = (member.credentials_version or 0) + 1
    member.invitation_nonce_hash = None
    if not member.password_hash and member.invitation_expires_at is not None:
        member.invitation_expires_at = min(member.invitation_expires_at, utcnow())  # no longer holds the email


@model_hook("after_create", Workspace)
def audit_workspace_created(workspace: Workspace, session, **_) -> None:
    _audit(session, organization_id=workspace.organization_id, action="workspace_created", object_type="workspace",
           object_id=workspace.id, label=workspace.name)


@model_hook("after_update", Workspace)
def audit_workspace_changed(workspace: Workspace, session, changes, **_) -> None:
    interesting = {k: [_plain(v[0]), _plain(v[1])] for k, v in changes.items() if k in ("name", "slug", "is_active")}
    if interesting:
        action = "workspace_changed"
        if "is_active" in changes:
            action = "workspace_restored" if workspace.is_active else "workspace_deleted"
        _audit(session, organization_id=workspace.organization_id, action=action, object_type="workspace",
               object_id=workspace.id, label=workspace.name, changes=interesting)


@model_hook("after_delete", Workspace)
def audit_workspace_purged(workspace: Workspace, session, **_) -> None:
    _audit(session, organization_id=workspace.organization_id, action="workspace_purged", object_type="workspace",
           object_id=None, label=workspace.name)


@model_hook("before_soft_delete", Organization)
def sign_everyone_out_of_a_deleted_organization(org: Organization, **_) -> None:
    """Deleting the organization ends every member's sessions and revokes their API tokens at once
    (no page of it loads again, and an operator's restore brings back neither)."""
    from app.accounts.services import sessions_end_all
    from app.accounts.tokens import api_tokens_revoke_all
    from app.extensions import db

    for member in db.session.scalars(sa.select(User).where(User.organization_id == org.id)):
        sessions_end_all(user=member, reason="organization_deleted")
        api_tokens_revoke_all(user=member, reason="organization_deleted")


@model_hook("after_update", Organization)
def audit_organization_deleted_or_restored(org: Organization, session, changes, **_) -> None:
    if "is_active" in changes:
        _audit(session, organization_id=org.id,
               action="organization_restored" if org.is_active else "organization_deleted",
               object_type="organization", object_id=org.id, label=org.name,
               changes={"is_active": [_plain(changes["is_active"][0]), _plain(changes["is_active"][1])],
                        **({"reason": [None, org.delete_reason]} if org.delete_reason else {})})


@model_hook("before_create", Organization)
def default_organization_settings(org: Organization, session, **_) -> None:
    org.settings = {"trash_retention_days": 30, **(org.settings or {})}


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------- the organization's directory
# What the cached lists show of a member (platform.tenancy.organization_cached: the assignee choices).
DIRECTORY_USER_FIELDS = {"organization_id", "role", "email", "full_name", "is_active", "availability_status"}
_DIRECTORY_CHANGED = "directory_changed_organizations"


def _directory_changed(session, organization_id) -> None:
    if organization_id is not None:
        session.info.setdefault(_DIRECTORY_CHANGED, set()).add(organization_id)


@model_hook("before_create", User)
@model_hook("before_create", Workspace)
@model_hook("before_delete", User)
@model_hook("before_delete", Workspace)
def directory_member_added_or_removed(row, session, **_) -> None:
    _directory_changed(session, row.organization_id or (row.organization.id if row.organization else None))


@model_hook("before_update", User)
def directory_member_changed(user: User, session, changes, **_) -> None:
    if DIRECTORY_USER_FIELDS & set(changes):
        _directory_changed(session, user.organization_id)


@model_hook("before_update", Workspace)
def directory_workspace_changed(workspace: Workspace, session, **_) -> None:
    _directory_changed(session, workspace.organization_id)


@sa.event.listens_for(Session, "after_flush")
def bump_directory_versions(session, _flush_context) -> None:
    """One UPDATE per flush, in its transaction: other processes see the new version once it commits."""
    changed = session.info.pop(_DIRECTORY_CHANGED, None)
    if not changed:
        return
    session.connection().execute(sa.update(Organization).where(Organization.id.in_(sorted(changed)))
                                 .values(directory_version=Organization.directory_version + 1))
    for organization_id in changed:
        forget_organization_cache(organization_id)  # this process may still hold the old version's lists

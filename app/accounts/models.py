"""Organizations (the tenant), users, workspaces, preferences and server-side sessions."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.platform.models import (
    EnhancedSoftDeleteMixin,
    SoftDeleteMixin,
    TenantMixin,
    TimestampMixin,
    UTCDateTime,
    json_dict_column,
    json_list_column,
    pg_only,
    utcnow,
)

ROLES = ("admin", "manager", "agent", "customer")
STAFF_ROLES = ("admin", "manager", "agent")
ROLE_LABELS = {"admin": "Admin", "manager": "Manager", "agent": "Agent", "customer": "Customer"}
AVAILABILITY_STATUSES = ("online", "busy", "away", "offline")
CUSTOMER_TIERS = ("basic", "premium", "enterprise")
# Customers see the helpdesk and their own preferences; an admin may open these areas to them too
# (organizations.settings["customer_access"]).
CUSTOMER_AREAS = {
    "projects": "Projects",
    "timesheet": "Timesheet and exports",
    "workspaces": "Workspaces",
    "jobs": "Dashboard and Jobs",
}
SUBSCRIPTION_TIERS = ("free", "starter", "professional", "enterprise")
# Concurrent background jobs an organization may run, by tier (settings may override).
TIER_JOB_LIMITS = {"free": 2, "starter": 3, "professional": 5, "enterprise": 10}
UI_THEMES = (("light", "Light"), ("dark", "Dark"), ("auto", "Auto (follow the system)"))
DATE_FORMATS = (("iso", "ISO 8601 (2026-11-22)"), ("us", "US (11/22/2026)"), ("eu", "European (22.11.2026)"))
PAGE_SIZES = (10, 25, 50, 100)
# Per-user permissions an admin can grant on top of a role.
PERMISSIONS = {
    "view_usage": "See the API usage page",
    "manage_workspaces": "Create, rename and delete workspaces",
    "purge_trash": "Purge the trash now",
}


class Organization(TimestampMixin, SoftDeleteMixin, db.Model):
    __tablename__ = "organizations"
    __table_args__ = (
        sa.CheckConstraint(
            "subscription_tier IN ('free', 'starter', 'professional', 'enterprise')",
            name="check_org_subscription_tier_valid",
        ),
        sa.CheckConstraint("updated_at >= created_at", name="check_org_updated_after_created"),
        pg_only(sa.Index("idx_org_settings_gin", "settings", postgresql_using="gin")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    slug: Mapped[str] = mapped_column(sa.String(80), nullable=False, unique=True)
    subscription_tier: Mapped[str] = mapped_column(sa.String(20), default="free", nullable=False)
    settings: Mapped[dict] = json_dict_column()
    # Bumped in the same transaction as any change to who is in the organization (members' names,
    # roles, availability) or to its workspaces: in-process caches of those lists are keyed by it
    # (platform.tenancy.organization_cached), so every process sees a change on its next request.
    directory_version: Mapped[int] = mapped_column(nullable=False, default=1, server_default="1")

    users: Mapped[list["User"]] = relationship(
        back_populates="organization", foreign_keys="User.organization_id", lazy="select"
    )
    workspaces: Mapped[list["Workspace"]] = relationship(back_populates="organization", lazy="select")

    def setting(self, key: str, default=None):
        return (self.settings or {}).get(key, default)

    @property
    def max_concurrent_jobs(self) -> int:
        return int(self.setting("max_concurrent_jobs", TIER_JOB_LIMITS.get(self.subscription_tier, 3)))

    @property
    def trash_retention_days(self) -> int:
        return int(self.setting("trash_retention_days", 30))

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class User(TimestampMixin, SoftDeleteMixin, TenantMixin, UserMixin, db.Model):
    """A member of one organization. `is_active` False means deactivated (soft deleted)."""

    __tablename__ = "users"

    __organization_id_indexed__ = False  # idx_user_org_active leads with it
    __table_args__ = (
        sa.CheckConstraint(
            "max_concurrent_tickets >= 1 AND max_concurrent_tickets <= 100", name="check_user_max_tickets_range"
        ),
        sa.CheckConstraint("role IN ('admin', 'manager', 'agent', 'customer')", name="check_user_role_valid"),
        sa.CheckConstraint(
            "role = 'customer' OR customer_tier = 'basic'", name="check_user_customer_tier_only_for_customers"
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'manager', 'agent') OR availability_status = 'offline'",
            name="check_user_availability_only_for_agents",
        ),
        sa.CheckConstraint(
            "availability_status IN ('online', 'busy', 'away', 'offline')", name="check_user_availability_valid"
        ),
        sa.CheckConstraint("customer_tier IN ('basic', 'premium', 'enterprise')", name="check_user_customer_tier_valid"),
        sa.Index("idx_user_org_role", "organization_id", "role"),
        sa.Index("idx_user_org_active", "organization_id", "is_active"),
        sa.Index("idx_user_role_active", "role", "is_active"),
        sa.Index("idx_user_email", "email"),
        sa.Index("idx_user_last_active", "last_active_at"),
        sa.Index("idx_user_created", "created_at"),
        sa.Index("idx_user_org_role_active", "organization_id", "role", "is_active"),
        sa.Index("idx_user_role_availability", "role", "availability_status"),
        pg_only(sa.Index("idx_user_skills_gin", "skills", postgresql_using="gin")),
        pg_only(sa.Index("idx_user_certifications_gin", "certifications", postgresql_using="gin")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False, unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(120), nullable=False, default="")
    password_hash: Mapped[Optional[str]] = mapped_column(sa.String(255), nullable=True)
    role: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="customer")
    availability_status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="offline")
    max_concurrent_tickets: Mapped[int] = mapped_column(nullable=False, default=10)
    skills: Mapped[list] = json_list_column()
    certifications: Mapped[list] = json_list_column()
    customer_tier: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="basic")
    last_active_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    # Bumped when the password changes (and at deactivation).
    credentials_version: Mapped[int] = mapped_column(nullable=False, default=1)
    # Runs the server, not an organization: sees the operator pages. Set only by `flask operator-grant`.
    is_operator: Mapped[bool] = mapped_column(nullable=False, default=False, server_default=sa.false())
    # The open invitation of a member with no password yet: the sha256 of its random, single-use
    # nonce (the link carries the nonce itself) and when it expires. Both are cleared on use.
    invitation_nonce_hash: Mapped[Optional[str]] = mapped_column(sa.String(64), nullable=True, unique=True)
    invitation_expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

    organization: Mapped[Organization] = relationship(
        back_populates="users", foreign_keys="User.organization_id", lazy="joined"
    )
    preferences: Mapped[Optional["UserPreferences"]] = relationship(
        back_populates="user", uselist=False, lazy="joined", cascade="all, delete-orphan"
    )

    # Set by the user loader: the server-side session this request runs under.
    current_session = None  # type: UserSession | None

    def get_id(self) -> str:
        """Flask-Login stores this in the cookie: the session key, never the user id.

        An ended UserSession can't be loaded again, so a copied cookie (or a
        remember-me cookie) stops working at logout, password change,
        deactivation or role change.
        """
        if self.current_session is None:
            raise RuntimeError("User has no server-side session; use accounts.services.session_start")
        return self.current_session.session_key

    # UserMixin compares users by get_id(), which is the session key here (and raises without one):
    # rows are equal when they are the same row object, as for every other model (one per session).
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @hybrid_property
    def display_name(self) -> str:
        return self.full_name or self.email

    @display_name.inplace.expression
    @classmethod
    def _display_name_expression(cls) -> sa.ColumnElement[str]:
        # The same in SQL, for lists that select names as plain columns.
        return sa.func.coalesce(sa.func.nullif(cls.full_name, ""), cls.email)

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @property
    def invitation_expired(self) -> bool:
        """Invited, never accepted, and past the invitation's expiry: the email no longer blocks sign-up."""
        return (not self.password_hash and self.invitation_expires_at is not None
                and self.invitation_expires_at <= utcnow())

    # Set by the user loader: the names of this user's permissions, read with the session (one query
    # less on every page whose nav asks has_permission). Unset elsewhere: the relationship is read.
    loaded_permissions = None  # type: frozenset[str] | None

    def has_permission(self, permission: str) -> bool:
        if self.role == "admin":
            return True
        if self.loaded_permissions is not None:
            return permission in self.loaded_permissions
        return any(p.permission == permission for p in self.permissions)

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class UserPermission(TimestampMixin, db.Model):
    """A permission granted to one user on top of their role (seed 001: unique_user_permission)."""

    __tablename__ = "user_permissions"
    __table_args__ = (sa.UniqueConstraint("user_id", "permission", name="unique_user_permission"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    permission: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    granted_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], backref=sa.orm.backref("permissions", lazy="select", cascade="all, delete-orphan"))


class Workspace(TimestampMixin, EnhancedSoftDeleteMixin, TenantMixin, db.Model):
    """A space inside an organization; naming rules and other team data live here."""

    __tablename__ = "workspaces"

    __organization_id_indexed__ = False  # unique_org_slug leads with it
    __table_args__ = (sa.UniqueConstraint("organization_id", "slug", name="unique_org_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    slug: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization] = relationship(back_populates="workspaces")

    def __repr__(self) -> str:
        return f"<Workspace {self.slug}>"


class UserPreferences(TimestampMixin, db.Model):
    """Seed 000's UserPreferences: one row per user, created with the user."""

    __tablename__ = "user_preferences"
    __table_args__ = (
        sa.CheckConstraint("ui_theme IN ('light', 'dark', 'auto')", name="check_prefs_ui_theme_valid"),
        sa.CheckConstraint("preferred_date_format IN ('iso', 'us', 'eu')", name="check_prefs_date_format_valid"),
        sa.CheckConstraint("default_page_size >= 5 AND default_page_size <= 200", name="check_prefs_page_size_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True)
    # New users follow the system's light or dark setting until they choose.
    ui_theme: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="auto")
    default_workspace_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="SET NULL"), nullable=True
    )
    default_page_size: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False, default=25)
    preferred_date_format: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="iso")
    # An IANA zone name (zoneinfo); empty: the organization's default zone. Times are stored in UTC.
    timezone: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="", server_default="")
    enabled_features: Mapped[list] = json_list_column()
    email_notifications: Mapped[bool] = mapped_column(nullable=False, default=True)
    propagation_notifications: Mapped[bool] = mapped_column(nullable=False, default=True)

    user: Mapped[User] = relationship(back_populates="preferences")
    default_workspace: Mapped[Optional[Workspace]] = relationship()

    @property
    def organization_id(self) -> int | None:
        # Lets ForeignKeyValidationRule check default_workspace against the user's organization.
        return self.user.organization_id if self.user else None


class UserSession(TimestampMixin, db.Model):
    """A signed-in browser. The cookie holds only `session_key`; ending the row ends the session.

    Seed 001's `exclude_duplicate_active_sessions` (user, session_key where active)
    is a partial unique index, which PostgreSQL and SQLite both enforce.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (
        sa.Index(
            "exclude_duplicate_active_sessions",
            "user_id",
            "session_key",
            unique=True,
            postgresql_where=sa.text("is_active"),
            sqlite_where=sa.text("is_active = 1"),
        ),
        sa.Index("idx_session_key", "session_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    session_key: Mapped[str] = mapped_column(sa.String(64), nullable=False, default=lambda: secrets.token_urlsafe(32))
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)
    remember: Mapped[bool] = mapped_column(nullable=False, default=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    end_reason: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    ip_address: Mapped[str] = mapped_column(sa.String(45), nullable=False, default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")

    user: Mapped[User] = relationship(lazy="joined")


class AuditEvent(TenantMixin, db.Model):
    """Who changed what in an organization: written by model hooks, shown on the Activity page."""

    __tablename__ = "audit_events"

    __organization_id_indexed__ = False  # idx_audit_org_created leads with it
    __table_args__ = (sa.Index("idx_audit_org_created", "organization_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    object_type: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    object_id: Mapped[Optional[int]] = mapped_column(nullable=True)
    object_label: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")
    changes: Mapped[dict] = json_dict_column()

    actor: Mapped[Optional[User]] = relationship(foreign_keys=[actor_id])


API_TOKEN_SCOPES = {"read": "Read (GET)", "write": "Write (POST: start generations, checks, previews)"}


class ApiToken(TimestampMixin, db.Model):
    """A personal API token for scripts (`Authorization: Bearer <token>`). Only its sha256 is stored.

    It authenticates the JSON API only (never a page or a form), within its scopes, until it
    expires or is revoked. The table is created by the rules migration (0002).
    """

    __tablename__ = "api_tokens"
    __table_args__ = (sa.Index("idx_api_token_user", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12), nullable=False)
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    # Space-separated API_TOKEN_SCOPES names, chosen at creation.
    scopes: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="read", server_default="read")
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    revoke_reason: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="", server_default="")

    user: Mapped[User] = relationship()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    @property
    def scope_names(self) -> list[str]:
        return [s for s in (self.scopes or "").split() if s in API_TOKEN_SCOPES]


class SignInThrottle(db.Model):
    """Failed sign-ins of one (account, client address) pair: the exponential backoff of `sign_in`.

    Keyed by a hash of both, so an attacker elsewhere can't lock the owner out; kept in the
    database (not Redis) so throttling holds when Redis is down. Old rows are swept hourly.
    The same rows count password-reset requests per address and per client IP (their own
    key hashes; `services.throttle_count` is the one mechanism for both).
    """

    __tablename__ = "sign_in_throttles"
    __table_args__ = (
        sa.Index("idx_sign_in_throttle_last", "last_failure_at"),
        sa.CheckConstraint("failures >= 0", name="check_sign_in_throttle_failures"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    failures: Mapped[int] = mapped_column(nullable=False, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    blocked_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)

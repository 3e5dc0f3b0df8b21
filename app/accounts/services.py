"""Accounts services: every write here owns its transaction (models never commit)."""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
import argon2.profiles
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from app.accounts.models import (
    PERMISSIONS,
    ROLES,
    STAFF_ROLES,
    SUBSCRIPTION_TIERS,
    Organization,
    SignInThrottle,
    User,
    UserPermission,
    UserPreferences,
    UserSession,
    Workspace,
)
from app.extensions import db
from app.platform import mail
from app.platform.jobs import BackgroundTask, JobError, JobKind, job_submit, register_job_kind, register_periodic
from app.platform.models import utcnow
from app.platform.slugs import slugify
from app.platform.timezones import is_zone

log = logging.getLogger(__name__)
_HASHERS: dict[str, tuple[PasswordHasher, str]] = {}


def _hasher() -> tuple[PasswordHasher, str]:
    """argon2id with the app's PASSWORD_HASH_PROFILE (argon2.profiles; default RFC_9106_LOW_MEMORY).

    The second value is a hash of nothing, verified against when the email is
    unknown, so both answers take the same time. Tests use the CHEAPEST profile.
    """
    name = current_app.config.get("PASSWORD_HASH_PROFILE") or "RFC_9106_LOW_MEMORY"
    if name not in _HASHERS:
        hasher = PasswordHasher.from_parameters(getattr(argon2.profiles, name))
        _HASHERS[name] = (hasher, hasher.hash("not-a-real-password-for-timing"))
    return _HASHERS[name]


class AccountError(ValueError):
    """A refusal the user can read, optionally tied to a form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------
def password_problems(password: str, *, email: str = "") -> list[str]:
    problems = []
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password or "") < minimum:
        problems.append(f"Use at least {minimum} characters.")
    if len(password or "") > 128:
        problems.append("Use at most 128 characters.")
    if email and password and email.split("@")[0].lower() in password.lower() and len(email.split("@")[0]) >= 4:
        problems.append("Don't use your email address in your password.")
    return problems


def password_hash(password: str) -> str:
    return _hasher()[0].hash(password)


def password_matches(user: User | None, password: str) -> bool:
    hasher, dummy = _hasher()
    if user is None or not user.password_hash:
        try:
            hasher.verify(dummy, password or "")
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def _upgrade_hash(user: User, password: str) -> None:
    """Re-hash with the current parameters after a successful sign-in (no-op when they match)."""
    if _hasher()[0].check_needs_rehash(user.password_hash):
        user.password_hash = password_hash(password)
        db.session.commit()


def _set_password(user: User, password: str) -> None:
    problems = password_problems(password, email=user.email)
    if problems:
        raise AccountError(" ".join(problems), field="password")
    user.password_hash = password_hash(password)
    user.credentials_version = (user.credentials_version or 0) + 1


# ---------------------------------------------------------------------------
# Organizations and sign-up
# ---------------------------------------------------------------------------
def _unique_slug(model, base: str, **scope) -> str:
    candidate, n = base, 1
    while db.session.scalar(sa.select(sa.func.count()).select_from(model).filter_by(slug=candidate, **scope)):
        n += 1
        candidate = f"{base[:55]}-{n}"
    return candidate


EMAIL_TAKEN = "An account with this email already exists. Sign in instead."


def _email_taken(email: str) -> bool:
    """True when an account holds `email`. An invitation that expired unaccepted doesn't hold it:
    that placeholder member is released here (deactivated, its email replaced), in the caller's
    transaction, so its owner can sign up or be invited elsewhere."""
    holder = db.session.scalars(sa.select(User).where(User.email == email)).first()
    if holder is None:
        return False
    if not holder.invitation_expired:
        return True
    _release_expired_invitation(holder)
    return False


def _release_expired_invitation(member: User) -> None:
    original = member.email
    if member.is_active:
        member.soft_delete(reason=f"The invitation to {original} expired unaccepted; the address was released.")
    member.email = f"released-invitation-{member.id}-{secrets.token_hex(4)}@invitations.cairn.example"
    member.invitation_nonce_hash = None
    db.session.flush()
    log.info("released the email of member %s (organization %s): invitation expired", member.id,
             member.organization_id)


def _commit_new_rows(duplicate_email_message: str) -> None:
    """Commit, or roll everything back; a lost race on the unique email reads like the early check."""
    try:
        db.session.commit()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        if "email" in str(exc.orig).lower():
            raise AccountError(duplicate_email_message, field="email") from exc
        raise
    except Exception:
        db.session.rollback()
        raise


# Two sign-ups for the same organization name at once both see its slug free; the loser tries the next one.
SIGNUP_SLUG_ATTEMPTS = 5


def organization_signup(*, organization_name: str, full_name: str, email: str, password: str,
                        time_zone: str = "") -> User:
    """Create an organization (unique slug), its first admin with preferences, and a default workspace.

    All or nothing: a refused email or password, or a row the validation rules
    reject, leaves no organization behind.
    """
    email = (email or "").strip().lower()
    if _email_taken(email):
        raise AccountError(EMAIL_TAKEN, field="email")
    for attempt in range(1, SIGNUP_SLUG_ATTEMPTS + 1):
        try:
            return _organization_signup_once(organization_name=organization_name, full_name=full_name, email=email,
                                             password=password, time_zone=time_zone)
        except sa.exc.IntegrityError as exc:
            # The unique slug lost a race (the rows are rolled back): pick again, past the winner's slug.
            if "slug" not in str(exc.orig).lower() or attempt == SIGNUP_SLUG_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _organization_signup_once(*, organization_name: str, full_name: str, email: str, password: str,
                              time_zone: str = "") -> User:
    org = Organization(name=(organization_name or "").strip(),
                       slug=_unique_slug(Organization, slugify(organization_name, "org")))
    # The browser's zone (sign-up form, Intl API) becomes the organization's default; unknown names are ignored.
    if is_zone(time_zone):
        org.settings = {**(org.settings or {}), "time_zone": time_zone}
    admin = User(organization=org, email=email, full_name=(full_name or "").strip(), role="admin",
                 availability_status="online")
    _set_password(admin, password)
    workspace = Workspace(organization=org, name="General", slug="general")
    db.session.add_all([org, admin, workspace])
    try:
        db.session.flush()
    except Exception:
        db.session.rollback()
        raise
    admin.preferences.default_workspace_id = workspace.id
    if is_zone(time_zone):
        admin.preferences.timezone = time_zone
    _commit_new_rows(EMAIL_TAKEN)
    return admin


def organization_update(*, organization: Organization, name: str, trash_retention_days: int,
                        time_zone: str | None = None, customer_access: list[str] | None = None) -> Organization:
    """What an organization's admin may change. Not the subscription tier: that is the operator's
    (`flask organization-tier SLUG TIER`, organization_set_tier), since it sets the job limits."""
    organization.name = (name or "").strip()
    settings = {**organization.settings, "trash_retention_days": int(trash_retention_days)}
    if time_zone is not None:
        if not is_zone(time_zone):
            raise AccountError("Choose a time zone from the list.", field="time_zone")
        settings["time_zone"] = time_zone
    if customer_access is not None:
        settings["customer_access"] = sorted(set(customer_access))
    organization.settings = settings
    _commit_or_rollback()
    return organization


def organization_set_tier(*, slug: str, tier: str) -> Organization:
    """Set an organization's subscription tier (operators, from the command line)."""
    if tier not in SUBSCRIPTION_TIERS:
        raise AccountError(f"Choose a tier: {', '.join(SUBSCRIPTION_TIERS)}.")
    organization = db.session.scalars(sa.select(Organization).where(Organization.slug == slug)).first()
    if organization is None:
        raise AccountError(f"There is no organization with the slug {slug!r}.")
    organization.subscription_tier = tier
    _commit_or_rollback()
    return organization


def organization_delete(*, actor: User, organization: Organization, confirmation: str, reason: str) -> Organization:
    """Soft-delete the whole organization (admins only): every member is signed out and no page,
    job or scheduled export of it runs again. The rows stay, so an operator can bring it back
    with `flask organization-restore SLUG`."""
    if actor.role != "admin" or actor.organization_id != organization.id:
        raise AccountError("Only an admin of the organization can delete it.")
    if (confirmation or "").strip() != organization.name:
        raise AccountError(f"Type the organization's name, {organization.name}, exactly as shown to confirm.",
                           field="confirmation")
    organization.soft_delete(user=actor, reason=(reason or "").strip())  # the hook ends every session
    _commit_or_rollback()
    return organization


def organization_restore(*, slug: str) -> Organization:
    """Bring a deleted organization back (operators, from the command line); members sign in again."""
    organization = db.session.scalars(sa.select(Organization).where(Organization.slug == slug)
                                      .execution_options(populate_existing=True)).first()
    if organization is None:
        raise AccountError(f"There is no organization with the slug {slug!r}.")
    organization.restore()
    _commit_or_rollback()
    return organization


def user_set_operator(*, email: str, is_operator: bool) -> User:
    """Grant or take the operator pages (server-wide figures); only the server's command line calls this."""
    user = db.session.scalars(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower())).first()
    if user is None:
        raise AccountError(f"There is no user with the email address {email!r}.")
    user.is_operator = is_operator
    _commit_or_rollback()
    return user


def _commit_or_rollback() -> None:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


# ---------------------------------------------------------------------------
# Sessions (server-side) and sign-in
# ---------------------------------------------------------------------------
def session_start(*, user: User, remember: bool, ip_address: str = "", user_agent: str = "") -> UserSession:
    user_session = UserSession(user=user, remember=remember, ip_address=(ip_address or "")[:45],
                               user_agent=(user_agent or "")[:255])
    db.session.add(user_session)
    db.session.commit()
    user.current_session = user_session
    return user_session


def _session_expired(user_session: UserSession, now) -> str | None:
    config = current_app.config
    idle = config["REMEMBERED_SESSION_IDLE_TIMEOUT" if user_session.remember else "SESSION_IDLE_TIMEOUT"]
    absolute = config["REMEMBERED_SESSION_ABSOLUTE_TIMEOUT" if user_session.remember else "SESSION_ABSOLUTE_TIMEOUT"]
    if now - user_session.last_seen_at > timedelta(seconds=idle):
        return "idle_timeout"
    if now - user_session.created_at > timedelta(seconds=absolute):
        return "absolute_timeout"
    return None


def session_load(session_key: str) -> User | None:
    """The user of an active, unexpired session (Flask-Login's user loader)."""
    if not session_key:
        return None
    permission_names = (sa.select(sa.func.aggregate_strings(UserPermission.permission, ","))
                        .where(UserPermission.user_id == UserSession.user_id).scalar_subquery())
    found = db.session.execute(
        sa.select(UserSession, permission_names)
        .where(UserSession.session_key == session_key, UserSession.is_active.is_(True))
    ).first()
    if found is None:
        return None
    user_session, permissions = found
    user = user_session.user
    user.loaded_permissions = frozenset(permissions.split(",")) if permissions else frozenset()
    now = utcnow()
    expired = _session_expired(user_session, now)
    if expired or not user.is_active or not user.organization.is_active:
        session_end(user_session=user_session, reason=expired or "inactive")
        return None
    if now - user_session.last_seen_at > timedelta(seconds=60):
        # Throttled: one write a minute per session, not one per request.
        user_session.last_seen_at = now
        db.session.commit()
    user.current_session = user_session
    return user


def session_of_user(*, user: User, session_id: int) -> UserSession | None:
    """One of `user`'s own active sessions (None for anyone else's: the view answers 404)."""
    return db.session.scalars(
        sa.select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id,
                                     UserSession.is_active.is_(True))
    ).first()


def session_end(*, user_session: UserSession, reason: str) -> None:
    user_session.is_active = False
    user_session.ended_at = utcnow()
    user_session.end_reason = reason[:50]
    db.session.commit()


def sessions_end_all(*, user: User, reason: str, except_session: UserSession | None = None) -> int:
    """End every active session of `user` (no commit: part of the caller's change)."""
    count = 0
    for user_session in db.session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id, UserSession.is_active.is_(True))
    ):
        if except_session is not None and user_session.id == except_session.id:
            continue
        user_session.is_active = False
        user_session.ended_at = utcnow()
        user_session.end_reason = reason[:50]
        count += 1
    return count


def active_sessions(user: User) -> list[UserSession]:
    return list(db.session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id, UserSession.is_active.is_(True))
        .order_by(UserSession.last_seen_at.desc())
    ))


SIGN_IN_REFUSED = "That email and password don't match an active account."


def _throttle_key(email: str, ip_address: str) -> str:
    return hashlib.sha256(f"{email}\n{ip_address}".encode()).hexdigest()


def sign_in_delay(failures: int) -> int:
    """Seconds the pair must wait after `failures` consecutive failures: none for the first
    LOGIN_FREE_FAILURES, then doubling from LOGIN_BACKOFF_BASE_SECONDS up to LOGIN_BACKOFF_MAX_SECONDS."""
    config = current_app.config
    over = failures - config["LOGIN_FREE_FAILURES"]
    if over < 0:
        return 0
    return min(config["LOGIN_BACKOFF_MAX_SECONDS"], config["LOGIN_BACKOFF_BASE_SECONDS"] * 2 ** min(over, 30))


def _throttle_row(key: str, *, for_update: bool = False) -> SignInThrottle | None:
    stmt = sa.select(SignInThrottle).where(SignInThrottle.key_hash == key)
    return db.session.scalars(stmt.with_for_update() if for_update else stmt).first()


def throttle_blocked_for(key: str, now: datetime) -> float:
    """Seconds the throttle `key` must still wait (0: not blocked). Reads only."""
    row = _throttle_row(key)
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return 0.0
    return (row.blocked_until - now).total_seconds()


def throttle_count(key: str, now: datetime, *, memory_seconds: int, delay_for) -> int:
    """One more event for the throttle `key` (a `sign_in_throttles` row), in its own transaction.

    The count starts over after `memory_seconds` without an event; `delay_for(count)` says how many
    seconds the key is then blocked (0: not blocked). A lost insert race retries as an update.
    Rows in the database, not Redis counters: every throttle holds when Redis is down.
    Returns the new count.
    """
    memory = timedelta(seconds=memory_seconds)
    for attempt in range(3):
        row = _throttle_row(key, for_update=True)
        if row is None:
            row = SignInThrottle(key_hash=key, failures=0)
            db.session.add(row)
        elif now - row.last_failure_at > memory:
            row.failures = 0  # a long quiet spell: start over
        row.failures += 1
        row.last_failure_at = now
        delay = delay_for(row.failures)
        row.blocked_until = now + timedelta(seconds=delay) if delay else None
        count = row.failures
        try:
            db.session.commit()
            return count
        except sa.exc.IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    return 0  # unreachable


def _record_sign_in_failure(key: str, now: datetime) -> None:
    """One more failure for the pair (the backoff grows with each)."""
    throttle_count(key, now, memory_seconds=current_app.config["LOGIN_FAILURE_MEMORY_SECONDS"],
                   delay_for=sign_in_delay)


def _wait_text(seconds: float) -> str:
    seconds = max(1, int(seconds + 0.999))
    return f"{seconds} seconds" if seconds < 120 else f"{(seconds + 59) // 60} minutes"


def sign_in(*, email: str, password: str, ip_address: str) -> User:
    """Check credentials, with an exponential backoff per (account, client address) pair.

    After a few failures the pair must wait before its next try, doubling each time; the
    password isn't even checked while it waits. Once the wait is over the right password
    goes through, and an attacker at another address never delays the owner. The counters
    are rows in the database, so throttling holds when Redis is down. Unknown emails get the
    same answer (and the same argon2 work) as wrong passwords.
    """
    email = (email or "").strip().lower()
    key = _throttle_key(email, ip_address or "unknown")
    now = utcnow()
    row = _throttle_row(key)
    if row is not None and row.blocked_until is not None and row.blocked_until > now:
        db.session.rollback()
        raise AccountError("Too many failed sign-in attempts. Try again in "
                           f"{_wait_text((row.blocked_until - now).total_seconds())}.")
    user = db.session.scalars(sa.select(User).where(User.email == email)).first()
    ok = password_matches(user, password)
    if not ok or user is None or not user.is_active or not user.organization.is_active:
        db.session.rollback()
        _record_sign_in_failure(key, now)
        raise AccountError(SIGN_IN_REFUSED)
    if row is not None:
        db.session.execute(sa.delete(SignInThrottle).where(SignInThrottle.key_hash == key))
        db.session.commit()
    _upgrade_hash(user, password)
    return user


def sign_in_throttles_sweep() -> int:
    """Delete the rows of throttles quiet for longer than the failure memory and no longer blocked (hourly)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=current_app.config["LOGIN_FAILURE_MEMORY_SECONDS"])
    result = db.session.execute(sa.delete(SignInThrottle).where(
        SignInThrottle.last_failure_at < cutoff,
        sa.or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until <= now)))
    db.session.commit()
    return result.rowcount or 0


# ---------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------
def _invitation_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def invitation_issue(*, member: User) -> str:
    """A new invitation for a member with no password yet: a random single-use nonce, stored hashed,
    valid for INVITATION_DAYS. The previous link of the member stops working. No commit."""
    if member.has_password:
        raise AccountError(f"{member.display_name} has already set a password.")
    if member.is_active is False:  # None: a new row, active once inserted
        raise AccountError("Restore this member before inviting them.")
    nonce = secrets.token_urlsafe(32)
    member.invitation_nonce_hash = _invitation_digest(nonce)
    member.invitation_expires_at = utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"])
    return nonce


def member_reinvite(*, member: User) -> str:
    nonce = invitation_issue(member=member)
    _commit_or_rollback()
    return nonce


INVITATION_NOT_VALID = "This invitation link is not valid, or it has already been used."


def invite_user(token: str) -> User:
    """The member an open invitation link is for, or AccountError (used, withdrawn, expired)."""
    if not token or len(token) > 100:
        raise AccountError(INVITATION_NOT_VALID)
    user = db.session.scalars(sa.select(User).where(User.invitation_nonce_hash == _invitation_digest(token))).first()
    if user is None or not user.is_active or user.has_password:
        raise AccountError(INVITATION_NOT_VALID)
    if user.invitation_expires_at is None or user.invitation_expires_at <= utcnow():
        raise AccountError("This invitation has expired. Ask an admin for a new one.")
    return user


def invite_accept(*, token: str, password: str) -> User:
    """Set the invited member's password and spend the nonce, once: of two concurrent uses of one
    link, only the one whose UPDATE still finds the nonce succeeds."""
    user = invite_user(token)
    problems = password_problems(password, email=user.email)
    if problems:
        raise AccountError(" ".join(problems), field="password")
    spent = db.session.execute(
        sa.update(User).where(User.id == user.id, User.invitation_nonce_hash == _invitation_digest(token),
                              User.password_hash.is_(None))
        .values(password_hash=password_hash(password), invitation_nonce_hash=None, invitation_expires_at=None,
                credentials_version=User.credentials_version + 1,
                # Staff join available for tickets (unless an admin already set busy or away); customers have no
                # availability (always offline).
                availability_status=sa.case((User.role == "customer", "offline"),
                                            (User.availability_status == "offline", "online"),
                                            else_=User.availability_status))
        .execution_options(synchronize_session=False))
    if spent.rowcount != 1:
        db.session.rollback()
        raise AccountError(INVITATION_NOT_VALID)
    _commit_or_rollback()
    db.session.refresh(user)
    return user


def member_add(*, organization: Organization, actor: User, email: str, full_name: str, role: str,
               invite_url_for) -> tuple[User, str]:
    """Add a member with no password yet; they choose one from the invitation link."""
    email = (email or "").strip().lower()
    taken = "Someone with this email already has an account."
    if _email_taken(email):
        raise AccountError(taken, field="email")
    # Offline until they accept (invite_accept): the assignee list must not offer someone who never signed in.
    member = User(organization=organization, email=email, full_name=(full_name or "").strip(), role=role,
                  availability_status="offline")
    db.session.add(member)
    nonce = invitation_issue(member=member)
    _commit_new_rows(taken)
    link = invite_url_for(nonce)
    mail.notify(
        member,
        f"You have been invited to {organization.name} on Cairn",
        f"{actor.display_name} added you to {organization.name} as {role}.\n\n"
        f"Choose your password here (the link works once, for {current_app.config['INVITATION_DAYS']} days):\n"
        f"{link}\n",
        category="required",
    )
    _commit_or_rollback()  # the invitation mail (the admin also sees the link on screen)
    return member, link


def members_visible_to(viewer: User) -> sa.Select:
    """The active members of the viewer's organization the viewer may see, by name.

    Staff see everyone; a customer sees the staff and themselves, never another customer
    (every member picker, share dialog and name list that a customer can open uses this).
    """
    stmt = sa.select(User).where(User.organization_id == viewer.organization_id, User.is_active.is_(True))
    if viewer.role not in STAFF_ROLES:
        stmt = stmt.where(sa.or_(User.role.in_(STAFF_ROLES), User.id == viewer.id))
    return stmt.order_by(User.full_name, User.email)


def _admins_left(organization_id: int, excluding: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(User).where(
            User.organization_id == organization_id, User.role == "admin", User.is_active.is_(True),
            User.id != excluding.id,
        )
    ) or 0


def member_update(*, actor: User, member: User, role: str, availability_status: str, max_concurrent_tickets: int,
                  customer_tier: str, skills: list[str], certifications: list[str],
                  permissions: list[str] | None = None) -> User:
    """Change a member's role, working fields and extra permissions, in one transaction.

    A role change signs them out everywhere (their next request needs a new sign-in).
    """
    if role not in ROLES:
        raise AccountError("Choose a valid role.", field="role")
    if member.role == "admin" and role != "admin" and _admins_left(member.organization_id, member) == 0:
        raise AccountError("This is the organization's last admin; make someone else admin first.", field="role")
    role_changed = role != member.role
    member.role = role
    # Seed 001 constraints: tiers are for customers, availability for staff; reset what no longer applies.
    member.customer_tier = customer_tier if role == "customer" else "basic"
    member.availability_status = availability_status if role != "customer" else "offline"
    member.max_concurrent_tickets = max_concurrent_tickets
    member.skills = [s for s in skills if s]
    member.certifications = [c for c in certifications if c]
    if permissions is not None:
        _set_permissions(actor=actor, member=member, permissions=permissions)
    if role_changed:
        from app.accounts.tokens import api_tokens_revoke_all

        sessions_end_all(user=member, reason="role_changed")
        api_tokens_revoke_all(user=member, reason="role_changed")
    if role_changed:  # written with the change: mailed if and only if it is saved
        mail.notify(member, "Your role in Cairn changed",
                    f"{actor.display_name} changed your role in {member.organization.name} to {role}. "
                    "Please sign in again.")
    _commit_or_rollback()
    return member


def member_deactivate(*, actor: User, member: User, reason: str) -> User:
    if member.id == actor.id:
        raise AccountError("You can't deactivate yourself.")
    if member.role == "admin" and _admins_left(member.organization_id, member) == 0:
        raise AccountError("This is the organization's last admin.")
    member.soft_delete(user=actor, reason=reason)  # the hook ends their sessions
    _commit_or_rollback()
    return member


def member_restore(*, actor: User, member: User) -> User:
    member.restore(user=actor)
    _commit_or_rollback()
    return member


def _set_permissions(*, actor: User, member: User, permissions: list[str]) -> None:
    """Grant exactly `permissions` (on top of the role); part of member_update's transaction."""
    wanted = {p for p in permissions if p in PERMISSIONS}
    for grant in list(member.permissions):
        if grant.permission not in wanted:
            member.permissions.remove(grant)
    have = {g.permission for g in member.permissions}
    for permission in sorted(wanted - have):
        member.permissions.append(UserPermission(permission=permission, granted_by_id=actor.id))
    member.loaded_permissions = None  # read the relationship from now on, not the set loaded with the session


# ---------------------------------------------------------------------------
# Self-service
# ---------------------------------------------------------------------------
def profile_update(*, user: User, full_name: str, availability_status: str | None) -> User:
    user.full_name = (full_name or "").strip()
    if availability_status and user.is_staff:
        user.availability_status = availability_status
    _commit_or_rollback()
    return user


def password_change(*, user: User, current_password: str, new_password: str, revoke_tokens: bool = True) -> int:
    """Change the password, end every other session of the user and (unless they untick the box)
    revoke their API tokens. Returns how many tokens were revoked."""
    if not password_matches(user, current_password):
        raise AccountError("Your current password is not correct.", field="current_password")
    try:
        _set_password(user, new_password)
    except AccountError as exc:
        raise AccountError(str(exc), field="new_password") from exc
    sessions_end_all(user=user, reason="password_changed", except_session=user.current_session)
    revoked = 0
    if revoke_tokens:
        from app.accounts.tokens import api_tokens_revoke_all

        revoked = api_tokens_revoke_all(user=user, reason="password_changed")
    _commit_or_rollback()
    return revoked


def preferences_update(*, user: User, ui_theme: str, preferred_date_format: str, default_page_size: int,
                       default_workspace_id: int | None, enabled_features: list[str], email_notifications: bool,
                       propagation_notifications: bool, timezone: str | None = None) -> UserPreferences:
    prefs = user.preferences or UserPreferences(user=user)
    if timezone is not None:
        if timezone and not is_zone(timezone):
            raise AccountError("Choose a time zone from the list.", field="timezone")
        prefs.timezone = timezone
    prefs.ui_theme = ui_theme
    prefs.preferred_date_format = preferred_date_format
    prefs.default_page_size = default_page_size
    prefs.default_workspace_id = default_workspace_id
    prefs.enabled_features = list(enabled_features)
    prefs.email_notifications = email_notifications
    prefs.propagation_notifications = propagation_notifications
    db.session.add(prefs)
    _commit_or_rollback()
    return prefs


# ---------------------------------------------------------------------------
# Workspaces
# ---------------------------------------------------------------------------
def workspace_create(*, organization: Organization, actor: User, name: str, description: str = "") -> Workspace:
    workspace = Workspace(organization_id=organization.id, name=(name or "").strip(),
                          description=(description or "").strip(),
                          slug=_unique_slug(Workspace, slugify(name, "workspace"), organization_id=organization.id),
                          created_by_id=actor.id)
    db.session.add(workspace)
    _commit_or_rollback()
    return workspace


def workspace_update(*, workspace: Workspace, name: str, description: str) -> Workspace:
    workspace.name = (name or "").strip()
    workspace.description = (description or "").strip()
    _commit_or_rollback()
    return workspace


def workspace_delete(*, actor: User, workspace: Workspace, reason: str) -> Workspace:
    remaining = db.session.scalar(
        sa.select(sa.func.count()).select_from(Workspace).where(
            Workspace.organization_id == workspace.organization_id, Workspace.is_active.is_(True),
            Workspace.id != workspace.id)
    )
    if not remaining:
        raise AccountError("An organization needs at least one workspace.")
    workspace.soft_delete(user=actor, reason=reason, retention_days=workspace.organization.trash_retention_days,
                          metadata={"deleted_by_email": actor.email, "name": workspace.name})
    _commit_or_rollback()
    return workspace


def workspace_restore(*, actor: User, workspace: Workspace) -> Workspace:
    workspace.restore(user=actor)
    _commit_or_rollback()
    return workspace


def trash_restore(*, actor: User, member_ids: list[int], workspace_ids: list[int]) -> dict[str, int]:
    """The Trash page's "Restore selected": the chosen members and workspaces of the actor's organization back
    together, with the platform's bulk restore (SoftDeleteMixin.restore_all: each row's restore hooks, so its
    audit row, as one by one), in one transaction. Workspaces deleted as not restorable are left in the trash.

    Returns counts: members, workspaces restored, and `kept` (chosen rows left where they were).
    """
    members = sa.select(User).where(User.organization_id == actor.organization_id, User.id.in_(member_ids))
    workspaces = sa.select(Workspace).where(Workspace.organization_id == actor.organization_id,
                                            Workspace.id.in_(workspace_ids), Workspace.can_be_restored.is_(True))
    try:
        restored_members = User.restore_all(members, user=actor).changed if member_ids else []
        restored_workspaces = Workspace.restore_all(workspaces, user=actor).changed if workspace_ids else []
    except BaseException:
        db.session.rollback()
        raise
    _commit_or_rollback()
    kept = len(set(member_ids)) + len(set(workspace_ids)) - len(restored_members) - len(restored_workspaces)
    return {"members": len(restored_members), "workspaces": len(restored_workspaces), "kept": kept}


# ---------------------------------------------------------------------------
# Background tasks an admin starts from the UI
# ---------------------------------------------------------------------------
def _purge_trash_handler(task: BackgroundTask, progress) -> dict:
    from app.platform.trash import purge_expired

    counts = purge_expired(organization_id=task.organization_id, progress=progress)
    task.result = {"purged": counts, "total": sum(counts.values())}
    return task.result


def _usage_retention_handler(task: BackgroundTask, progress) -> dict:
    from app.platform.usage import purge_usage_older_than

    days = int(task.params.get("days", current_app.config["USAGE_LOG_RETENTION_DAYS"]))
    deleted = purge_usage_older_than(days, organization_id=task.organization_id, batch_size=2000, progress=progress)
    task.result = {"deleted": deleted, "cutoff": (utcnow().date() - timedelta(days=days)).isoformat()}
    return task.result


register_job_kind(JobKind("purge_trash", BackgroundTask, _purge_trash_handler,
                          result_template="platform/_task_result.html",
                          title=lambda t: t.title or "Purge trash"))
register_job_kind(JobKind("usage_retention", BackgroundTask, _usage_retention_handler,
                          result_template="platform/_task_result.html",
                          title=lambda t: t.title or "Trim usage log"))

TASK_TITLES = {"purge_trash": "Purge expired trash", "usage_retention": "Trim the usage log"}


def task_start(*, organization: Organization, actor: User, kind: str, params: dict | None = None) -> BackgroundTask:
    if kind not in TASK_TITLES:
        raise JobError("Unknown task.")
    task = BackgroundTask(organization_id=organization.id, kind=kind, title=TASK_TITLES[kind], params=params or {},
                          requested_by_id=actor.id)
    return job_submit(task)


def workspaces_for(organization_id: int) -> list[Workspace]:
    return list(db.session.scalars(
        Workspace.select_active().where(Workspace.organization_id == organization_id).order_by(Workspace.name)
    ))


register_periodic("sign-in-throttles-sweep", 3600, "app.accounts.services.sign_in_throttles_sweep")

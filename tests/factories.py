"""Factories that build rows through the models (hooks and validation run as in production)."""
from __future__ import annotations

from app.accounts.models import Organization, User, Workspace
from app.accounts.services import password_hash
from app.platform.slugs import slugify
from app.extensions import db

PASSWORD = "correct-horse-battery"
_HASH_CACHE: dict[str, str] = {}


def _hash(password: str) -> str:
    # argon2 is deliberately slow; tests reuse one hash per password.
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = password_hash(password)
    return _HASH_CACHE[password]


def make_organization(name: str = "Acme", *, tier: str = "professional", workspaces=("General",)) -> Organization:
    org = Organization(name=name, slug=slugify(name), subscription_tier=tier)
    db.session.add(org)
    for ws_name in workspaces:
        db.session.add(Workspace(organization=org, name=ws_name, slug=slugify(ws_name)))
    db.session.commit()
    return org


def make_member(org: Organization, role: str = "agent", email: str | None = None, *, password: str | None = PASSWORD,
                full_name: str = "", **fields) -> User:
    """A member of `org`; `password=None` makes an invited member who has not chosen a password yet."""
    email = email or f"{role}-{db.session.query(User).count() + 1}@{org.slug}.example.com"
    user = User(organization=org, email=email, full_name=full_name or email.split("@")[0].title(), role=role,
                password_hash=_hash(password) if password is not None else None,
                availability_status="online" if role != "customer" else "offline", **fields)
    db.session.add(user)
    db.session.commit()
    return user


def workspace_of(org: Organization, name: str = "General") -> Workspace:
    return db.session.query(Workspace).filter_by(organization_id=org.id, name=name).one()

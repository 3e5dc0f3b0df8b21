"""Helpdesk tables (seed 001): tickets, comments, attachments, history, SLA policies, knowledge base."""
from __future__ import annotations

from datetime import datetime, time
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.platform.models import (
    EnhancedSoftDeleteMixin,
    TenantMixin,
    TimestampMixin,
    UTCDateTime,
    json_dict_column,
    json_list_column,
    pg_only,
    utcnow,
)

STATUSES = ("new", "open", "pending", "resolved", "closed", "cancelled")
ACTIVE_STATUSES = ("new", "open", "pending")
# Statuses that end the conversation: no replies, no files, and tags and custom fields stay as they were.
FINAL_STATUSES = ("closed", "cancelled")
PRIORITIES = ("low", "medium", "high", "urgent")
COMMENT_TYPES = ("reply", "note")  # public reply / internal note
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# What a history row records: "changed" is one field's old and new value; the others are events.
HISTORY_EVENTS = ("created", "changed", "reply", "note", "attachment", "merged_in", "deleted", "restored")


class TicketCounter(db.Model):
    """The last ticket number of one organization; its row is locked while a number is taken."""

    __tablename__ = "ticket_counters"

    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(nullable=False, default=0)


class SLAPolicy(TimestampMixin, TenantMixin, db.Model):
    """Per-priority targets in minutes, optionally counted in business hours only."""

    __tablename__ = "sla_policies"
    __table_args__ = (
        # Seed 001's exclude_overlapping_sla_policies: one active policy per name and organization.
        sa.Index("exclude_overlapping_sla_policies", "organization_id", "name", unique=True,
                 postgresql_where=sa.text("is_active"), sqlite_where=sa.text("is_active = 1")),
        sa.CheckConstraint(
            "low_first_response_minutes > 0 AND medium_first_response_minutes > 0 AND "
            "high_first_response_minutes > 0 AND urgent_first_response_minutes > 0 AND "
            "low_resolution_minutes > 0 AND medium_resolution_minutes > 0 AND "
            "high_resolution_minutes > 0 AND urgent_resolution_minutes > 0",
            name="check_sla_targets_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)
    is_default: Mapped[bool] = mapped_column(nullable=False, default=False)
    low_first_response_minutes: Mapped[int] = mapped_column(nullable=False, default=1440)
    low_resolution_minutes: Mapped[int] = mapped_column(nullable=False, default=7200)
    medium_first_response_minutes: Mapped[int] = mapped_column(nullable=False, default=480)
    medium_resolution_minutes: Mapped[int] = mapped_column(nullable=False, default=2880)
    high_first_response_minutes: Mapped[int] = mapped_column(nullable=False, default=120)
    high_resolution_minutes: Mapped[int] = mapped_column(nullable=False, default=960)
    urgent_first_response_minutes: Mapped[int] = mapped_column(nullable=False, default=30)
    urgent_resolution_minutes: Mapped[int] = mapped_column(nullable=False, default=240)
    business_hours_only: Mapped[bool] = mapped_column(nullable=False, default=False)
    business_days: Mapped[list] = json_list_column()  # 0 = Monday
    business_start: Mapped[Optional[time]] = mapped_column(sa.Time, nullable=True)
    business_end: Mapped[Optional[time]] = mapped_column(sa.Time, nullable=True)
    timezone: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="UTC")

    def first_response_minutes(self, priority: str) -> int:
        return getattr(self, f"{priority}_first_response_minutes")

    def resolution_minutes(self, priority: str) -> int:
        return getattr(self, f"{priority}_resolution_minutes")


class SLAClockMixin:
    """The SLA clock from a ticket's status and due times: on Ticket rows and on the list's plain rows."""

    __slots__ = ()  # the list's rows are slotted dataclasses; both have status and the three due times

    @property
    def sla_due(self) -> datetime | None:
        """The next deadline that matters: first response until answered, then resolution; none once closed."""
        if self.status not in ACTIVE_STATUSES:
            return None
        if self.first_responded_at is None and self.first_response_due is not None:
            return self.first_response_due
        return self.resolution_due

    def sla_seconds_left(self, now: datetime | None = None) -> int | None:
        due = self.sla_due
        if due is None:
            return None
        return int((due - (now or utcnow())).total_seconds())


class Ticket(SLAClockMixin, TimestampMixin, EnhancedSoftDeleteMixin, TenantMixin, db.Model):
    __tablename__ = "tickets"
    __organization_id_indexed__ = False  # idx_ticket_org_agent and others leads with it
    __platform_purge__ = False  # the hourly tickets-purge job removes them, with their files (app.tickets.jobs)
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "ticket_number", name="unique_org_ticket_number"),
        sa.CheckConstraint(
            "customer_satisfaction_score IS NULL OR "
            "(customer_satisfaction_score >= 1 AND customer_satisfaction_score <= 5)",
            name="check_ticket_satisfaction_score_range"),
        sa.CheckConstraint("time_to_first_response IS NULL OR time_to_first_response >= 0",
                           name="check_ticket_first_response_time_positive"),
        sa.CheckConstraint("status IN ('new', 'open', 'pending', 'resolved', 'closed', 'cancelled')",
                           name="check_ticket_status_valid"),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'urgent')", name="check_ticket_priority_valid"),
        sa.CheckConstraint("updated_at >= created_at", name="check_ticket_updated_after_created"),
        sa.CheckConstraint("resolved_at IS NULL OR resolved_at >= created_at",
                           name="check_ticket_resolved_after_created"),
        sa.Index("idx_ticket_org_status", "organization_id", "status"),
        sa.Index("idx_ticket_org_agent", "organization_id", "assigned_agent_id"),
        sa.Index("idx_ticket_org_customer", "organization_id", "customer_id"),
        sa.Index("idx_ticket_org_priority_status", "organization_id", "priority", "status"),
        sa.Index("idx_ticket_first_response_due", "first_response_due"),
        sa.Index("idx_ticket_resolution_due", "resolution_due"),
        sa.Index("idx_ticket_sla_breach", "sla_breach"),
        sa.Index("idx_ticket_org_status_priority", "organization_id", "status", "priority"),
        sa.Index("idx_ticket_org_agent_status", "organization_id", "assigned_agent_id", "status"),
        sa.Index("idx_ticket_active_org_agent", "organization_id", "assigned_agent_id",
                 postgresql_where=sa.text("status IN ('new', 'open', 'pending')"),
                 sqlite_where=sa.text("status IN ('new', 'open', 'pending')")),
        # The agent list: one organization's live tickets, newest first.
        sa.Index("idx_ticket_org_live_number", "organization_id", "is_active", "ticket_number"),
        # The list's count under a status filter (with or without priority), from the index alone.
        sa.Index("idx_ticket_org_live_status_priority", "organization_id", "status", "priority",
                 postgresql_where=sa.text("is_active"), sqlite_where=sa.text("is_active")),
        pg_only(sa.Index("idx_ticket_search_gin", "subject", "description", postgresql_using="gin",
                         postgresql_ops={"subject": "gin_trgm_ops", "description": "gin_trgm_ops"})),
        pg_only(sa.Index("idx_ticket_tags_gin", "tags", postgresql_using="gin")),
        pg_only(sa.Index("idx_ticket_custom_fields_gin", "custom_fields", postgresql_using="gin")),
        # The list's search: one organization's live tickets (btree_gin puts organization_id first).
        pg_only(sa.Index("idx_ticket_org_live_search_gin", "organization_id", "subject", "description",
                         postgresql_using="gin", postgresql_where=sa.text("is_active"),
                         postgresql_ops={"subject": "gin_trgm_ops", "description": "gin_trgm_ops"})),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_number: Mapped[int] = mapped_column(nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="new")
    priority: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="medium")
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    assigned_agent_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    sla_policy_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("sla_policies.id", ondelete="SET NULL"))
    tags: Mapped[list] = json_list_column()
    custom_fields: Mapped[dict] = json_dict_column()
    first_response_due: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    resolution_due: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    sla_breach: Mapped[bool] = mapped_column(nullable=False, default=False)
    sla_paused_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    sla_paused_seconds: Mapped[int] = mapped_column(nullable=False, default=0)
    first_responded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    time_to_first_response: Mapped[Optional[int]] = mapped_column()  # seconds
    customer_satisfaction_score: Mapped[Optional[int]] = mapped_column(sa.SmallInteger)
    satisfaction_comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    merged_into_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("tickets.id", ondelete="SET NULL"))

    customer: Mapped[User] = relationship(foreign_keys=[customer_id], lazy="joined")
    assigned_agent: Mapped[Optional[User]] = relationship(foreign_keys=[assigned_agent_id], lazy="joined")
    sla_policy: Mapped[Optional[SLAPolicy]] = relationship()
    merged_into: Mapped[Optional["Ticket"]] = relationship(remote_side="Ticket.id")

    @property
    def is_open(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def takes_replies(self) -> bool:
        """Replies and files can still be added: not closed, cancelled or merged into another ticket."""
        return self.status not in FINAL_STATUSES and not self.merged_into_id

    def __repr__(self) -> str:
        return f"<Ticket #{self.ticket_number} {self.status}>"


class TicketComment(TimestampMixin, TenantMixin, db.Model):
    __tablename__ = "ticket_comments"
    __table_args__ = (
        sa.CheckConstraint("comment_type IN ('reply', 'note')", name="check_comment_type_valid"),
        sa.CheckConstraint("length(content) > 0", name="check_comment_content_not_empty"),
        sa.Index("idx_comment_ticket_created", "ticket_id", "created_at"),
        pg_only(sa.Index("idx_comment_search_gin", "content", postgresql_using="gin",
                         postgresql_ops={"content": "gin_trgm_ops"})),
        pg_only(sa.Index("idx_comment_org_search_gin", "organization_id", "content", postgresql_using="gin",
                         postgresql_ops={"content": "gin_trgm_ops"})),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    comment_type: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="reply")
    content: Mapped[str] = mapped_column(sa.Text, nullable=False)

    ticket: Mapped[Ticket] = relationship(backref=sa.orm.backref("comments", order_by="TicketComment.id",
                                                                  passive_deletes=True))
    author: Mapped[Optional[User]] = relationship(lazy="joined")

    @property
    def is_internal(self) -> bool:
        return self.comment_type == "note"


class TicketAttachment(TimestampMixin, TenantMixin, db.Model):
    __tablename__ = "ticket_attachments"
    __table_args__ = (
        sa.CheckConstraint("size >= 0", name="check_attachment_size_positive"),
        sa.CheckConstraint("download_count >= 0", name="check_attachment_download_count_positive"),
        sa.Index("idx_attachment_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    comment_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("ticket_comments.id", ondelete="CASCADE"))
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    storage_path: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    original_name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="")
    download_count: Mapped[int] = mapped_column(nullable=False, default=0)

    ticket: Mapped[Ticket] = relationship(backref=sa.orm.backref("attachments", order_by="TicketAttachment.id",
                                                                  passive_deletes=True))
    comment: Mapped[Optional[TicketComment]] = relationship(backref=sa.orm.backref("attachments",
                                                                                    passive_deletes=True))
    uploaded_by: Mapped[Optional[User]] = relationship()

    @property
    def is_internal(self) -> bool:
        return self.comment is not None and self.comment.is_internal


class TicketHistory(TenantMixin, db.Model):
    """One entry of a ticket's timeline, written by hooks: who, when, and what happened.

    `event` says what: the ticket was created, a field changed (`field`, `old_value`,
    `new_value`), a reply or note was added (`comment_id`, an excerpt in `new_value`),
    a file was attached (its name), another ticket was merged into it, it was deleted
    (the reason) or restored. `internal` rows (notes, files on notes, staff-only fields,
    merges and the trash) are never shown to customers; it is decided when the row is
    written, so every reader filters on one column.
    """

    __tablename__ = "ticket_history"
    __table_args__ = (
        sa.Index("idx_history_ticket_created", "ticket_id", "created_at"),
        sa.CheckConstraint("event IN ('created', 'changed', 'reply', 'note', 'attachment', 'merged_in', "
                           "'deleted', 'restored')", name="check_history_event_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    actor_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    event: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="changed", server_default="changed")
    internal: Mapped[bool] = mapped_column(nullable=False, default=False, server_default=sa.false())
    comment_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("ticket_comments.id", ondelete="SET NULL"))
    field: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    old_value: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    new_value: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    actor: Mapped[Optional[User]] = relationship(lazy="joined")

    TIME_FIELDS = ("first_response_due", "resolution_due")

    @property
    def is_time(self) -> bool:
        """Deadlines are stored as ISO 8601 text and shown in the reader's date format."""
        return self.field in self.TIME_FIELDS

    @staticmethod
    def _as_time(value: str) -> datetime | None:
        try:
            return datetime.fromisoformat(value) if value else None
        except ValueError:
            return None

    @property
    def old_time(self) -> datetime | None:
        return self._as_time(self.old_value)

    @property
    def new_time(self) -> datetime | None:
        return self._as_time(self.new_value)


class KnowledgeArticle(TimestampMixin, TenantMixin, db.Model):
    __tablename__ = "knowledge_articles"
    __organization_id_indexed__ = False  # idx_kb_org_published leads with it
    __table_args__ = (
        sa.Index("idx_kb_org_published", "organization_id", "is_published"),
        pg_only(sa.Index("idx_kb_search_gin", "title", "content", postgresql_using="gin",
                         postgresql_ops={"title": "gin_trgm_ops", "content": "gin_trgm_ops"})),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    content: Mapped[str] = mapped_column(sa.Text, nullable=False)  # Markdown, rendered and sanitised on display
    category: Mapped[str] = mapped_column(sa.String(80), nullable=False, default="", server_default="")
    is_published: Mapped[bool] = mapped_column(nullable=False, default=False)  # a new article starts as a draft
    author_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    author: Mapped[Optional[User]] = relationship()


class CannedReply(TimestampMixin, TenantMixin, db.Model):
    """A reply text agents insert from the reply box: personal (owner set) or shared with the team (no owner).

    Placeholders such as {{customer.name}} are filled in by `app.tickets.canned.render` from a
    fixed list, never evaluated as a template.
    """

    __tablename__ = "canned_replies"

    __organization_id_indexed__ = False  # idx_canned_org_owner leads with it
    __table_args__ = (
        sa.CheckConstraint("length(title) > 0", name="check_canned_title_not_empty"),
        sa.Index("idx_canned_org_owner", "organization_id", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    owner_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def is_shared(self) -> bool:
        return self.owner_id is None


MAILBOX_SECURITY = ("ssl", "starttls", "none")  # IMAPS, STARTTLS, plain (loopback only: a local test server)
INBOUND_STATUSES = ("imported", "ignored", "held", "rejected", "discarded")


class Mailbox(TimestampMixin, TenantMixin, db.Model):
    """An organization's support mailbox: Cairn fetches it over IMAP on the worker.

    Its address is the Reply-To of the helpdesk's outgoing mail, so customers' answers
    come back here. The password is Fernet-encrypted (as the projects' push tokens are)
    and never rendered. The last fetch's outcome is kept on the row for its settings page.
    """

    __tablename__ = "ticket_mailboxes"

    __organization_id_indexed__ = False  # unique_org_mailbox_address leads with it
    __table_args__ = (
        sa.CheckConstraint("security IN ('ssl', 'starttls', 'none')", name="check_mailbox_security_valid"),
        sa.CheckConstraint("imap_port > 0 AND imap_port < 65536", name="check_mailbox_port_range"),
        sa.CheckConstraint("imported_count >= 0", name="check_mailbox_imported_count"),
        sa.UniqueConstraint("organization_id", "email_address", name="unique_org_mailbox_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    email_address: Mapped[str] = mapped_column(sa.String(320), nullable=False)
    imap_host: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    imap_port: Mapped[int] = mapped_column(nullable=False, default=993)
    security: Mapped[str] = mapped_column(sa.String(10), nullable=False, default="ssl")
    username: Mapped[str] = mapped_column(sa.String(320), nullable=False)
    password_sealed: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    folder: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="INBOX")
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True)
    allow_new_customers: Mapped[bool] = mapped_column(nullable=False, default=True)
    last_fetch_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    last_error_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    imported_count: Mapped[int] = mapped_column(nullable=False, default=0)


class InboundEmail(TimestampMixin, TenantMixin, db.Model):
    """One received message and what became of it: imported into a ticket, ignored (automatic mail,
    bounces, our own), held for an agent to accept, or rejected (unreadable). Its Message-ID is
    unique per organization: a message fetched twice (a retry after a crash) is imported once."""

    __tablename__ = "ticket_inbound_emails"

    __organization_id_indexed__ = False  # idx_inbound_org_status leads with it
    __table_args__ = (
        sa.UniqueConstraint("organization_id", "message_id", name="unique_org_inbound_message_id"),
        sa.CheckConstraint("status IN ('imported', 'ignored', 'held', 'rejected', 'discarded')",
                           name="check_inbound_status_valid"),
        sa.CheckConstraint("size >= 0", name="check_inbound_email_size"),
        sa.Index("idx_inbound_org_status", "organization_id", "status"),
        sa.Index("idx_inbound_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("ticket_mailboxes.id", ondelete="SET NULL"))
    message_id: Mapped[str] = mapped_column(sa.String(512), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    from_address: Mapped[str] = mapped_column(sa.String(320), nullable=False, default="")
    from_name: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    subject: Mapped[str] = mapped_column(sa.String(998), nullable=False, default="")
    ticket_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("tickets.id", ondelete="SET NULL"))
    comment_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("ticket_comments.id", ondelete="SET NULL"))
    raw_path: Mapped[str] = mapped_column(sa.String(255), nullable=False, default="")  # the original, as received
    size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)

    ticket: Mapped[Optional[Ticket]] = relationship()
    mailbox: Mapped[Optional[Mailbox]] = relationship()


class SavedView(TimestampMixin, TenantMixin, db.Model):
    """The list's filters and sort under a name: personal (owner set) or shared with the team (no owner)."""

    __tablename__ = "ticket_saved_views"

    __organization_id_indexed__ = False  # idx_saved_view_org_owner leads with it
    __table_args__ = (
        sa.CheckConstraint("length(name) > 0", name="check_saved_view_name_not_empty"),
        sa.Index("idx_saved_view_org_owner", "organization_id", "owner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    filters: Mapped[dict] = json_dict_column()
    owner_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def is_shared(self) -> bool:
        return self.owner_id is None

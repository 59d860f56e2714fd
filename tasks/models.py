"""The outbox tables: every email is a row before it is a send; the suppression list."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.time import UTCDateTime, utcnow
from extensions import db

COACH_CANCELLED = "cancelled by the coach"


class EmailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class Category(enum.StrEnum):
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


class Delivery(enum.StrEnum):
    SMTP = "smtp"
    # SMTP_HOST empty (the `make run` default): the email stays in the outbox for the coach to read.
    LOGGED = "logged"


class OutboxEmail(db.Model):
    """One email, rendered when queued (or, with `render`, by the worker at send time). Sent by
    `tasks.outbox.send_email(id)` once, whatever the number of deliveries of that task: the
    send claims the row with a conditional UPDATE."""

    __tablename__ = "outbox_emails"
    __table_args__ = (
        # What dispatch_due/sweep_stuck scan every minute, and the coach's filter by status.
        Index("ix_outbox_emails_status_due", "status", "due_at"),
        Index("ix_outbox_emails_status_created", "status", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_email: Mapped[str] = mapped_column(String(254), index=True)
    template: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(300))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    category: Mapped[Category] = mapped_column(
        Enum(Category, native_enum=False, length=16), default=Category.TRANSACTIONAL
    )
    status: Mapped[EmailStatus] = mapped_column(
        Enum(EmailStatus, native_enum=False, length=16), default=EmailStatus.QUEUED
    )
    delivery: Mapped[Delivery | None] = mapped_column(Enum(Delivery, native_enum=False, length=8))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # Not sent before this time; immediate emails get their creation time.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When a send task was last put on the broker; the sweeper re-enqueues when it is stale.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(255), default="")
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    # [{"filename", "content_type", "data" (base64)}] — small files such as an .ics invite.
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    # A check re-run at send time ("booking_active:12"): the step skips itself when it fails.
    condition: Mapped[str] = mapped_column(String(120), default="")
    # An email queued with `render_later` (the booking's): its template context and attachment
    # builders, rendered by the worker when it sends; None once rendered (html/text hold it).
    render: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    @property
    def is_marketing(self) -> bool:
        return self.category == Category.MARKETING

    @property
    def skip_reason(self) -> str | None:
        """Why the app (not the coach) dropped this email — 'she enrolled', 'no longer
        applies'… — or None when it was not skipped."""
        if self.status != EmailStatus.CANCELLED or self.last_error == COACH_CANCELLED:
            return None
        return self.last_error or "no longer applies"


class SuppressionReason(enum.StrEnum):
    UNSUBSCRIBED = "unsubscribed"  # stops marketing; transactional email still goes
    BOUNCED = "bounced"  # stops everything
    COMPLAINED = "complained"  # stops everything
    MANUAL = "manual"  # stops everything (set by the coach)


class Suppression(db.Model):
    """An address that must not get (marketing, or any) email. Checked by every send."""

    __tablename__ = "email_suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower-cased
    reason: Mapped[SuppressionReason] = mapped_column(
        Enum(SuppressionReason, native_enum=False, length=16)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def blocks_transactional(self) -> bool:
        return self.reason != SuppressionReason.UNSUBSCRIBED


class EmailTemplateOverride(db.Model):
    """The coach's own version of a built-in email: used by queue_email over the file templates.

    `body` is Markdown or HTML with Jinja placeholders, rendered in a sandbox; an empty subject
    or body keeps the file template's. `delay_hours` holds one delay per step of the template's
    sequence (see tasks.editor.SEQUENCES); None keeps the built-in delays."""

    __tablename__ = "email_template_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(80), unique=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    delay_hours: Mapped[list | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

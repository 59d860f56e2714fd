"""Articles the coach publishes, and which article brought each booked call."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.time import UTCDateTime, utcnow
from extensions import db


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Article(db.Model):
    """One article. It is public when status is published and published_at has passed."""

    __tablename__ = "articles"
    __table_args__ = (Index("ix_articles_status_published", "status", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(400), default="")
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered and sanitised on read
    # Tags as ",knee-pain,strength," so one LIKE '%,tag,%' finds an article on every backend.
    tags_text: Mapped[str] = mapped_column(String(400), default="")
    status: Mapped[ArticleStatus] = mapped_column(
        Enum(ArticleStatus, native_enum=False, length=16), default=ArticleStatus.DRAFT
    )
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    video_url: Mapped[str] = mapped_column(String(300), default="")
    cover_key: Mapped[str] = mapped_column(String(100), default="")  # a stored image's name
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def tags(self) -> list[str]:
        return [t for t in self.tags_text.split(",") if t]

    def is_live(self, now: datetime) -> bool:
        return (
            self.status == ArticleStatus.PUBLISHED
            and self.published_at is not None
            and self.published_at <= now
        )


class BookingAttribution(db.Model):
    """The articles a visitor read before booking: first touch and last touch ("article:<slug>"
    or another source), one row per booking."""

    __tablename__ = "booking_attributions"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), unique=True
    )
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    first_touch: Mapped[str] = mapped_column(String(140), default="", index=True)
    last_touch: Mapped[str] = mapped_column(String(140), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.leads.models import Lead
from crm.time import UTCDateTime, utcnow
from extensions import db


class CoachSettings(db.Model):
    """The coach's booking rules: one row."""

    __tablename__ = "coach_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")
    call_minutes: Mapped[int] = mapped_column(default=20)
    buffer_minutes: Mapped[int] = mapped_column(default=10)
    min_notice_hours: Mapped[int] = mapped_column(default=12)
    horizon_days: Mapped[int] = mapped_column(default=30)
    # How the free call happens: "video" (her fixed meeting link, or a Jitsi Meet room per
    # booking when it is empty: works with no setup) or "phone" (she gives a number, the coach
    # calls).
    call_kind: Mapped[str] = mapped_column(String(8), default="video", server_default="video")
    video_link: Mapped[str] = mapped_column(String(300), default="", server_default="")


class AvailabilityWindow(db.Model):
    """A weekly window, in the coach's time zone, when calls can start (several per weekday)."""

    __tablename__ = "availability_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    weekday: Mapped[int]  # 0 = Monday
    start_time: Mapped[time]
    end_time: Mapped[time]


class DayOff(db.Model):
    __tablename__ = "days_off"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    note: Mapped[str] = mapped_column(String(120), default="")


class BusyFeed(db.Model):
    """The coach's own calendar (its secret iCal address): one row. `busy` is the last good
    copy's busy intervals, [start, end) in UTC ISO strings, over the bookable range."""

    __tablename__ = "busy_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, default="")  # a secret: shown masked
    busy: Mapped[list] = mapped_column(JSON, default=list)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last good copy
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last attempt
    error: Mapped[str] = mapped_column(String(300), default="")  # of the last attempt, if any


class CallKind(enum.StrEnum):
    PHONE = "phone"
    VIDEO = "video"


class BookingStatus(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"
    HELD = "held"
    NO_SHOW = "no_show"


class Booking(db.Model):
    """A free call. `slot_start` is set while the booking holds its slot and NULL once it lets go:
    the unique constraint on it is what makes a double booking impossible.

    The booking request writes the lead, the booking and its timeline entries, nothing more; a
    Celery task (crm.booking.queue_emails, published once a window for every booking made in
    it) then queues her confirmation and reminders and sets `emails_queued_at`. Until then it is
    NULL, and that task and beat's sweep (for a task lost to a broker outage) find the bookings
    waiting by the partial index on it."""

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "ix_bookings_emails_pending",
            "created_at",
            sqlite_where=text("emails_queued_at IS NULL"),
            postgresql_where=text("emails_queued_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    slot_start: Mapped[datetime | None] = mapped_column(UTCDateTime, unique=True)
    status: Mapped[BookingStatus] = mapped_column(
        Enum(BookingStatus, native_enum=False, length=16), default=BookingStatus.BOOKED
    )
    timezone: Mapped[str] = mapped_column(String(64))  # the visitor's, for emails
    rescheduled_from_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The call kind when it was booked, and the video link her emails and invite carry.
    call_kind: Mapped[str] = mapped_column(String(8), default="phone", server_default="phone")
    meeting_url: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # When her confirmation and reminders were queued: by the worker for a new booking (which
    # book_call writes as NULL), at once for a moved call or any other row.
    emails_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)

    lead: Mapped[Lead] = relationship()

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import DDL, JSON, Enum, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.time import UTCDateTime, utcnow
from extensions import db


class Stage(enum.StrEnum):
    NEW = "new"
    CALL_BOOKED = "call_booked"
    CALL_HELD = "call_held"
    OFFER_SENT = "offer_sent"
    ENROLLED = "enrolled"
    LOST = "lost"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def colour(self) -> str:
        """The Bootstrap colour of the stage's badge (`text-bg-<colour>`)."""
        return _STAGE_COLOURS[self]


_STAGE_COLOURS = {
    Stage.NEW: "secondary",
    Stage.CALL_BOOKED: "info",
    Stage.CALL_HELD: "primary",
    Stage.OFFER_SENT: "warning",
    Stage.ENROLLED: "success",
    Stage.LOST: "dark",
}


class Lead(db.Model):
    """A person in the coach's pipeline: one per email address (case-insensitive)."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_stage_created", "stage", "created_at", "id"),
        # Newest-first keyset pages; the stage rides along (PostgreSQL INCLUDE) so the dashboard's
        # 90-day funnel counts leads by stage from the index alone.
        Index("ix_leads_created_id", "created_at", "id", postgresql_include=["stage"]),
        Index("ix_leads_source_created", "source", "created_at"),
        # Keyset pagination of the "name" sort order.
        Index("ix_leads_name_id", "name", "id"),
        # The list's search is a substring match (ILIKE '%q%') on name, email and phone: trigram
        # GIN indexes let PostgreSQL answer it without reading every row (bench/, BENCHMARKS.md).
        *(
            Index(
                f"ix_leads_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                # No pending list: new leads are searchable through the index at once, instead
                # of every search rereading thousands of unmerged entries until autovacuum runs.
                postgresql_with={"fastupdate": "off"},
            ).ddl_if(dialect="postgresql")
            for column in ("name", "email", "phone")
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower-cased
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(40), default="")
    goal_race: Mapped[str] = mapped_column(String(120), default="")
    goal_date: Mapped[date | None]
    pain_level: Mapped[int | None]
    pain_notes: Mapped[str] = mapped_column(Text, default="")
    heard_from: Mapped[str] = mapped_column(String(120), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # First-touch attribution: what brought this person the first time.
    source: Mapped[str] = mapped_column(String(120), default="direct")
    utm: Mapped[dict] = mapped_column(JSON, default=dict)
    stage: Mapped[Stage] = mapped_column(
        Enum(Stage, native_enum=False, length=16), default=Stage.NEW
    )
    lost_reason: Mapped[str] = mapped_column(String(200), default="")
    automation_paused: Mapped[bool] = mapped_column(default=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    events: Mapped[list[LeadEvent]] = relationship(
        back_populates="lead", order_by="desc(LeadEvent.id)", cascade="all, delete-orphan"
    )
    notes: Mapped[list[Note]] = relationship(
        back_populates="lead", order_by="desc(Note.id)", cascade="all, delete-orphan"
    )

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""


# The trigram indexes need the pg_trgm extension (a trusted extension: the database owner may
# create it); migrations run the same statement before creating the indexes.
event.listen(
    Lead.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


class LeadEvent(db.Model):
    """One entry on a lead's timeline: created, booked, stage changed, note added, email sent…"""

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lead: Mapped[Lead] = relationship(back_populates="events")


class Note(db.Model):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    lead: Mapped[Lead] = relationship(back_populates="notes")

"""The runner's answers to her weekly check-in."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.time import UTCDateTime, utcnow
from extensions import db


class Feeling(enum.StrEnum):
    GREAT = "great"
    OK = "ok"
    HARD = "hard"

    @property
    def label(self) -> str:
        return {"great": "Great", "ok": "OK", "hard": "Hard"}[self.value]


class CheckIn(db.Model):
    """A runner's answer to the weekly check-in email: one per runner and ISO week."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("user_id", "week"),
        CheckConstraint("pain BETWEEN 0 AND 10", name="checkin_pain_range"),
        CheckConstraint("confidence BETWEEN 0 AND 10", name="checkin_confidence_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    week: Mapped[str] = mapped_column(String(8))  # ISO week of the Sunday it was sent: 2030-W45
    feeling: Mapped[Feeling] = mapped_column(Enum(Feeling, native_enum=False, length=8))
    pain: Mapped[int]
    confidence: Mapped[int]
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

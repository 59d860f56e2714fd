"""The coach's flags: something about a client she should look at, raised once per finding."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.time import UTCDateTime, utcnow
from extensions import db


class FlagKind(enum.StrEnum):
    PAIN = "pain"
    MISSED = "missed"
    SILENT = "silent"
    RACE = "race"

    @property
    def label(self) -> str:
        return {
            "pain": "Pain",
            "missed": "Missed sessions",
            "silent": "Silent",
            "race": "Race pace at risk",
        }[self.value]


class CoachFlag(db.Model):
    """Something the coach should look at. ``key`` makes raising the same finding idempotent."""

    __tablename__ = "coach_flags"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[FlagKind] = mapped_column(Enum(FlagKind, native_enum=False, length=16))
    key: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

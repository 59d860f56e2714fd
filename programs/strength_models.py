"""What persists around strength days: the coach's demonstrations of an exercise (photos and a
video in storage), the runner's word on each exercise she did, and the exercises the coach
pinned for a runner so the feedback rules leave them alone."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm import Session as DbSession

from crm.time import UTCDateTime, utcnow
from extensions import db
from programs.engine.strength_feedback import ExerciseFeedback


class MediaKind(enum.StrEnum):
    START = "start"  # photo of the start position
    END = "end"  # photo of the end position
    VIDEO = "video"


class MediaStatus(enum.StrEnum):
    PROCESSING = "processing"  # a video waiting for the worker
    READY = "ready"
    FAILED = "failed"


class ExerciseMedia(db.Model):
    """One demonstration of a library exercise (built-in or hers, by its id): a photo of the
    start or end position, or a video with its poster frame. One of each kind per exercise."""

    __tablename__ = "exercise_media"
    __table_args__ = (UniqueConstraint("exercise_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[MediaKind] = mapped_column(Enum(MediaKind, native_enum=False, length=16))
    status: Mapped[MediaStatus] = mapped_column(Enum(MediaStatus, native_enum=False, length=16))
    key: Mapped[str | None] = mapped_column(String(64))  # the photo, or the transcoded MP4
    poster_key: Mapped[str | None] = mapped_column(String(64))
    source_key: Mapped[str | None] = mapped_column(String(64))  # the upload, until transcoded
    duration_ms: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    source_bytes: Mapped[int | None]
    worker_ms: Mapped[int | None]  # how long the transcode took (the bench reads it)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StrengthFeedback(db.Model):
    """How one exercise of a strength session felt. One per runner, day and exercise: a second
    submit updates the first."""

    __tablename__ = "strength_feedback"
    __table_args__ = (
        UniqueConstraint("user_id", "session_date", "exercise_id"),
        CheckConstraint("pain IS NULL OR (pain BETWEEN 0 AND 10)", name="pain_range"),
        CheckConstraint("sets_done IS NULL OR sets_done >= 0", name="sets_done_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_date: Mapped[date]
    exercise_id: Mapped[str] = mapped_column(String(64))
    rating: Mapped[str | None] = mapped_column(String(8))  # easy | right | hard
    pain: Mapped[int | None]
    sets_done: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StrengthPin(db.Model):
    """An exercise the coach fixed in a runner's plan: the feedback rules leave it alone."""

    __tablename__ = "strength_pins"
    __table_args__ = (UniqueConstraint("user_id", "exercise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    exercise_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def feedback_rows(session: DbSession, user_id: int, since: date | None = None) -> list:
    query = select(StrengthFeedback).where(StrengthFeedback.user_id == user_id)
    if since is not None:
        query = query.where(StrengthFeedback.session_date >= since)
    return list(
        session.scalars(query.order_by(StrengthFeedback.session_date, StrengthFeedback.exercise_id))
    )


def engine_feedback(session: DbSession, user_id: int, since: date) -> list[ExerciseFeedback]:
    """Her feedback since ``since`` as the engine's feedback rules read it."""
    return [
        ExerciseFeedback(r.session_date, r.exercise_id, r.rating, r.pain)
        for r in feedback_rows(session, user_id, since)
    ]


def pinned_exercises(session: DbSession, user_id: int) -> set[str]:
    return set(
        session.scalars(select(StrengthPin.exercise_id).where(StrengthPin.user_id == user_id))
    )

"""What persists around the pure engine: the runner's profile, her plans, her logs, the coach's
notes, and the secret of her calendar feed (the coach's flags are crm.alerts.models)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from crm.time import UTCDateTime, utcnow
from extensions import db
from programs.engine.library import Dose, Exercise


class LogStatus(enum.StrEnum):
    DONE = "done"
    PARTIAL = "partial"
    SKIPPED = "skipped"

    @property
    def label(self) -> str:
        return {"done": "Done", "partial": "Partly", "skipped": "Skipped"}[self.value]


class RunnerProfile(db.Model):
    """The intake answers: the engine's profile as JSON, plus the columns the coach filters on."""

    __tablename__ = "runner_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    profile: Mapped[dict] = mapped_column(JSON)
    ability: Mapped[str] = mapped_column(String(16))
    run_minutes: Mapped[int | None]
    days_per_week: Mapped[int]
    pain_area: Mapped[str] = mapped_column(String(16), default="none")
    pain_level: Mapped[int] = mapped_column(default=0)
    race_date: Mapped[date | None]
    race_type: Mapped[str | None] = mapped_column(String(16))
    start_date: Mapped[date]
    timezone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")
    # Pain (during or next morning) above this raises a flag for the coach.
    pain_threshold: Mapped[int] = mapped_column(default=4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PlanRecord(db.Model):
    """One generated plan. The active one is what the runner follows; older ones are history.

    ``base_plan`` is the engine's output; ``plan`` is the plan as the runner sees it: the base
    adapted to her logs, with the coach's edits applied. ``coach_edits`` lists those edits
    (one entry per edit: the day's sessions as the coach left them) so every re-adaptation
    starts from the base and re-applies them: adaptation never overrides the coach."""

    __tablename__ = "plan_records"
    __table_args__ = (
        # At most one active plan per runner, enforced by the database on both backends.
        Index(
            "uq_plan_records_one_active",
            "user_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    engine_version: Mapped[str] = mapped_column(String(32))
    base_plan: Mapped[dict] = mapped_column(JSON)  # the engine's output, before adaptation
    plan: Mapped[dict] = mapped_column(JSON)
    # Every session of `plan` as {date, title, kind}, kept beside it (set whenever `plan` is):
    # a fan-out that shows a week (the Sunday check-ins) reads a few KB, not each whole plan.
    calendar: Mapped[list] = mapped_column(JSON, default=list)
    coach_edits: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @validates("plan")
    def _keep_calendar(self, _key: str, plan: dict) -> dict:
        self.calendar = plan_calendar(plan)
        return plan


def plan_calendar(plan: dict | None) -> list[dict[str, str]]:
    """{date, title, kind} of each session of a stored plan, in the plan's order."""
    return [
        {"date": s["date"], "title": s.get("title", ""), "kind": s.get("kind", "")}
        for week in (plan or {}).get("weeks", ())
        for s in week.get("sessions", ())
    ]


class WorkoutLog(db.Model):
    """How a session went. One per runner, date and kind: a second submit updates the first."""

    __tablename__ = "workout_logs"
    __table_args__ = (
        UniqueConstraint("user_id", "session_date", "kind"),
        # The id the runner's phone gave a log made offline: a replay is recognised, not redone.
        UniqueConstraint("user_id", "client_id"),
        CheckConstraint("effort IS NULL OR (effort BETWEEN 1 AND 10)", name="effort_range"),
        CheckConstraint(
            "pain_during IS NULL OR (pain_during BETWEEN 0 AND 10)", name="pain_during_range"
        ),
        CheckConstraint(
            "pain_next_morning IS NULL OR (pain_next_morning BETWEEN 0 AND 10)",
            name="pain_next_morning_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_date: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))  # run_walk | strength
    status: Mapped[LogStatus] = mapped_column(Enum(LogStatus, native_enum=False, length=16))
    # Effort and pain during are required unless the session was skipped.
    effort: Mapped[int | None]
    pain_during: Mapped[int | None]
    pain_next_morning: Mapped[int | None]
    note: Mapped[str] = mapped_column(Text, default="")
    client_id: Mapped[str | None] = mapped_column(String(64))
    # A run/walk's longest continuous run, in seconds, as her plan set it when she logged it: her
    # milestones (programs.progress) compare it with her earlier run/walks' without their plans.
    run_seconds: Mapped[int | None]
    # The session(s) of this kind that day as her plan showed them when she first logged it: her
    # plan is worked out again on every log, and a logged day stays what she was asked to do.
    planned: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ClientNote(db.Model):
    """The coach's private note on a client."""

    __tablename__ = "client_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarToken(db.Model):
    """The secret in the runner's .ics feed URL; regenerating it kills the old URL."""

    __tablename__ = "calendar_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CoachExercise(db.Model):
    """A hip exercise the coach added from the admin page: the same fields as an entry of
    ``engine/exercises.yaml``. Active ones are merged after the built-in library (see
    ``programs.library.current_library``); switching one off keeps it for plans that already use it.

    ``slug`` is the exercise id the engine and stored plans use, so it never changes once made.
    Only her own side of a variant link is stored; the merge fills in the other side."""

    __tablename__ = "coach_exercises"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    instructions: Mapped[str] = mapped_column(Text)
    cue: Mapped[str] = mapped_column(String(160))
    direction: Mapped[str] = mapped_column(String(24))
    knee: Mapped[str] = mapped_column(String(16))
    position: Mapped[str] = mapped_column(String(16))
    equipment: Mapped[str] = mapped_column(String(16))
    sets: Mapped[int]
    reps: Mapped[int | None]
    seconds: Mapped[int | None]
    per_side: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    easier: Mapped[str | None] = mapped_column(String(64))
    harder: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def to_engine_dict(self) -> dict:
        """The exercise as the engine's ``validate_exercise`` takes it (not checked here: the
        engine's ``Exercise.to_dict`` spells it, so the two never drift apart)."""
        return Exercise(
            id=self.slug,
            name=self.name,
            instructions=self.instructions,
            cue=self.cue,
            direction=self.direction,
            knee=self.knee,
            position=self.position,
            equipment=self.equipment,
            dose=Dose(self.sets, self.reps, self.seconds, self.per_side),
            tags=frozenset(self.tags or ()),
            easier=self.easier,
            harder=self.harder,
        ).to_dict()

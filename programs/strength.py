"""Strength days around the engine: her word on each exercise (stored with the session's log,
then the plan re-adapts), the coach's pins, and what the coach's client page shows per exercise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from programs.demos import Demo, demos_for
from programs.engine import Plan, StrengthItem
from programs.engine.model import STRENGTH
from programs.engine.strength_feedback import RATINGS
from programs.engine.strength_feedback import RULES as FEEDBACK_RULES
from programs.errors import NoPlan, PortalError
from programs.logs import record_workout
from programs.models import WorkoutLog
from programs.plans import active_plan, load_plan, readapt, sessions_on
from programs.strength_models import StrengthFeedback, StrengthPin, feedback_rows

RATING_LABELS = {"easy": "Too easy", "right": "About right", "hard": "Too hard"}


def strength_items(plan: Plan, day: date) -> list[StrengthItem]:
    """The strength exercises planned on ``day`` (own session first, then a post-run block)."""
    out: list[StrengthItem] = []
    for s in sessions_on(plan, day):
        out.extend(s.items if s.kind == STRENGTH else s.block)
    return out


def feedback_from_form(form: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``rating-<id>``, ``pain-<id>`` and ``sets-<id>`` fields of a posted form, by exercise."""
    out: dict[str, dict[str, str]] = {}
    for name, value in form.items():
        prefix, _, ex_id = name.partition("-")
        if prefix in ("rating", "pain", "sets") and ex_id:
            out.setdefault(ex_id, {})[prefix] = value
    return out


def _number(value: Any, lo: int, hi: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(value) from None
    if not lo <= n <= hi:
        raise ValueError(value)
    return n


def record_strength_session(
    session: DbSession,
    user_id: int,
    session_date: date,
    status: str,
    effort: Any,
    pain_during: Any,
    note: str = "",
    *,
    feedback: Mapping[str, Mapping[str, Any]],
    kind: str = STRENGTH,
) -> WorkoutLog:
    """The usual session log plus, per exercise, "too easy / about right / too hard", pain 0-10
    and sets done; then the plan re-adapts (``record_workout``). Idempotent: one feedback row per
    day and exercise, a second submit updates it. Pain during defaults to the worst exercise's.
    Raises ``PortalError``; nothing is written then. Commits."""
    record = active_plan(session, user_id)
    if record is None:
        raise NoPlan()
    planned = {i.exercise_id: i for i in strength_items(load_plan(record), session_date)}
    errors: dict[str, str] = {}
    rows: dict[str, tuple[str | None, int | None, int | None]] = {}
    for ex_id, values in feedback.items():
        if ex_id not in planned:
            errors["status"] = "That exercise isn't in this day's session."
            continue
        rating = values.get("rating") or None
        if rating is not None and rating not in RATINGS:
            errors["status"] = "Tap too easy, about right or too hard."
        try:
            pain = _number(values.get("pain"), 0, 10)
        except ValueError:
            errors["pain_during"] = "Pain is a number from 0 (none) to 10 (worst)."
            continue
        try:
            sets = _number(values.get("sets"), 0, planned[ex_id].sets)
        except ValueError:
            sets = None  # a count from the guided session's memory; not worth refusing a log
        if rating is not None or pain is not None or sets is not None:
            rows[ex_id] = (rating, pain, sets)
    if errors:
        raise PortalError(errors)
    pains = [p for _, p, _ in rows.values() if p is not None]
    if pain_during in (None, "") and pains and status != "skipped":
        pain_during = max(pains)
    existing = {
        r.exercise_id: r
        for r in session.scalars(
            select(StrengthFeedback).where(
                StrengthFeedback.user_id == user_id, StrengthFeedback.session_date == session_date
            )
        )
    }
    for ex_id, (rating, pain, sets) in rows.items():
        row = existing.get(ex_id)
        if row is None:
            row = StrengthFeedback(user_id=user_id, session_date=session_date, exercise_id=ex_id)
            session.add(row)
        row.rating, row.pain, row.sets_done = rating, pain, sets
    session.flush()
    return record_workout(
        session, user_id, session_date, status, effort, pain_during, note=note, kind=kind
    )


def set_pin(session: DbSession, user_id: int, exercise_id: str, pinned: bool) -> bool:
    """Pin an exercise of her plan (the feedback rules leave it alone) or unpin it; re-adapts.
    Returns whether it is now pinned. Raises ``PortalError`` for an exercise not in her plan.
    Commits."""
    record = active_plan(session, user_id)
    if record is None:
        raise NoPlan()
    in_plan = {
        i.exercise_id
        for p in (load_plan(record),)
        for s in p.sessions
        for i in (*s.items, *s.block)
    }
    pin = session.scalar(
        select(StrengthPin).where(
            StrengthPin.user_id == user_id, StrengthPin.exercise_id == exercise_id
        )
    )
    if pinned and pin is None:
        if exercise_id not in in_plan:
            raise PortalError({"exercise_id": "That exercise isn't in her plan."})
        session.add(StrengthPin(user_id=user_id, exercise_id=exercise_id))
    elif not pinned and pin is not None:
        session.delete(pin)
    session.flush()
    readapt(session, record)
    session.commit()
    return pinned


@dataclass
class ExerciseHistory:
    """One exercise on the coach's client page: what she did, how it felt, what changed."""

    exercise_id: str
    name: str
    entries: list[StrengthFeedback] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    pinned: bool = False
    upcoming: bool = False


def exercise_histories(
    session: DbSession, user_id: int, plan: Plan, on_date: date
) -> list[ExerciseHistory]:
    """Per exercise she rated, or pinned, or has in the next two weeks, newest rated first: her
    entries, the feedback rules' changes that name it, and whether it is pinned."""
    names: dict[str, str] = {}
    upcoming: set[str] = set()
    for s in plan.sessions:
        for item in (*s.items, *s.block):
            names.setdefault(item.exercise_id, item.name)
            if on_date <= s.date < on_date + timedelta(days=14):
                upcoming.add(item.exercise_id)
    pins = set(
        session.scalars(select(StrengthPin.exercise_id).where(StrengthPin.user_id == user_id))
    )
    by_id: dict[str, ExerciseHistory] = {}
    for row in feedback_rows(session, user_id, plan.profile.start_date):
        h = by_id.setdefault(
            row.exercise_id, ExerciseHistory(row.exercise_id, names.get(row.exercise_id, ""))
        )
        h.entries.append(row)
    for ex_id in upcoming | pins:
        by_id.setdefault(ex_id, ExerciseHistory(ex_id, names.get(ex_id, ex_id)))
    strength_changes = [c for c in plan.changes if c.rule in FEEDBACK_RULES]
    for h in by_id.values():
        h.name = h.name or h.exercise_id
        h.pinned = h.exercise_id in pins
        h.upcoming = h.exercise_id in upcoming
        h.changes = [c.summary for c in strength_changes if c.summary.startswith(h.name + " ")]
    return sorted(
        by_id.values(),
        key=lambda h: (not h.entries, -(h.entries[-1].session_date.toordinal() if h.entries else 0),
                       h.name),
    )  # fmt: skip


@dataclass
class StrengthDay:
    """What a strength day's page needs beyond the session: each exercise's demonstration,
    her earlier word on each (to fill the form again) and the guided session's steps."""

    demos: dict[str, Demo]
    feedback: dict[str, StrengthFeedback]
    items: list[StrengthItem]

    def guide(self) -> list[dict[str, Any]]:
        """The exercises as the guided session (static/js/strength.js) walks them."""
        return [
            {
                "id": i.exercise_id,
                "name": i.name,
                "cue": i.cue,
                "sets": i.sets,
                "reps": i.reps,
                "seconds": i.seconds,
                "per_side": i.per_side,
                "rest": i.rest_seconds,
            }
            for i in self.items
        ]


def strength_day(session: DbSession, user_id: int, sessions, on_date: date) -> StrengthDay | None:
    """The strength part of a day's page, or None when no strength is planned that day."""
    items = [i for s in sessions for i in (s.items if s.kind == STRENGTH else ())]
    if not items:
        return None
    rows = session.scalars(
        select(StrengthFeedback).where(
            StrengthFeedback.user_id == user_id, StrengthFeedback.session_date == on_date
        )
    )
    return StrengthDay(
        demos=demos_for(session, [i.exercise_id for i in items]),
        feedback={r.exercise_id: r for r in rows},
        items=items,
    )

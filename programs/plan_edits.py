"""The coach's hand edits of a runner's plan: swap an exercise, move, skip, new intervals. Each
edit is recorded on the plan record (the engine keeps edited days as she left them) and the plan
re-adapts. Each commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy.orm import Session as DbSession

from crm.time import utcnow
from programs.engine import Exercise, Library, Plan, Segment, Session, StrengthItem, load_library
from programs.engine.model import RUN_WALK
from programs.engine.progression import WARMUP_SECONDS
from programs.engine.strength import IMPACT, IMPACT_FREE_WEEKS, in_slot
from programs.engine.words import short_date
from programs.errors import NoPlan, PortalError
from programs.library import current_library
from programs.models import PlanRecord
from programs.plans import active_plan, load_plan, readapt, sessions_on


def _session_at(plan: Plan, day: date, kind: str) -> Session:
    for s in plan.sessions:
        if s.date == day and s.kind == kind:
            return s
    raise PortalError({"session_date": "There is no such session in the plan on that day."})


def _record_edit(
    session: DbSession, record: PlanRecord, day: date, sessions: Iterable[Session], op: str,
    note: str, by: int | None,
) -> None:  # fmt: skip
    edit = {
        "op": op,
        "date": day.isoformat(),
        "sessions": [s.to_dict() for s in sessions],
        "note": note,
        "by": by,
        "at": utcnow().isoformat(),
    }
    # Reassign (not append in place) so the JSON column is seen as changed.
    record.coach_edits = [*(record.coach_edits or []), edit]


def _editable(session: DbSession, user_id: int) -> tuple[PlanRecord, Plan]:
    record = active_plan(session, user_id)
    if record is None:
        raise NoPlan()
    return record, load_plan(record)


def swap_options(
    plan: Plan, exercise_id: str, library: Library | None = None, day: date | None = None
) -> list[Exercise]:
    """Exercises of the same direction the runner can do with her equipment, leaving out the
    moves her plan never uses (``Profile.excluded_tags``: knee-dominant moves for a sore knee,
    impact moves unless she is pain-free and young enough), and impact moves in the first four
    weeks or when no ``day`` is given. Pass ``current_library(session)``; without it, the
    built-in library only."""
    library = library or load_library()
    if exercise_id not in library:
        return []
    current = library[exercise_id]
    excluded = set(plan.profile.excluded_tags)
    early = day is None or (day - plan.profile.start_date).days < 7 * IMPACT_FREE_WEEKS
    if early:
        excluded.add(IMPACT)
    return [
        ex
        for ex in library.exercises
        if ex.direction == current.direction
        and ex.id != exercise_id
        and ex.equipment in plan.profile.equipment
        and not ex.tags & excluded
    ]


def swap_exercise(
    session: DbSession, user_id: int, day: date, kind: str, exercise_id: str, replacement_id: str,
    by: int | None = None,
) -> PlanRecord:  # fmt: skip
    """Replace one exercise of a session by another of the same direction (starting dose)."""
    record, plan = _editable(session, user_id)
    target = _session_at(plan, day, kind)
    options = {ex.id: ex for ex in swap_options(plan, exercise_id, current_library(session), day)}
    if replacement_id not in options:
        raise PortalError({"replacement": "Pick an exercise for the same direction she can do."})
    ex = options[replacement_id]

    def swapped(items: tuple[StrengthItem, ...]) -> tuple[StrengthItem, ...]:
        return tuple(
            in_slot(ex, item, sets=ex.dose.sets) if item.exercise_id == exercise_id else item
            for item in items
        )

    if not any(i.exercise_id == exercise_id for i in (*target.items, *target.block)):
        raise PortalError({"exercise_id": "That exercise isn't in this session."})
    new = replace(target, items=swapped(target.items), block=swapped(target.block))
    day_sessions = [new if s is target else s for s in sessions_on(plan, day)]
    note = f"Your coach swapped in {ex.name}."
    _record_edit(session, record, day, day_sessions, "swap", note, by)
    readapt(session, record)
    session.commit()
    return record


def move_session(
    session: DbSession, user_id: int, day: date, kind: str, to_date: date, by: int | None = None
) -> PlanRecord:
    """Move a session to another day of the plan (not onto a day with the same kind)."""
    record, plan = _editable(session, user_id)
    target = _session_at(plan, day, kind)
    first, last = plan.weeks[0].start_date, plan.weeks[-1].start_date + timedelta(days=6)
    if to_date == day:
        raise PortalError({"to_date": "Pick a different day."})
    if not first <= to_date <= last:
        between = f"Pick a day between {short_date(first)} and {short_date(last)}."
        raise PortalError({"to_date": between})
    if any(s.kind == kind for s in sessions_on(plan, to_date)):
        raise PortalError({"to_date": "That day already has this kind of session."})
    note = f"Your coach moved this from {short_date(day)}."
    _record_edit(
        session, record, day, [s for s in sessions_on(plan, day) if s is not target], "move",
        f"Your coach moved a session to {short_date(to_date)}.", by,
    )  # fmt: skip
    _record_edit(
        session, record, to_date, [*sessions_on(plan, to_date), replace(target, date=to_date)],
        "move", note, by,
    )  # fmt: skip
    readapt(session, record)
    session.commit()
    return record


def skip_session(
    session: DbSession, user_id: int, day: date, kind: str, by: int | None = None
) -> PlanRecord:
    """Take a session out of the plan (the day becomes rest)."""
    record, plan = _editable(session, user_id)
    target = _session_at(plan, day, kind)
    rest = [s for s in sessions_on(plan, day) if s is not target]
    _record_edit(session, record, day, rest, "skip", "Your coach made this a rest day.", by)
    readapt(session, record)
    session.commit()
    return record


def set_intervals(
    session: DbSession, user_id: int, day: date, repeats: int, run_seconds: int,
    walk_seconds: int, by: int | None = None,
) -> PlanRecord:  # fmt: skip
    """Give a run/walk session new intervals, keeping the 5-minute walks at each end."""
    record, plan = _editable(session, user_id)
    target = _session_at(plan, day, RUN_WALK)
    errors = {}
    if not 1 <= repeats <= 20:
        errors["repeats"] = "1 to 20 runs."
    if not 10 <= run_seconds <= 3600:
        errors["run_seconds"] = "A run is 10 seconds to 60 minutes."
    if not 0 <= walk_seconds <= 600 or (repeats > 1 and walk_seconds == 0):
        errors["walk_seconds"] = "A walk is up to 10 minutes (and needed between runs)."
    if errors:
        raise PortalError(errors)
    segments = [Segment("warmup", WARMUP_SECONDS)]
    for i in range(repeats):
        if i:
            segments.append(Segment("walk", walk_seconds))
        segments.append(Segment("run", run_seconds))
    segments.append(Segment("cooldown", WARMUP_SECONDS))
    title = (
        f"Run {run_seconds // 60}:{run_seconds % 60:02d} without walking"
        if repeats == 1
        else f"Run/walk: {repeats} x {run_seconds // 60}:{run_seconds % 60:02d} running"
    )
    new = replace(target, segments=tuple(segments), title=title)
    day_sessions = [new if s is target else s for s in sessions_on(plan, day)]
    note = "Your coach set new intervals."
    _record_edit(session, record, day, day_sessions, "intervals", note, by)
    readapt(session, record)
    session.commit()
    return record

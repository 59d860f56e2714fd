"""The runner's profile, plan and logs as stored, and the plan recomputed from them.

A plan record keeps the engine's plan as generated (``base``) and the plan the runner sees
(``plan`` = base adapted to her logs with the coach's edits applied), recomputed from scratch
by ``readapt`` after every log or edit. The one thing it does not recompute is history: a day
she has logged keeps the sessions she logged against (kept with the log, ``planned``), whatever
the later logs made of the weeks around it. Every function takes a SQLAlchemy session and plain
values; none commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session as DbSession

from crm.memo import Newest
from programs.engine import CoachEdit, Plan, Session, adapt, keep_as_logged
from programs.engine import WorkoutLog as EngineLog
from programs.engine.edits import enforce_edits
from programs.engine.model import RUN_WALK
from programs.engine.progress import SessionLog
from programs.engine.strength_feedback import apply_feedback
from programs.library import current_library
from programs.models import PlanRecord, RunnerProfile, WorkoutLog
from programs.strength_models import engine_feedback, pinned_exercises


def runner_profile(session: DbSession, user_id: int) -> RunnerProfile | None:
    return session.scalar(select(RunnerProfile).where(RunnerProfile.user_id == user_id))


def active_plan(session: DbSession, user_id: int) -> PlanRecord | None:
    return session.scalar(
        select(PlanRecord).where(PlanRecord.user_id == user_id, PlanRecord.active.is_(True))
    )


def load_plan(record: PlanRecord) -> Plan:
    return Plan.from_dict(record.plan)


# Parsed plans keyed by their stored JSON text: the key is the content itself, so a changed plan
# can never be served from an older parse, in this process or any other. A Plan is immutable
# (frozen dataclasses and tuples), so one instance is shared by every request of the process.
PLAN_CACHE_SIZE = 128


_plans: Newest[str, Plan] = Newest(PLAN_CACHE_SIZE)
# The plan as the text the database holds (JSON is stored as text by both backends): no JSON
# decoding by the driver, and the parse cache above is keyed by it.
PLAN_TEXT = cast(PlanRecord.plan, Text)


def parsed_plan(plan_json: str) -> Plan:
    """The Plan of a plan record's stored JSON text, parsed once per process per content."""
    plan = _plans.get(plan_json)
    if plan is None:
        plan = Plan.from_dict(json.loads(plan_json))
        _plans.put(plan_json, plan)
    return plan


def sessions_on(plan: Plan, day: date) -> list[Session]:
    return [s for s in plan.sessions if s.date == day]


def logs_for(session: DbSession, user_id: int, since: date | None = None) -> list[WorkoutLog]:
    query = select(WorkoutLog).where(WorkoutLog.user_id == user_id)
    if since is not None:
        query = query.where(WorkoutLog.session_date >= since)
    return list(session.scalars(query.order_by(WorkoutLog.session_date, WorkoutLog.kind)))


def _engine_logs(logs: Iterable[WorkoutLog]) -> list[EngineLog]:
    """One engine log per day (the engine judges days): the run/walk's status wins, pain is the
    worst of the day's logs."""
    by_day: dict[date, list[WorkoutLog]] = {}
    for lg in logs:
        by_day.setdefault(lg.session_date, []).append(lg)
    out = []
    for day in sorted(by_day):
        day_logs = sorted(by_day[day], key=lambda g: g.kind != RUN_WALK)
        mornings = [g.pain_next_morning for g in day_logs if g.pain_next_morning is not None]
        out.append(
            EngineLog(
                session_date=day,
                status=str(day_logs[0].status),
                effort=day_logs[0].effort,
                pain_during=max(g.pain_during or 0 for g in day_logs),
                pain_next_morning=max(mornings) if mornings else None,
            )
        )
    return out


def session_logs(logs: Iterable[WorkoutLog]) -> list[SessionLog]:
    """Her logs as the engine's progress and flag rules read them: one per session."""
    return [
        SessionLog(
            session_date=lg.session_date,
            kind=lg.kind,
            status=str(lg.status),
            pain_during=lg.pain_during,
            pain_next_morning=lg.pain_next_morning,
        )
        for lg in logs
    ]


def _edits(record: PlanRecord) -> list[CoachEdit]:
    return [
        CoachEdit(
            date=date.fromisoformat(e["date"]),
            sessions=tuple(Session.from_dict(s) for s in e["sessions"]),
            note=e.get("note", "Changed by your coach."),
        )
        for e in record.coach_edits or []
    ]


def readapt(session: DbSession, record: PlanRecord) -> Plan:
    """Recompute the runner's plan: engine output + her logs + her word on each strength
    exercise (the coach's pins kept) + the coach's edits."""
    base = Plan.from_dict(record.base_plan)
    start = base.profile.start_date
    logs = session.scalars(
        select(WorkoutLog).where(
            WorkoutLog.user_id == record.user_id, WorkoutLog.session_date >= start
        )
    ).all()
    edits = _edits(record)
    library = current_library(session)
    plan = adapt(base, _engine_logs(logs), edits, library)
    plan = apply_feedback(
        plan,
        engine_feedback(session, record.user_id, start),
        library,
        pinned=pinned_exercises(session, record.user_id),
        logged={lg.session_date for lg in logs},
    )
    plan = keep_as_logged(plan, _as_logged(logs))
    plan = enforce_edits(plan, edits)
    record.plan = plan.to_dict()
    return plan


def _as_logged(logs: Iterable[WorkoutLog]) -> dict[tuple[date, str], tuple[Session, ...]]:
    """The sessions each log was made against, by day and kind (a log without them, from
    before they were kept, leaves its day to the plan)."""
    return {
        (lg.session_date, lg.kind): tuple(Session.from_dict(d) for d in lg.planned)
        for lg in logs
        if lg.planned
    }

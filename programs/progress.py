"""The runner's milestones and progress numbers (the numbers themselves come from the pure
engine, ``programs.engine.progress``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from programs.community.models import Post as CommunityPost
from programs.engine.model import RUN_WALK, Plan
from programs.engine.progress import (
    GoalProgress,
    PainTrend,
    WeekProgress,
    adherence,
    goal_progress,
    pain_trend,
    weekly_progress,
)
from programs.models import LogStatus, PlanRecord, WorkoutLog
from programs.plans import (
    PLAN_TEXT,
    active_plan,
    load_plan,
    logs_for,
    parsed_plan,
    session_logs,
    sessions_on,
)

# Continuous running, longest first: the community's milestone kinds (programs.community).
MILESTONE_MINUTES = ((30, "continuous_30"), (20, "continuous_20"), (10, "continuous_10"))


def _longest_runs(session: DbSession, user_id: int, active: Plan | None) -> dict[date, int]:
    """Longest run segment (seconds) of her run/walk session on each day: the active plan's
    sessions win over older plans' (her earlier logs may belong to a plan since replaced).
    `active`: her active plan as the caller has it already (its text is then not read again)."""
    longest: dict[date, int] = {}
    query = (
        select(PLAN_TEXT)
        .where(PlanRecord.user_id == user_id)
        .order_by(PlanRecord.active.desc(), PlanRecord.created_at.desc(), PlanRecord.id.desc())
    )
    plans: list[Plan] = []
    if active is not None:
        plans.append(active)
        query = query.where(PlanRecord.active.is_(False))
    plans += (parsed_plan(plan_json) for plan_json in session.scalars(query))
    for plan in plans:
        for s in plan.sessions:
            if s.kind == RUN_WALK and s.date not in longest:
                longest[s.date] = s.longest_run_seconds
    return longest


def run_milestone(
    session: DbSession, user_id: int, on_date: date, *, active: Plan | None = None
) -> str | None:
    """The milestone her run/walk done on ``on_date`` reached for the first time — the
    longest continuous run the plan set that day is 10, 20 or 30 minutes or more, and no
    run/walk she logged as done earlier was that long — as a community milestone kind.
    `active`: her active plan, when the caller has loaded it."""
    if active is not None:
        planned = [s for s in sessions_on(active, on_date) if s.kind == RUN_WALK]
        if planned and planned[0].longest_run_seconds < MILESTONE_MINUTES[-1][0] * 60:
            return None  # her plan's run that day is shorter than the least milestone
    done = list(
        session.scalars(
            select(WorkoutLog.session_date).where(
                WorkoutLog.user_id == user_id,
                WorkoutLog.kind == RUN_WALK,
                WorkoutLog.status == LogStatus.DONE,
                WorkoutLog.session_date <= on_date,
            )
        )
    )
    if on_date not in done:
        return None
    longest = _longest_runs(session, user_id, active)
    before = max((longest.get(d, 0) for d in done if d < on_date), default=0)
    today = longest.get(on_date, 0)
    for minutes, kind in MILESTONE_MINUTES:
        if today >= minutes * 60 > before:
            return kind
    return None


def milestone_shared(session: DbSession, user_id: int, kind: str) -> bool:
    """Whether she already shared this milestone with the community."""
    return (
        session.scalar(
            select(CommunityPost.id)
            .where(CommunityPost.author_id == user_id, CommunityPost.milestone == kind)
            .limit(1)
        )
        is not None
    )


@dataclass
class Progress:
    record: PlanRecord | None
    weeks: list[WeekProgress]
    adherence: int | None
    pain: PainTrend
    logs: list[WorkoutLog]
    goal: GoalProgress | None = None


def progress(session: DbSession, user_id: int, on_date: date) -> Progress:
    """Her plan weeks so far, adherence, pain trend and distance to her goal on ``on_date``,
    with her logs."""
    record = active_plan(session, user_id)
    logs = logs_for(session, user_id)
    done = session_logs(logs)
    if record is None:
        return Progress(None, [], None, pain_trend(done, on_date), logs)
    plan = load_plan(record)
    return Progress(
        record,
        weekly_progress(plan, done, on_date),
        adherence(plan, done, on_date),
        pain_trend(done, on_date),
        logs,
        goal_progress(plan, done, on_date),
    )

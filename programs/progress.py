"""The runner's milestones and progress numbers (the numbers themselves come from the pure
engine, ``programs.engine.progress``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import aliased

from programs.community.models import Post as CommunityPost
from programs.engine.model import RUN_WALK
from programs.engine.progress import (
    GoalProgress,
    PainTrend,
    WeekProgress,
    adherence,
    first_milestone,
    goal_progress,
    pain_trend,
    weekly_progress,
)
from programs.models import LogStatus, PlanRecord, WorkoutLog
from programs.plans import (
    active_plan,
    load_plan,
    logs_for,
    session_logs,
)


def longest_before(log: type[WorkoutLog]) -> ScalarSelect:
    """The longest continuous run of her run/walks done in full before ``log``'s day (NULL when
    there is none): an SQL expression correlated to ``log`` (the model or an alias of it)."""
    earlier = aliased(WorkoutLog)
    return (
        select(func.max(earlier.run_seconds))
        .where(
            earlier.user_id == log.user_id,
            earlier.kind == RUN_WALK,
            earlier.status == LogStatus.DONE,
            earlier.session_date < log.session_date,
        )
        .scalar_subquery()
    )


def run_milestone(session: DbSession, user_id: int, on_date: date) -> str | None:
    """The milestone her run/walk done on ``on_date`` reached for the first time (the longest
    continuous run her plan set for it is 10, 20 or 30 minutes or more, and no run/walk she did
    in full before it was that long), as a community milestone kind; None if none. One query:
    each log keeps the run her plan set when she logged it (``WorkoutLog.run_seconds``)."""
    row = session.execute(
        select(WorkoutLog.run_seconds, longest_before(WorkoutLog)).where(
            WorkoutLog.user_id == user_id,
            WorkoutLog.kind == RUN_WALK,
            WorkoutLog.status == LogStatus.DONE,
            WorkoutLog.session_date == on_date,
        )
    ).first()
    return first_milestone(*row) if row is not None else None


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

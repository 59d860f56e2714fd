"""The weekly check-in's answers fed into the runner's plan and the coach's flags."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from crm.alerts.models import CoachFlag, FlagKind
from programs.engine.model import RUN_WALK
from programs.engine.words import short_date
from programs.flags import sync_flags
from programs.models import LogStatus, WorkoutLog
from programs.plans import active_plan, readapt, runner_profile

# --- weekly check-in feedback -------------------------------------------------------------------

CHECKIN_REPEAT_PAIN = 5  # the engine's own line: pain above 5/10 is never progressed on


def record_checkin_feedback(
    session: DbSession,
    user_id: int,
    week_start: date,
    pain: int,
    how: str,
    confidence: int,
) -> CoachFlag | None:
    """Feed a weekly check-in (the week Monday ``week_start`` to Sunday) into her plan. No
    commit: the check-in's caller commits.

    Pain above her threshold raises a pain flag for the coach (once per week; the check-in has
    already emailed the coach, so the flag sends nothing). Pain above 5/10 is what the engine
    refuses to progress on, but it only reads logs: it becomes the next-morning pain of her last
    logged run/walk that week when that log has none, and the plan re-adapts — once the week is
    judged, next week repeats its rung, or steps back one when that pain is worse than during
    (the engine's rules). The flag then carries the key of that log's pain flag, so
    ``sync_flags`` adds the plan's reason to it instead of raising and emailing a second one.
    ``how`` (great/ok/hard) and ``confidence`` go into the flag's reason. Returns the flag."""
    record = active_plan(session, user_id)
    profile = runner_profile(session, user_id)
    threshold = profile.pain_threshold if profile is not None else 4
    week_end = week_start + timedelta(days=6)
    fed: WorkoutLog | None = None
    if record is not None and pain > CHECKIN_REPEAT_PAIN:
        last_run = session.scalar(
            select(WorkoutLog)
            .where(
                WorkoutLog.user_id == user_id,
                WorkoutLog.kind == RUN_WALK,
                WorkoutLog.status != LogStatus.SKIPPED,
                WorkoutLog.session_date.between(week_start, week_end),
            )
            .order_by(WorkoutLog.session_date.desc())
            .limit(1)
        )
        if last_run is not None and last_run.pain_next_morning is None:
            last_run.pain_next_morning = pain
            fed = last_run
            session.flush()
            readapt(session, record)
    flag = None
    if pain > threshold:
        key = (
            f"pain:{fed.session_date.isoformat()}:{fed.kind}"
            if fed is not None
            else f"checkin:{week_start.isoformat()}"
        )
        flag = session.scalar(
            select(CoachFlag).where(CoachFlag.user_id == user_id, CoachFlag.key == key)
        )
        if flag is None:
            flag = CoachFlag(
                user_id=user_id,
                kind=FlagKind.PAIN,
                key=key,
                reason=(
                    f"Weekly check-in for the week of {short_date(week_start)}: pain {pain}/10 "
                    f"(her threshold is {threshold}), the week felt {how}, "
                    f"confidence {confidence}/10."
                ),
            )
            session.add(flag)
            session.flush()
    if fed is not None:
        sync_flags(session, user_id)
    return flag

"""The runner's day: her local date, the day's sessions and logs, what is still to log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

from sqlalchemy import Select, and_, bindparam, case, func, select
from sqlalchemy.orm import Session as DbSession

from crm.accounts.models import User
from crm.memo import Newest
from crm.time import utcnow, zone
from programs.engine import Plan, Session
from programs.engine.model import RUN_WALK
from programs.engine.progress import first_milestone
from programs.models import LogStatus, PlanRecord, RunnerProfile, WorkoutLog
from programs.plans import (
    PLAN_CACHE_SIZE,
    PLAN_TEXT,
    parsed_plan,
    runner_profile,
    sessions_on,
)
from programs.progress import longest_before

DEFAULT_TIMEZONE = "America/Los_Angeles"


def runner_timezone(session: DbSession, user_id: int) -> str:
    profile = runner_profile(session, user_id)
    if profile is not None:
        return profile.timezone
    user = session.get(User, user_id)
    return user.timezone if user is not None else DEFAULT_TIMEZONE


def local_today(session: DbSession, user_id: int, now: datetime | None = None) -> date:
    """The runner's calendar date in her time zone."""
    return _local_date(runner_timezone(session, user_id), now)


def _local_date(tz_name: str, now: datetime | None = None) -> date:
    try:
        tz = zone(tz_name)
    except ValueError:
        tz = zone("UTC")
    return (now or utcnow()).astimezone(tz).date()


@dataclass
class TodayView:
    on_date: date
    today: date  # her calendar date now, in her time zone
    plan: Plan | None = None
    sessions: list[Session] = field(default_factory=list)
    logs: dict[str, WorkoutLog] = field(default_factory=dict)
    next_session: Session | None = None
    morning_prompts: list[WorkoutLog] = field(default_factory=list)
    week_index: int | None = None
    milestone: str | None = None  # the community milestone her run/walk that day reached first

    @property
    def starts_later(self) -> bool:
        return self.plan is not None and self.plan.profile.start_date > self.on_date


# Each runner's active plan as this process last read it, with its id and version: her day's
# statement sends the plan's text only when it has changed since. The newest PLAN_CACHE_SIZE.
_held_plans: Newest[int, tuple[int, datetime, Plan]] = Newest(PLAN_CACHE_SIZE)
_NOTHING_HELD = (0, datetime(1970, 1, 1, tzinfo=UTC), None)


@cache
def _day_statement() -> Select:
    """Her active plan's text, her time zone, her plan's id and version (`updated_at`) and her logs
    between :low and :high, one row per log (one row with no log when there is none), each
    run/walk done in full with the longest run of those she did before it (her milestone). The
    plan's ~35 KB of text comes on the first row only, and only when it is not the version this
    process holds (:held_id, :held_at). Built once: building it costs more than running it; the
    values are bound per call."""
    first_row = func.row_number().over(order_by=(WorkoutLog.session_date, WorkoutLog.kind)) == 1
    held = and_(
        PlanRecord.id == bindparam("held_id"), PlanRecord.updated_at == bindparam("held_at")
    )
    done_run = and_(WorkoutLog.kind == RUN_WALK, WorkoutLog.status == LogStatus.DONE)
    return (
        select(
            case((and_(first_row, ~held), PLAN_TEXT)),
            RunnerProfile.timezone,
            PlanRecord.id,
            PlanRecord.updated_at,
            WorkoutLog,
            case((done_run, longest_before(WorkoutLog))),
        )
        .select_from(PlanRecord)
        .outerjoin(RunnerProfile, RunnerProfile.user_id == PlanRecord.user_id)
        .outerjoin(
            WorkoutLog,
            and_(
                WorkoutLog.user_id == PlanRecord.user_id,
                WorkoutLog.session_date.between(bindparam("low"), bindparam("high")),
            ),
        )
        .where(PlanRecord.user_id == bindparam("user_id"), PlanRecord.active.is_(True))
        .order_by(WorkoutLog.session_date, WorkoutLog.kind)
    )


def today(
    session: DbSession, user_id: int, on_date: date | None = None, now: datetime | None = None
) -> TodayView:
    """What the runner should do on ``on_date`` (her today when None): the day's sessions and
    their logs, the next session when it is a rest day, and logs still waiting for next-morning
    pain. One statement reads her plan, her time zone and the logs around the day."""
    now = now or utcnow()
    if on_date is not None:
        low, high = on_date - timedelta(days=2), on_date
    else:  # her date is within a day of UTC's; the exact window is cut below
        utc_date = now.astimezone(UTC).date()
        low, high = utc_date - timedelta(days=3), utc_date + timedelta(days=1)
    held_id, held_at, held_plan = _held_plans.get(user_id) or _NOTHING_HELD
    params = {"user_id": user_id, "low": low, "high": high, "held_id": held_id,
              "held_at": held_at}  # fmt: skip
    rows = session.execute(_day_statement(), params).all()
    if not rows:
        local = local_today(session, user_id, now)
        return TodayView(on_date=on_date or local, today=local)
    plan_text = next((text for text, *_ in rows if text is not None), None)
    tz_name, plan_id, plan_at = rows[0][1:4]
    if plan_text is None:  # the version this process holds
        plan = held_plan
    else:
        plan = parsed_plan(plan_text)
        _held_plans.put(user_id, (plan_id, plan_at, plan))
    # No profile (not a state intake leaves): the account's zone, as local_today reads it.
    local = _local_date(tz_name if tz_name is not None else runner_timezone(session, user_id), now)
    on_date = on_date or local
    view = TodayView(on_date=on_date, today=local, plan=plan)
    view.sessions = sessions_on(plan, on_date)
    view.next_session = next((s for s in plan.sessions if s.date > on_date), None)
    for week in plan.weeks:
        if week.start_date <= on_date < week.start_date + timedelta(days=7):
            view.week_index = week.index
    since = on_date - timedelta(days=2)
    recent = [lg for *_, lg, _ in rows if lg is not None and since <= lg.session_date <= on_date]
    view.logs = {lg.kind: lg for lg in recent if lg.session_date == on_date}
    run = view.logs.get(RUN_WALK)
    if run is not None and run.status == LogStatus.DONE:
        before = next(longest for *_, lg, longest in rows if lg is run)
        view.milestone = first_milestone(run.run_seconds, before)
    view.morning_prompts = [
        lg
        for lg in recent
        if lg.session_date < on_date
        and lg.status != LogStatus.SKIPPED
        and lg.pain_next_morning is None
    ]
    return view

"""The coach's flags: raised once each from the runner's logs (the rules are the pure engine's,
``programs.engine.flags``) and the engine's own step-backs, resolved by the coach."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from crm.alerts.models import CoachFlag, FlagKind
from crm.alerts.services import notify_coach
from crm.time import utcnow, zone
from programs.engine import RULES, Plan, coach_flags
from programs.engine.flags import compute_flags
from programs.errors import PortalError
from programs.models import PlanRecord
from programs.plans import active_plan, load_plan, logs_for, runner_profile, session_logs
from programs.today import local_today


def _planned(plan: Plan) -> list[tuple[date, str]]:
    return [(s.date, s.kind) for s in plan.sessions]


def sync_flags(session: DbSession, user_id: int, on_date: date | None = None) -> list[CoachFlag]:
    """Raise (once each) the flags the logs and the engine call for; alert the coach by email
    when the ``coach_alert`` email template exists. No commit: callers commit."""
    record = active_plan(session, user_id)
    if record is None:
        return []
    profile = runner_profile(session, user_id)
    plan = load_plan(record)
    on_date = on_date or local_today(session, user_id)
    logs = logs_for(session, user_id, since=plan.profile.start_date)
    threshold = profile.pain_threshold if profile is not None else 4
    tz = zone(profile.timezone) if profile is not None else zone("UTC")
    made = (record.created_at or utcnow()).astimezone(tz).date()
    watch_from = max(plan.profile.start_date, made)
    findings = compute_flags(session_logs(logs), _planned(plan), watch_from, on_date, threshold)
    current = {f.key for f in findings}
    flags = {
        f.key: f
        for f in session.scalars(select(CoachFlag).where(CoachFlag.user_id == user_id)).all()
    }
    # Missed/silent flags whose condition has cleared (she logged after all) resolve themselves;
    # pain flags stay until the coach has looked.
    for flag in flags.values():
        clears = flag.kind in (FlagKind.MISSED, FlagKind.SILENT)
        if clears and flag.resolved_at is None and flag.key not in current:
            flag.resolved_at = utcnow()
    new = []
    for f in findings:
        if f.key in flags:
            continue
        flag = CoachFlag(user_id=user_id, kind=FlagKind(f.kind), key=f.key, reason=f.reason)
        session.add(flag)
        flags[f.key] = flag
        new.append(flag)
    # The engine's own flags: high pain at intake and a race pace at risk (raised when the plan
    # is made), and a step back, which explains what the plan did about a logged pain: added to
    # that day's pain flag rather than raised as a second flag for the same day.
    for ef in coach_flags(plan):
        day_flags = [f for k, f in flags.items() if k.startswith(f"pain:{ef.date.isoformat()}:")]
        if day_flags and ef.rule in RULES:
            if ef.reason not in day_flags[0].reason:
                day_flags[0].reason = f"{day_flags[0].reason} Plan: {ef.reason}"
            continue
        key = f"engine:{ef.rule}:{ef.date.isoformat()}"
        if key not in flags:
            kind = FlagKind.RACE if ef.rule == "race-pace-at-risk" else FlagKind.PAIN
            flag = CoachFlag(user_id=user_id, kind=kind, key=key, reason=ef.reason)
            session.add(flag)
            flags[key] = flag
            new.append(flag)
    if new:
        session.flush()
        _alert_coach(session, user_id, new)
    return new


def _alert_coach(session: DbSession, user_id: int, flags: list[CoachFlag]) -> None:
    """The coach hears of each new flag by email, once per flag (its key)."""
    for flag in flags:
        notify_coach(session, str(flag.kind), user_id, flag.reason,
                     key=f"coach-alert:{user_id}:{flag.key}")  # fmt: skip


def resolve_flag(session: DbSession, flag_id: int) -> CoachFlag:
    flag = session.get(CoachFlag, flag_id)
    if flag is None:
        raise PortalError("That flag doesn't exist.")
    if flag.resolved_at is None:
        flag.resolved_at = utcnow()
        session.commit()
    return flag


def open_flags(session: DbSession, user_id: int) -> list[CoachFlag]:
    return list(
        session.scalars(
            select(CoachFlag)
            .where(CoachFlag.user_id == user_id, CoachFlag.resolved_at.is_(None))
            .order_by(CoachFlag.created_at.desc(), CoachFlag.id.desc())
        )
    )


def sync_all_flags(session: DbSession) -> int:
    """Raise the flags now due for every runner with a plan (silence needs a clock, not a log);
    commits per runner. Returns how many new flags were raised."""
    user_ids = session.scalars(select(PlanRecord.user_id).where(PlanRecord.active.is_(True)))
    raised = 0
    for user_id in user_ids.all():
        raised += len(sync_flags(session, user_id))
        session.commit()
    return raised

"""Client sequences beside the check-in: the missed-workout nudge, race week, programme complete.

An hourly beat task looks at every active client in her own daytime (09:00–20:00 local: nobody
is nudged at 3 AM) and queues what applies. Each email's key names the spell it is about, so it
goes once; each carries a condition re-checked at send time (she logged in between, the coach
paused her automation, the race moved…), so it skips itself when it no longer applies.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from celery import shared_task
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.time import utcnow
from extensions import db
from tasks.clients import active_clients, client_leads, coaching_email_fields, safe_zone
from tasks.outbox import queue_email

NUDGE_AFTER_HOURS = 72  # no log for 3 days (editable by the coach: the step's delay)
RACE_WEEK_HOURS = 168  # the race-week email, 7 days before the race (editable)
DAYTIME = (time(9, 0), time(20, 0))


def _delay_hours(session: Session, template: str, default: int) -> int:
    from tasks.editor import step_delays

    return step_delays(session, template, [default])[0]


def nudge_since(
    plan: dict[str, Any] | None, last_log: date | None, today: date, after_days: int
) -> date | None:
    """Pure: the day the silence started (last log, or the eve of the plan's start) when there has
    been no log for `after_days` days while sessions were planned; else None."""
    if not plan:
        return None
    start = date.fromisoformat(plan["profile"]["start_date"])
    if start > today:
        return None
    since = last_log or start - timedelta(days=1)
    if (today - since).days < after_days:
        return None
    planned = (
        date.fromisoformat(s["date"]) for w in plan.get("weeks", ()) for s in w.get("sessions", ())
    )
    if not any(since < d < today for d in planned):
        return None
    return since


def race_date_of(plan: dict[str, Any] | None) -> date | None:
    if not plan:
        return None
    raw = (plan.get("profile") or {}).get("race_date")
    return date.fromisoformat(raw) if raw else None


def last_session_date(plan: dict[str, Any] | None) -> date | None:
    days = [
        date.fromisoformat(s["date"])
        for w in (plan or {}).get("weeks", ())
        for s in w.get("sessions", ())
    ]
    return max(days, default=None)


def _client_state(session: Session, user_id: int, now: datetime | None = None):
    from programs.models import PlanRecord, WorkoutLog
    from programs.today import local_today

    record = session.scalar(
        select(PlanRecord).where(PlanRecord.user_id == user_id, PlanRecord.active.is_(True))
    )
    last = session.scalar(
        select(func.max(WorkoutLog.session_date)).where(WorkoutLog.user_id == user_id)
    )
    return (record.plan if record else None), last, local_today(session, user_id, now)


def needs_nudge(session: Session, user_id: int, now: datetime | None = None) -> date | None:
    """When the runner has gone quiet (see nudge_since): the day it started, else None."""
    plan, last, today = _client_state(session, user_id, now)
    after = _delay_hours(session, "missed_workout", NUDGE_AFTER_HOURS) // 24
    return nudge_since(plan, last, today, max(after, 1))


def race_week_date(session: Session, user_id: int, now: datetime | None = None) -> date | None:
    """Her race date when it falls within the race-week window from today, else None."""
    plan, _last, today = _client_state(session, user_id, now)
    race = race_date_of(plan)
    window = _delay_hours(session, "race_week", RACE_WEEK_HOURS) // 24
    if race is None or not today < race <= today + timedelta(days=max(window, 1)):
        return None
    return race


def queue_client_sequences(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Queue the nudges, race-week and programme-complete emails that apply now. Commits.

    Returns how many of each were queued."""
    from programs.models import PlanRecord, WorkoutLog

    now = now or utcnow()
    base = current_app.config["BASE_URL"]
    clients = []
    for user, tz in active_clients(session, coaching_emails=True):
        local = now.astimezone(safe_zone(tz))
        if DAYTIME[0] <= local.time() < DAYTIME[1]:
            clients.append((user, local.date()))
    counts = {"missed_workout": 0, "race_week": 0, "programme_complete": 0}
    if not clients:
        return counts
    ids = [u.id for u, _ in clients]
    plans = {
        uid: (record_id, plan)
        for uid, record_id, plan in session.execute(
            select(PlanRecord.user_id, PlanRecord.id, PlanRecord.plan).where(
                PlanRecord.active.is_(True), PlanRecord.user_id.in_(ids)
            )
        )
    }
    last_logs = dict(
        session.execute(
            select(WorkoutLog.user_id, func.max(WorkoutLog.session_date))
            .where(WorkoutLog.user_id.in_(ids))
            .group_by(WorkoutLog.user_id)
        ).all()
    )
    leads = client_leads(session, [u for u, _ in clients])
    nudge_days = max(_delay_hours(session, "missed_workout", NUDGE_AFTER_HOURS) // 24, 1)
    race_days = max(_delay_hours(session, "race_week", RACE_WEEK_HOURS) // 24, 1)

    def queue(user: User, template: str, key: str, context: dict, condition: str) -> None:
        stop = coaching_email_fields(user.id, base)
        row = queue_email(
            session,
            to=user.email,
            template=template,
            context={
                "first_name": user.first_name,
                "portal_url": f"{base}/portal",
                **context,
                **stop["context"],
            },  # fmt: skip
            headers=stop["headers"],
            idempotency_key=key,
            user_id=user.id,
            lead_id=leads.get(user.id),
            condition=condition,
        )
        counts[template] += row is not None

    for user, today in clients:
        record_id, plan = plans.get(user.id, (None, None))
        since = nudge_since(plan, last_logs.get(user.id), today, nudge_days)
        if since is not None:
            queue(user, "missed_workout", f"nudge:{user.id}:{since.isoformat()}",
                  {"days": (today - since).days}, f"missed_workouts:{user.id}")  # fmt: skip
        race = race_date_of(plan)
        if race is not None and today < race <= today + timedelta(days=race_days):
            strategy = (plan or {}).get("race_strategy") or {}
            context = {
                "race_date": f"{race:%A} {race.day} {race:%B}",
                "days_to_go": (race - today).days,
                "strategy": strategy.get("summary", ""),
            }
            queue(user, "race_week", f"race-week:{user.id}:{race.isoformat()}", context,
                  f"race_ahead:{user.id}")  # fmt: skip
        last = last_session_date(plan)
        if last is not None and last < today and (race is None or race < today):
            queue(user, "programme_complete", f"programme-complete:{user.id}:{record_id}",
                  {"book_url": f"{base}/book", "raced": race is not None},
                  f"client_automation:{user.id}")  # fmt: skip
    session.commit()
    return counts


@shared_task(name="tasks.client_sequences", ignore_result=True)
def client_sequences() -> dict[str, int]:
    """Beat, hourly: missed-workout nudges, race-week and programme-complete emails."""
    return queue_client_sequences(db.session)

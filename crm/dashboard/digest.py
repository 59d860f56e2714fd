"""The coach's daily digest: at 07:00 her time, today's calls, the last day's leads and the open
flags, by email (the dashboard in her inbox)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from celery.schedules import crontab
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.alerts.models import CoachFlag
from crm.alerts.services import coaches
from crm.dashboard.services import calls
from crm.leads.models import Lead
from crm.leads.services import coach_timezone
from crm.time import format_when, local_moment, safe_zone, utcnow
from extensions import db
from tasks import add_periodic_task, shared_task_with_aliases
from tasks.outbox import queue_email
from tasks.registry import Contact, Step, register_preview, register_step

DIGEST_TIME = time(7, 0)
# The beat runs every 15 minutes; a digest missed by a beat outage still goes until 10:00.
DIGEST_CATCH_UP = timedelta(hours=3)


def digest_context(session: Session, tz: str, now: datetime) -> dict[str, Any]:
    """What the daily digest shows: today's calls, leads of the last 24 hours, open flags."""
    today_calls, _upcoming = calls(session, tz, now)
    new_leads = session.scalars(
        select(Lead)
        .where(Lead.created_at >= now - timedelta(days=1))
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(50)
    ).all()
    flags = session.execute(
        select(CoachFlag, User)
        .join(User, User.id == CoachFlag.user_id)
        .where(CoachFlag.resolved_at.is_(None))
        .order_by(CoachFlag.created_at.desc(), CoachFlag.id.desc())
        .limit(50)
    ).all()
    base = current_app.config["BASE_URL"]
    return {
        "today": now.astimezone(safe_zone(tz)).strftime("%A %-d %B"),
        "calls": [
            {
                "when": format_when(b.start_at, tz).split(", ", 1)[-1],
                "name": b.lead_name,
                "status": str(b.status),
                "url": f"{base}/coach/leads/{b.lead_id}",
            }
            for b in today_calls
        ],  # fmt: skip
        "new_leads": [
            {"name": lead.name, "source": lead.source or "", "url": f"{base}/coach/leads/{lead.id}"}
            for lead in new_leads
        ],
        "flags": [
            {
                "name": user.display_name,
                "kind": str(flag.kind),
                "reason": flag.reason,
                "url": f"{base}/coach/clients/{user.id}",
            }
            for flag, user in flags
        ],  # fmt: skip
        "dashboard_url": f"{base}/coach",
    }


def queue_coach_digests(session: Session, now: datetime | None = None) -> int:
    """Queue today's digest for each coach when it is 07:00–10:00 in the coach's zone; one per
    coach and local day (idempotency key). Commits; returns how many were queued."""
    now = now or utcnow()
    tz = coach_timezone(session)
    local = now.astimezone(safe_zone(tz))
    due = local_moment(local.date(), DIGEST_TIME, tz)
    if not due <= now < due + DIGEST_CATCH_UP:
        return 0
    context = digest_context(session, tz, now)
    queued = 0
    for coach in coaches(session):
        row = queue_email(
            session,
            to=coach.email,
            template="coach_digest",
            context={**context, "first_name": coach.first_name},
            idempotency_key=f"digest:{coach.id}:{local.date().isoformat()}",
            user_id=coach.id,
            due_at=due,
        )
        queued += row is not None
    session.commit()
    return queued


@shared_task_with_aliases(
    name="crm.dashboard.send_coach_digest", aliases=("tasks.coach_digest",), ignore_result=True
)
def send_coach_digest() -> int:
    """Beat, every 15 minutes: the coach's 07:00 digest."""
    return queue_coach_digests(db.session)


def _preview(session: Session, template: str, contact: Contact) -> dict[str, Any]:
    if template != "coach_digest":
        return {}
    return digest_context(session, coach_timezone(session), utcnow())


def init_app(app: Flask) -> None:
    # Every 15 minutes on the quarter hour: the coach's 07:00 falls on one run whatever her
    # zone (offsets are whole quarter hours).
    add_periodic_task(
        app, "coach-digest", "crm.dashboard.send_coach_digest", crontab(minute="*/15")
    )
    register_step(app, "coach", 10, Step("coach_digest", "Daily digest",
                                         "Every day at 07:00 your time"))  # fmt: skip
    register_preview(app, _preview)

"""The coach's emails: immediate alerts about a client, and the daily digest at 07:00 her time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.time import utcnow
from extensions import db
from tasks.clients import local_moment, safe_zone
from tasks.outbox import queue_email

ALERT_KINDS = {
    "pain": "Pain over her threshold",
    "missed": "Two missed sessions in a row",
    "payment_failed": "Payment failed",
    "silent": "No log for a week",
}
DIGEST_TIME = time(7, 0)
# The beat runs every 15 minutes; a digest missed by a beat outage still goes until 10:00.
DIGEST_CATCH_UP = timedelta(hours=3)


def coaches(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.role == Role.COACH, User.active.is_(True)).order_by(User.id)
        )
    )


def coach_timezone(session: Session) -> str:
    """The coach's zone: the booking settings' (one coach runs the business)."""
    from crm.booking.services import coach_settings

    return coach_settings(session).timezone


def alert_coach(
    session: Session, kind: str, user_id: int, reason: str, *, now: datetime | None = None
) -> int:
    """Queue an immediate transactional email to each active coach about client `user_id`.

    `kind` is one of ALERT_KINDS (pain, missed, payment_failed, silent; another word is shown as
    is). Idempotent per (kind, client, the coach's calendar day): a second alert of the same kind
    that day is a no-op. Adds to the caller's transaction (no commit); returns how many queued."""
    now = now or utcnow()
    runner = session.get(User, user_id)
    if runner is None:
        return 0
    tz = coach_timezone(session)
    day = now.astimezone(safe_zone(tz)).date()
    base = current_app.config["BASE_URL"]
    queued = 0
    for coach in coaches(session):
        row = queue_email(
            session,
            to=coach.email,
            template="coach_alert",
            context={
                "coach": coach,
                "runner": runner,
                "runner_name": runner.display_name,
                "kind": kind,
                "kind_label": ALERT_KINDS.get(kind, kind.replace("_", " ").capitalize()),
                "reason": reason,
                "client_url": f"{base}/coach/clients/{runner.id}",
            },
            idempotency_key=f"alert:{kind}:{user_id}:{day.isoformat()}:{coach.id}",
            user_id=coach.id,
        )
        queued += row is not None
    return queued


def digest_context(session: Session, tz: str, now: datetime) -> dict:
    """What the daily digest shows: today's calls, leads of the last 24 hours, open flags."""
    from crm.booking.services import format_when
    from crm.dashboard.services import calls
    from crm.leads.models import Lead
    from programs.models import CoachFlag

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
                "name": b.lead.name,
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


@shared_task(name="tasks.coach_digest", ignore_result=True)
def coach_digest() -> int:
    """Beat, every 15 minutes: the coach's 07:00 digest."""
    return queue_coach_digests(db.session)

"""One way to tell the coach something: `notify_coach`, used by every feature."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.leads.services import coach_timezone
from crm.time import safe_zone, utcnow
from tasks.outbox import queue_email

ALERT_KINDS = {
    "pain": "Pain over her threshold",
    "missed": "Two missed sessions in a row",
    "payment_failed": "Payment failed",
    "silent": "No log for a week",
    "race": "Race pace at risk",
}


def coaches(session: Session) -> list[User]:
    """The active coach accounts (one coach runs the business; more are allowed)."""
    return list(
        session.scalars(
            select(User).where(User.role == Role.COACH, User.active.is_(True)).order_by(User.id)
        )
    )


def notify_coach(
    session: Session,
    kind: str,
    subject_id: int | None,
    reason: str,
    *,
    key: str | None = None,
    template: str = "coach_alert",
    context: Mapping[str, Any] | None = None,
    lead_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Queue an email to each active coach about client `subject_id` (her user id, or None when
    the alert is about a lead without an account). Adds to the caller's transaction (no commit).

    `kind` is one of ALERT_KINDS (another word is shown as is), `reason` the sentence she reads.
    Idempotent per `key` and coach; the default key is the kind, the client and the coach's
    calendar day, so a second alert of the same kind that day is a no-op. `template` and
    `context` let an alert use its own email (a failed payment's). Returns how many queued."""
    runner = session.get(User, subject_id) if subject_id is not None else None
    if subject_id is not None and runner is None:
        return 0
    if key is None:
        day = (now or utcnow()).astimezone(safe_zone(coach_timezone(session))).date()
        key = f"alert:{kind}:{subject_id}:{day.isoformat()}"
    base = current_app.config["BASE_URL"]
    queued = 0
    for coach in coaches(session):
        row = queue_email(
            session,
            to=coach.email,
            template=template,
            context={
                "coach": coach,
                "runner": runner,
                "runner_name": runner.display_name if runner else "",
                "kind": kind,
                "kind_label": ALERT_KINDS.get(kind, kind.replace("_", " ").capitalize()),
                "reason": reason,
                "client_url": f"{base}/coach/clients/{subject_id}" if runner else "",
                **(context or {}),
            },
            idempotency_key=f"{key}:{coach.id}",
            user_id=coach.id,
            lead_id=lead_id,
        )
        queued += row is not None
    return queued

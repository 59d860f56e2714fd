"""The post-call follow-up: the offer link again on day 0, 2 and 5 after the call (or after the
coach's own delays), until the lead enrols or is lost (marketing: it needs her consent)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from crm.leads.models import Lead, Stage
from crm.time import utcnow
from tasks.outbox import queue_email
from tasks.overrides import step_delays
from tasks.registry import Contact, Step, register_condition, register_preview, register_step
from tasks.services import cancel_queued

FOLLOWUP_DAYS = (0, 2, 5)


def schedule_call_followups(
    session: Session, lead: Lead, offer_url: str, days: tuple[int, ...] = FOLLOWUP_DAYS
) -> int:
    """Queue the follow-ups of `days` (no commit). Each stops itself once the lead enrols or is
    lost; `stop_call_followups` stops them too. Returns how many were queued."""
    now = utcnow()
    # The coach's delays (hours) per built-in step; keys keep the built-in day numbers, so a
    # changed delay never sends a step twice.
    delays = step_delays(session, "call_followup", [d * 24 for d in FOLLOWUP_DAYS])
    hours = dict(zip(FOLLOWUP_DAYS, delays, strict=True))
    queued = 0
    for day in days:
        row = queue_email(
            session,
            to=lead.email,
            template="call_followup",
            context={"first_name": lead.first_name, "offer_url": offer_url, "step": day},
            idempotency_key=f"lead:{lead.id}:call-followup:day-{day}",
            lead_id=lead.id,
            category="marketing",
            due_at=now + timedelta(hours=hours.get(day, day * 24)),
            condition=f"lead_not_enrolled:{lead.id}",
        )
        queued += row is not None
    return queued


def stop_call_followups(session: Session, lead_id: int) -> int:
    """Cancel the queued follow-ups (enrolled, a new booking, or the coach says stop)."""
    return cancel_queued(
        session, key_prefix=f"lead:{lead_id}:call-followup:", reason="follow-up stopped"
    )


def stop_sales_emails(session: Session, lead_id: int) -> int:
    """She enrolled: cancel every queued email meant only for a lead who has not (the follow-ups
    with the offer), so the outbox stops listing sales emails to a client (no commit)."""
    return cancel_queued(session, condition=f"lead_not_enrolled:{lead_id}", reason="she enrolled")


def _lead_not_enrolled(session: Session, lead_id: int) -> bool:
    lead = session.get(Lead, lead_id)
    return lead is not None and lead.stage not in (Stage.ENROLLED, Stage.LOST)


def _preview(session: Session, template: str, contact: Contact) -> dict[str, Any]:
    return {"offer_url": f"{current_app.config['BASE_URL']}/offer/preview", "step": 0}


def init_app(app: Flask) -> None:
    """Tell the outbox about the follow-up."""
    register_condition(app, "lead_not_enrolled", _lead_not_enrolled)
    register_step(app, "lead", 50, Step(
        "call_followup", "Post-call follow-up", "After the call, until she enrols",
        tuple(d * 24 for d in FOLLOWUP_DAYS), "Hours after the call, one per follow-up (3 steps).",
        "marketing",
    ))  # fmt: skip
    register_preview(app, _preview)

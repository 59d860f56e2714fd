"""The coach's say over a client's plan and access, and the grace period after a failed payment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.billing import stripe_gateway as gateway
from crm.billing.errors import BillingError
from crm.billing.models import Enrolment, EnrolmentStatus, PlanStatus
from crm.leads.services import record_event
from crm.time import utcnow


def cancel_plan(session: Session, enrolment_id: int, *, actor_id: int | None = None) -> None:
    """Stop the remaining instalments (access is left as it is; the coach decides that)."""
    enrolment = session.get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.plan_status != PlanStatus.ACTIVE:
        raise BillingError("There is no active instalment plan to cancel.")
    sub = enrolment.stripe_subscription_id
    if sub and not sub.startswith("sub_offline_"):
        gateway.cancel_subscription(sub)
    enrolment.plan_status = PlanStatus.CANCELLED
    record_event(
        session,
        enrolment.lead,
        "plan_cancelled",
        "Instalment plan cancelled by the coach",
        {"enrolment_id": enrolment.id},
        actor_id,
    )
    session.commit()


def set_access(
    session: Session, enrolment_id: int, action: str, *, actor_id: int | None = None
) -> Enrolment:
    """The coach pauses, resumes or ends a client's access (commits)."""
    enrolment = session.get(Enrolment, enrolment_id)
    if enrolment is None:
        raise BillingError("No such enrolment.")
    if enrolment.status == EnrolmentStatus.ENDED:
        raise BillingError("This enrolment has ended.")
    if action == "pause":
        enrolment.status, enrolment.paused_reason = EnrolmentStatus.PAUSED, "coach"
    elif action == "resume":
        enrolment.status, enrolment.paused_reason = EnrolmentStatus.ACTIVE, ""
        enrolment.grace_until = None
    elif action == "end":
        enrolment.status, enrolment.ended_at = EnrolmentStatus.ENDED, utcnow()
    else:
        raise BillingError("Unknown action.")
    record_event(
        session,
        enrolment.lead,
        "access",
        f"Access {action}d by the coach" if action != "end" else "Access ended by the coach",
        {"enrolment_id": enrolment.id},
        actor_id,
    )
    session.commit()
    return enrolment


def enforce_grace_periods(session: Session, now: datetime | None = None) -> int:
    """Pause access for clients whose payment failed and whose grace period is over."""
    now = now or utcnow()
    overdue = list(
        session.scalars(
            select(Enrolment).where(
                Enrolment.status == EnrolmentStatus.PAST_DUE, Enrolment.grace_until < now
            )
        )
    )
    for enrolment in overdue:
        enrolment.status = EnrolmentStatus.PAUSED
        enrolment.paused_reason = "grace_expired"
        record_event(
            session,
            enrolment.lead,
            "access",
            "Access paused: payment still failing after the grace period",
            {"enrolment_id": enrolment.id},
        )
    session.commit()
    return len(overdue)

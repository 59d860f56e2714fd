"""The coach's numbers: revenue, plans, failed payments, conversion, and the payments ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crm.billing.models import (
    Dispute,
    Enrolment,
    EnrolmentStatus,
    Offer,
    OfferStatus,
    Payment,
    PaymentStatus,
    PlanStatus,
    Programme,
)
from crm.time import utcnow


def _month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def revenue_summary(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """Revenue this month and last (net of refunds), by programme, paid vs refunded, active
    instalment plans, failed payments and conversion offer sent → enrolled. Amounts in cents
    (single currency assumed: the coach sells in one)."""
    now = now or utcnow()
    this_start = _month_start(now)
    last_start = _month_start(this_start - timedelta(days=1))
    ok = Payment.status.in_(
        [PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED]
    )
    net = Payment.amount_cents - Payment.refunded_cents

    def total(condition, value=1):
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    by_programme = [
        {"programme": name, "net_cents": int(total or 0), "payments": count}
        for name, total, count in session.execute(
            select(
                Programme.name,
                func.sum(Payment.amount_cents - Payment.refunded_cents),
                func.count(Payment.id),
            )
            .join(Enrolment, Enrolment.programme_id == Programme.id)
            .join(Payment, Payment.enrolment_id == Enrolment.id)
            .where(ok)
            .group_by(Programme.name)
            .order_by(Programme.name)
        )
    ]
    # One pass over payments, enrolments and offers each (the dashboard shows all of it).
    this_end = now + timedelta(seconds=1)
    payments = session.execute(
        select(
            total(ok & (Payment.paid_at >= this_start) & (Payment.paid_at < this_end), net),
            total(ok & (Payment.paid_at >= last_start) & (Payment.paid_at < this_start), net),
            total(ok, Payment.amount_cents),
            total(ok, Payment.refunded_cents),
            total(Payment.status == PaymentStatus.FAILED),
            func.min(Payment.currency),
        )
    ).one()
    instalment_plans, past_due = session.execute(
        select(
            total(Enrolment.plan_status == PlanStatus.ACTIVE),
            total(Enrolment.status == EnrolmentStatus.PAST_DUE),
        )
    ).one()
    offers_leads, enrolled_leads = session.execute(
        select(
            func.count(func.distinct(Offer.lead_id)),
            func.count(func.distinct(case((Offer.status == OfferStatus.PAID, Offer.lead_id)))),
        )
    ).one()
    this_month, last_month, paid, refunded, failed, currency = payments
    return {
        "currency": currency or "usd",
        "this_month_cents": int(this_month),
        "last_month_cents": int(last_month),
        "by_programme": by_programme,
        "paid_cents": int(paid),
        "refunded_cents": int(refunded),
        "active_instalment_plans": int(instalment_plans),
        "failed_payments": int(failed),
        "past_due_clients": int(past_due),
        "offers_sent": offers_leads,
        "enrolled_from_offers": enrolled_leads,
        "conversion": (enrolled_leads / offers_leads) if offers_leads else None,
    }


def payments_query(
    *, status: str | None = None, start: datetime | None = None, end: datetime | None = None
):
    """The ledger's SELECT, newest first, filtered by status and date (paid or created)."""
    stmt = select(Payment).order_by(Payment.created_at.desc(), Payment.id.desc())
    if status:
        stmt = stmt.where(Payment.status == PaymentStatus(status))
    when = func.coalesce(Payment.paid_at, Payment.created_at)
    if start:
        stmt = stmt.where(when >= start)
    if end:
        stmt = stmt.where(when < end)
    return stmt


def open_disputes(session: Session) -> list[Dispute]:
    """Disputes Stripe has not decided yet, oldest first (the coach must answer them)."""
    rows = session.scalars(select(Dispute).order_by(Dispute.created_at, Dispute.id))
    return [d for d in rows if d.is_open]

"""Refunds: the coach's refund through Stripe, and recording each refund exactly once."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.billing import stripe_gateway as gateway
from crm.billing.common import _invoice_payment_intent
from crm.billing.errors import BillingError
from crm.billing.models import Payment, PaymentStatus, Refund
from crm.billing.money import format_money
from crm.leads.services import record_event


def record_refund(
    session: Session,
    payment_id: int,
    stripe_refund_id: str,
    amount_cents: int,
    *,
    source: str,
    reason: str = "",
    actor_id: int | None = None,
) -> Refund:
    """Record a refund once, whether the API answer or the webhook comes first (commits)."""
    for _ in range(2):
        payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
        existing = session.scalar(select(Refund).where(Refund.stripe_refund_id == stripe_refund_id))
        if existing is not None:
            session.commit()
            return existing
        refund = Refund(
            payment_id=payment.id,
            stripe_refund_id=stripe_refund_id,
            amount_cents=amount_cents,
            currency=payment.currency,
            reason=reason[:200],
        )
        session.add(refund)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            continue
        _update_refunded(session, payment)
        lead = payment.enrolment.lead
        if lead is not None:
            record_event(
                session,
                lead,
                "refund",
                f"Refunded {format_money(amount_cents, payment.currency)}",
                {"payment_id": payment.id, "refund": stripe_refund_id, "via": source},
                actor_id,
            )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        return refund
    existing = session.scalar(select(Refund).where(Refund.stripe_refund_id == stripe_refund_id))
    if existing is None:
        raise BillingError("Could not record the refund; try again.")
    return existing


def _update_refunded(session: Session, payment: Payment) -> None:
    total = int(
        session.scalar(
            select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
                Refund.payment_id == payment.id
            )
        )
    )
    payment.refunded_cents = total
    if total <= 0:
        payment.status = PaymentStatus.PAID
    elif total >= payment.amount_cents:
        payment.status = PaymentStatus.REFUNDED
    else:
        payment.status = PaymentStatus.PARTIALLY_REFUNDED


def cancel_refund(session: Session, stripe_refund_id: str) -> bool:
    """Stripe says a refund failed or was cancelled: the money stays paid. Removes the refund
    recorded earlier (commits); False when none was recorded."""
    refund = session.scalar(select(Refund).where(Refund.stripe_refund_id == stripe_refund_id))
    if refund is None:
        return False
    payment = session.scalar(
        select(Payment).where(Payment.id == refund.payment_id).with_for_update()
    )
    amount = format_money(refund.amount_cents, refund.currency)
    session.delete(refund)
    session.flush()
    _update_refunded(session, payment)
    lead = payment.enrolment.lead
    if lead is not None:
        record_event(
            session,
            lead,
            "refund",
            f"Refund of {amount} failed at Stripe: the payment stands",
            {"payment_id": payment.id, "refund": stripe_refund_id, "failed": True},
        )
    session.commit()
    return True


def refund_payment(
    session: Session,
    payment_id: int,
    amount_cents: int,
    *,
    request_key: str,
    actor_id: int | None = None,
    reason: str = "",
) -> Refund:
    """Refund part or all of a payment through Stripe. `request_key` comes from the form, so a
    double-submitted form reuses the same idempotency key and refunds once."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise BillingError("No such payment.")
    if amount_cents <= 0 or amount_cents > payment.refundable_cents:
        raise BillingError(
            f"Refund between {format_money(1, payment.currency)} and "
            f"{format_money(payment.refundable_cents, payment.currency)}."
        )
    key = f"hero-refund:{payment.id}:{request_key}"
    if payment.stripe_object_id.startswith(("pi_offline_", "in_offline_")):
        refund_id = "re_offline_" + secrets.token_hex(12)
    else:
        pi = payment.stripe_payment_intent_id or (
            payment.stripe_object_id if payment.stripe_object_id.startswith("pi_") else None
        )
        if pi is None:
            pi = _invoice_payment_intent(gateway.retrieve_invoice(payment.stripe_object_id))
            if pi is None:
                raise BillingError("Stripe has no payment to refund for this invoice.")
        refund = gateway.create_refund(
            payment_intent_id=pi,
            amount_cents=amount_cents,
            idempotency_key=key,
            metadata={"hero_payment_id": str(payment.id)},
        )
        refund_id = refund["id"]
        amount_cents = int(refund.get("amount") or amount_cents)
    return record_refund(
        session, payment.id, refund_id, amount_cents, source="api", reason=reason, actor_id=actor_id
    )

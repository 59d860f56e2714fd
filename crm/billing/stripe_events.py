"""Stripe webhook events: the ledger (each event id recorded once), then one handler per kind:
checkout sessions, invoices, subscriptions, refunded charges, disputes and async bank payments.

Handlers may run twice or out of order; UNIQUE Stripe ids on the rows they write (invoice →
payment, refund id → refund, event id → ledger row) make the second run read the first's work.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.alerts.services import notify_coach
from crm.billing import stripe_gateway as gateway
from crm.billing.catalogue import get_settings
from crm.billing.checkout import (
    _add_payment,
    _attempt_for,
    _end_plan_if_complete,
    _paid_instalments,
    fulfil_checkout,
    is_paid,
)
from crm.billing.common import _id, _invoice_payment_intent, _ts
from crm.billing.errors import BillingError
from crm.billing.models import (
    AttemptStatus,
    Enrolment,
    EnrolmentStatus,
    Payment,
    PaymentStatus,
    PlanStatus,
    StripeEvent,
)
from crm.billing.money import format_money
from crm.billing.refunds import record_refund
from crm.leads.services import record_event
from crm.time import utcnow
from tasks.outbox import queue_email


def record_stripe_event(session: Session, payload: dict) -> StripeEvent | None:
    """Add the event to the ledger (commits); None when this event id was already recorded."""
    event_id = payload.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise BillingError("An event without an id.")
    if session.scalar(select(StripeEvent.id).where(StripeEvent.stripe_event_id == event_id)):
        return None
    row = StripeEvent(
        stripe_event_id=event_id, type=str(payload.get("type", ""))[:100], payload=payload
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return row


HANDLED_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "customer.subscription.deleted",
    "charge.refunded",
    "charge.dispute.created",
}


def process_stripe_event(session: Session, event_row_id: int) -> str:
    """Apply one ledger event; safe to run twice (a processed event is skipped). Returns a word
    saying what happened. Errors are stored on the row and re-raised so Celery retries."""
    row = session.get(StripeEvent, event_row_id)
    if row is None:
        return "missing"
    if row.processed_at is not None:
        return "already processed"
    obj = (row.payload.get("data") or {}).get("object") or {}
    try:
        outcome = _dispatch(session, row.type, obj)
    except Exception as exc:
        session.rollback()
        row = session.get(StripeEvent, event_row_id)
        row.attempts += 1
        row.error = f"{type(exc).__name__}: {exc}"[:2000]
        session.commit()
        raise
    row = session.get(StripeEvent, event_row_id)
    row.processed_at = utcnow()
    row.attempts += 1
    row.error = ""
    session.commit()
    return outcome


def _dispatch(session: Session, kind: str, obj: dict) -> str:
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        enrolment = fulfil_checkout(session, obj["id"])
        return "enrolled" if enrolment else "awaiting payment"
    if kind == "checkout.session.async_payment_failed":
        return _async_payment_failed(session, obj)
    if kind in ("invoice.paid", "invoice.payment_succeeded"):
        return invoice_paid(session, obj)
    if kind == "invoice.payment_failed":
        return invoice_payment_failed(session, obj)
    if kind == "customer.subscription.deleted":
        return subscription_deleted(session, obj)
    if kind == "charge.refunded":
        return charge_refunded(session, obj)
    if kind == "charge.dispute.created":
        return dispute_created(session, obj)
    return "ignored"


def _async_payment_failed(session: Session, checkout: dict) -> str:
    attempt = _attempt_for(session, checkout)
    attempt.status = AttemptStatus.FAILED  # the offer can be paid again
    lead = attempt.offer.lead
    record_event(
        session,
        lead,
        "payment_failed",
        "Bank payment at checkout failed",
        {"checkout_session": checkout["id"]},
    )
    amount = format_money(
        # What she was asked to pay (after any promotion code), not the list price.
        checkout.get("amount_total") or attempt.price.amount_cents,
        checkout.get("currency") or attempt.price.currency,
    )
    notify_coach(
        session, "payment_failed", lead.user_id,
        f"The bank payment {lead.name} started at checkout ({amount}) failed.",
        key=f"checkout:{checkout['id']}:failed", template="payment_failed",
        context={"audience": "coach", "kind": "checkout", "client_name": lead.name,
                 "amount": amount},
        lead_id=lead.id,
    )  # fmt: skip
    session.commit()
    return "checkout payment failed"


def _invoice_subscription(invoice: dict) -> str | None:
    sub = _id(invoice.get("subscription"))
    if not sub:
        parent = invoice.get("parent") or {}
        sub = _id((parent.get("subscription_details") or {}).get("subscription"))
    return sub


def _enrolment_for_subscription(session: Session, subscription_id: str) -> Enrolment | None:
    """The enrolment behind a subscription. If its checkout event has not arrived yet (events
    come in any order), ask Stripe for the session and fulfil it now: both orders converge."""
    enrolment = session.scalar(
        select(Enrolment).where(Enrolment.stripe_subscription_id == subscription_id)
    )
    if enrolment is not None or subscription_id.startswith("sub_offline_") or gateway.is_offline():
        return enrolment
    for checkout in gateway.list_checkout_sessions(subscription=subscription_id):
        if is_paid(checkout):
            return fulfil_checkout(session, checkout["id"])
    return None


def _with_retry(fn, *args):
    """Run fn; if a concurrent writer won a UNIQUE race, roll back and run it once more (the
    second run sees the winner's row)."""
    try:
        return fn(*args)
    except IntegrityError:
        args[0].rollback()
        return fn(*args)


def invoice_paid(session: Session, invoice: dict) -> str:
    return _with_retry(_invoice_paid, session, invoice)


def _invoice_paid(session: Session, invoice: dict) -> str:
    subscription_id = _invoice_subscription(invoice)
    if not subscription_id:
        return "not a subscription invoice"
    enrolment = _enrolment_for_subscription(session, subscription_id)
    if enrolment is None:
        return "no enrolment for subscription"
    amount = int(invoice.get("amount_paid") or invoice.get("total") or 0)
    currency = (invoice.get("currency") or enrolment.price.currency).lower()
    payment = session.scalar(select(Payment).where(Payment.stripe_object_id == invoice["id"]))
    paid_at = _ts((invoice.get("status_transitions") or {}).get("paid_at")) or utcnow()
    pi = _invoice_payment_intent(invoice)
    if payment is None:
        n = _paid_instalments(session, enrolment) + 1
        payment = _add_payment(
            session,
            enrolment,
            invoice["id"],
            amount,
            currency,
            f"Instalment {n} of {enrolment.price.instalments}",
            paid_at,
            payment_intent_id=pi,
            charge_id=_id(invoice.get("charge")),
        )
        record_event(
            session,
            enrolment.lead,
            "payment",
            f"Instalment paid: {format_money(amount, currency)}",
            {"enrolment_id": enrolment.id, "invoice": invoice["id"]},
        )
    else:
        if payment.status == PaymentStatus.FAILED:
            payment.status = PaymentStatus.PAID
            payment.amount_cents = amount
            payment.paid_at = paid_at
            record_event(
                session,
                enrolment.lead,
                "payment",
                f"Instalment paid after a retry: {format_money(amount, currency)}",
                {"enrolment_id": enrolment.id, "invoice": invoice["id"]},
            )
        payment.stripe_payment_intent_id = payment.stripe_payment_intent_id or pi
        payment.stripe_charge_id = payment.stripe_charge_id or _id(invoice.get("charge"))
    if enrolment.status == EnrolmentStatus.PAST_DUE or (
        enrolment.status == EnrolmentStatus.PAUSED and enrolment.paused_reason == "grace_expired"
    ):
        enrolment.status = EnrolmentStatus.ACTIVE
        enrolment.paused_reason = ""
    if not _has_failed_invoices(session, enrolment):
        enrolment.grace_until = None
    session.commit()
    _end_plan_if_complete(session, enrolment)
    return "instalment recorded"


def _has_failed_invoices(session: Session, enrolment: Enrolment) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.enrolment_id == enrolment.id, Payment.status == PaymentStatus.FAILED)
        )
    )


def invoice_payment_failed(session: Session, invoice: dict) -> str:
    return _with_retry(_invoice_payment_failed, session, invoice)


def _invoice_payment_failed(session: Session, invoice: dict) -> str:
    subscription_id = _invoice_subscription(invoice)
    if not subscription_id:
        return "not a subscription invoice"
    enrolment = session.scalar(
        select(Enrolment).where(Enrolment.stripe_subscription_id == subscription_id)
    )
    if enrolment is None:
        # A first payment that fails never completes the checkout: nobody to enrol or warn.
        return "no enrolment for subscription"
    payment = session.scalar(select(Payment).where(Payment.stripe_object_id == invoice["id"]))
    if payment is not None and payment.status != PaymentStatus.FAILED:
        return "already paid"  # the failure event arrived after the success: nothing to do
    amount = int(invoice.get("amount_due") or invoice.get("total") or 0)
    currency = (invoice.get("currency") or enrolment.price.currency).lower()
    if payment is None:
        _add_payment(
            session,
            enrolment,
            invoice["id"],
            amount,
            currency,
            "Instalment payment failed",
            None,
            status=PaymentStatus.FAILED,
            payment_intent_id=_invoice_payment_intent(invoice),
        )
    grace_days = get_settings(session).grace_days
    if enrolment.status == EnrolmentStatus.ACTIVE:
        enrolment.status = EnrolmentStatus.PAST_DUE
        enrolment.grace_until = utcnow() + timedelta(days=grace_days)
    lead, user = enrolment.lead, enrolment.user
    record_event(
        session,
        lead,
        "payment_failed",
        f"Instalment payment failed: {format_money(amount, currency)}",
        {"enrolment_id": enrolment.id, "invoice": invoice["id"]},
    )
    grace_until = enrolment.grace_until.strftime("%B %-d") if enrolment.grace_until else ""
    common = {
        "client_name": lead.name if lead else user.display_name,
        "first_name": user.first_name,
        "kind": "invoice",
        "amount": format_money(amount, currency),
        "grace_until": grace_until,
        "programme_name": enrolment.programme.name,
        "update_url": invoice.get("hosted_invoice_url") or "",
    }
    queue_email(
        session,
        to=user.email,
        template="payment_failed",
        context={**common, "audience": "client"},
        idempotency_key=f"invoice:{invoice['id']}:failed:client",
        user_id=user.id,
        lead_id=enrolment.lead_id,
    )
    notify_coach(
        session, "payment_failed", user.id,
        f"An instalment of {common['amount']} from {common['client_name']} failed.",
        key=f"invoice:{invoice['id']}:failed:coach", template="payment_failed",
        context={**common, "audience": "coach"}, lead_id=enrolment.lead_id,
    )  # fmt: skip
    session.commit()
    return "payment failed recorded"


def subscription_deleted(session: Session, subscription: dict) -> str:
    enrolment = session.scalar(
        select(Enrolment).where(Enrolment.stripe_subscription_id == subscription["id"])
    )
    if enrolment is None:
        return "no enrolment for subscription"
    if enrolment.plan_status == PlanStatus.ACTIVE:
        enrolment.plan_status = (
            PlanStatus.COMPLETED
            if _paid_instalments(session, enrolment) >= enrolment.price.instalments
            else PlanStatus.CANCELLED
        )
        record_event(
            session,
            enrolment.lead,
            "plan_ended",
            f"Instalment plan ended ({enrolment.plan_status.value})",
            {"enrolment_id": enrolment.id, "subscription": subscription["id"]},
        )
        session.commit()
    return "subscription ended"


def charge_refunded(session: Session, charge: dict) -> str:
    payment = _payment_for_charge(session, charge)
    if payment is None:
        return "no payment for charge"
    if not payment.stripe_charge_id:
        payment.stripe_charge_id = charge["id"]
        session.commit()
    refunds = (charge.get("refunds") or {}).get("data")
    if refunds is None and not gateway.is_offline():
        refunds = gateway.list_refunds_for_charge(charge["id"])
    for refund in refunds or []:
        if refund.get("status") in ("succeeded", "pending", None):
            record_refund(
                session, payment.id, refund["id"], int(refund["amount"]), source="webhook"
            )
    return "refunds recorded"


def _payment_for_charge(session: Session, charge: dict) -> Payment | None:
    conditions = [Payment.stripe_charge_id == charge["id"]]
    pi = _id(charge.get("payment_intent"))
    if pi:
        conditions += [Payment.stripe_payment_intent_id == pi, Payment.stripe_object_id == pi]
    invoice = _id(charge.get("invoice"))
    if invoice:
        conditions.append(Payment.stripe_object_id == invoice)
    return session.scalar(select(Payment).where(or_(*conditions)).limit(1))


def dispute_created(session: Session, dispute: dict) -> str:
    payment = _payment_for_charge(
        session,
        {"id": _id(dispute.get("charge")) or "", "payment_intent": dispute.get("payment_intent")},
    )
    amount = format_money(int(dispute.get("amount") or 0), dispute.get("currency") or "usd")
    lead = payment.enrolment.lead if payment else None
    if lead is not None:
        record_event(
            session,
            lead,
            "dispute",
            f"Payment disputed: {amount} ({dispute.get('reason', '')})",
            {"dispute": dispute.get("id")},
        )
    client = lead.name if lead else "a client"
    notify_coach(
        session, "payment_failed", payment.enrolment.user_id if payment else None,
        f"{client} disputed a payment of {amount}.",
        key=f"dispute:{dispute.get('id')}", template="payment_failed",
        context={"audience": "coach", "kind": "dispute", "amount": amount, "client_name": client,
                 "reason": dispute.get("reason", "")},
        lead_id=lead.id if lead else None,
    )  # fmt: skip
    session.commit()
    return "coach alerted"

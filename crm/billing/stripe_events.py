"""Stripe webhook events: the ledger (each event id recorded once), then one handler per kind:
checkout sessions, invoices, subscriptions, refunds, disputes and async bank payments.

Handlers may run twice, concurrently or out of order; UNIQUE Stripe ids on the rows they write
(invoice → payment, refund id → refund, dispute id → dispute, event id → ledger row) make the
second run read the first's work. An event about an object Hero doesn't know yet (a refund before
its checkout) first asks Stripe for that object and records it; if Stripe can't say, the handler
raises `NotYet` and the event is kept, `waiting_for` that object, and applied by
`release_waiting` once the object exists. An event is marked processed only after its handler
has committed its effect.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import exists, func, literal, or_, select
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
    Dispute,
    Enrolment,
    EnrolmentStatus,
    Payment,
    PaymentStatus,
    PlanStatus,
    StripeEvent,
)
from crm.billing.money import format_money
from crm.billing.refunds import cancel_refund, record_refund
from crm.leads.services import record_event
from crm.time import utcnow
from tasks.outbox import queue_email

log = logging.getLogger(__name__)


class NotYet(Exception):
    """The event's object isn't in Hero yet and Stripe could not supply it: keep the event,
    waiting for `key` (the Stripe id that will appear on a Payment or an Enrolment)."""

    def __init__(self, key: str, what: str) -> None:
        super().__init__(f"waiting for {what} {key}")
        self.key = key


class NotOurs(BillingError):
    """Stripe says the object belongs to a checkout Hero didn't create (another product sold on
    the same Stripe account): nothing for Hero to record."""


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
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
}


def process_stripe_event(session: Session, event_row_id: int, *, release: bool = True) -> str:
    """Apply one ledger event; safe to run twice (a processed event is skipped). Returns a word
    saying what happened. An event whose object is not known yet is kept ("waiting for …").
    Errors are stored on the row and re-raised so Celery retries. With `release`, events that
    were waiting for what this one recorded are applied next."""
    row = session.get(StripeEvent, event_row_id)
    if row is None:
        return "missing"
    if row.processed_at is not None:
        return "already processed"
    obj = (row.payload.get("data") or {}).get("object") or {}
    kind = row.type
    waiting = ""
    for _ in range(3):
        try:
            outcome = _dispatch(session, kind, obj)
            break
        except NotOurs as exc:
            session.rollback()
            outcome = f"not a Hero payment: {exc}"
            break
        except NotYet as wait:
            waiting = str(wait)
            session.rollback()
            row = session.get(StripeEvent, event_row_id)
            if row.processed_at is not None:
                return "already processed"  # a concurrent run recorded it meanwhile
            row.attempts += 1
            row.waiting_for = wait.key[:255]
            row.error = ""
            session.commit()
            # The object may have been recorded while this ran, its release looking before this
            # row said what it waits for: look again now that it says so.
            if not _is_known(session, wait.key):
                return waiting
        except Exception as exc:
            session.rollback()
            row = session.get(StripeEvent, event_row_id)
            row.attempts += 1
            row.error = f"{type(exc).__name__}: {exc}"[:2000]
            session.commit()
            raise
    else:
        return waiting
    row = session.get(StripeEvent, event_row_id)
    row.processed_at = utcnow()
    row.attempts += 1
    row.error = ""
    row.waiting_for = None
    session.commit()
    if release:
        release_waiting(session)
    return outcome


def _known(key):
    """True where `key` (a column or a literal) is the Stripe id of something Hero recorded."""
    return or_(
        exists().where(Payment.stripe_object_id == key),
        exists().where(Payment.stripe_payment_intent_id == key),
        exists().where(Payment.stripe_charge_id == key),
        exists().where(Enrolment.stripe_subscription_id == key),
        exists().where(Enrolment.stripe_checkout_session_id == key),
    )


def _is_known(session: Session, key: str) -> bool:
    return bool(session.scalar(select(_known(literal(key)))))


def waiting_events(session: Session) -> list[StripeEvent]:
    """Events kept for an object Hero doesn't know yet, oldest first."""
    return list(
        session.scalars(
            select(StripeEvent)
            .where(StripeEvent.processed_at.is_(None), StripeEvent.waiting_for.is_not(None))
            .order_by(StripeEvent.id)
        )
    )


def release_waiting(session: Session) -> list[str]:
    """Apply every kept event whose object now exists, in the order they arrived. Called after
    anything records a payment or an enrolment (a processed event, the success page,
    reconciliation). Returns a line per event applied."""
    applied: list[str] = []
    tried: set[int] = set()
    for _ in range(5):  # applying one may record what another waits for
        ready = [
            row_id
            for row_id in session.scalars(
                select(StripeEvent.id)
                .where(
                    StripeEvent.processed_at.is_(None),
                    StripeEvent.waiting_for.is_not(None),
                    _known(StripeEvent.waiting_for),
                )
                .order_by(StripeEvent.id)
            )
            if row_id not in tried
        ]
        if not ready:
            break
        for row_id in ready:
            tried.add(row_id)
            try:
                outcome = process_stripe_event(session, row_id, release=False)
            except Exception:  # noqa: BLE001 - stored on the row; Celery or the sweep retries
                log.exception("could not apply waiting Stripe event #%s", row_id)
                continue
            applied.append(f"applied waiting event #{row_id}: {outcome}")
    return applied


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
    if kind == "customer.subscription.updated":
        if obj.get("status") == "canceled":
            return subscription_deleted(session, obj)
        return "nothing to change"
    if kind == "charge.refunded":
        return charge_refunded(session, obj)
    if kind in ("refund.created", "refund.updated", "charge.refund.updated"):
        return refund_changed(session, obj)
    if kind.startswith("charge.dispute."):
        return dispute_changed(session, obj)
    return "ignored"


def _async_payment_failed(session: Session, checkout: dict) -> str:
    attempt = _attempt_for(session, checkout)
    if attempt.status == AttemptStatus.FAILED:
        return "checkout payment failed"  # recorded already (the same news in a new event)
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


def _enrolment_for_subscription(session: Session, subscription_id: str) -> Enrolment:
    """The enrolment behind a subscription. If its checkout event has not arrived yet (events
    come in any order), ask Stripe for the session and fulfil it now: both orders converge.
    Raises NotYet when neither Hero nor Stripe (unreachable, or not paid yet) can say."""
    enrolment = session.scalar(
        select(Enrolment).where(Enrolment.stripe_subscription_id == subscription_id)
    )
    if enrolment is not None:
        return enrolment
    if not subscription_id.startswith("sub_offline_") and not gateway.is_offline():
        try:
            for checkout in gateway.list_checkout_sessions(subscription=subscription_id):
                if is_paid(checkout):
                    enrolment = fulfil_checkout(session, checkout["id"])
                    if enrolment is not None:
                        return enrolment
        except gateway.GatewayError as exc:
            log.warning("could not ask Stripe about %s: %s", subscription_id, exc)
    raise NotYet(subscription_id, "the enrolment of subscription")


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
    # Kept until the enrolment exists (a first payment that fails never completes Checkout, so
    # Stripe sends no such event for a checkout that didn't go through).
    enrolment = _enrolment_for_subscription(session, subscription_id)
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
    enrolment = _enrolment_for_subscription(session, subscription["id"])
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
    payment = _payment_for_charge_or_wait(session, charge)
    if not payment.stripe_charge_id:
        payment.stripe_charge_id = charge["id"]
        session.commit()
    refunds = (charge.get("refunds") or {}).get("data")
    if not gateway.is_offline():
        # Their status now, not when the event was sent; and since API version 2022-11-15 a
        # charge no longer lists its refunds at all.
        refunds = gateway.list_refunds_for_charge(charge["id"])
    for refund in refunds or []:
        if refund.get("status") in ("succeeded", "pending", None):
            record_refund(
                session, payment.id, refund["id"], int(refund["amount"]), source="webhook"
            )
        elif refund.get("status") in ("failed", "canceled"):
            cancel_refund(session, refund["id"])
    return "refunds recorded"


def refund_changed(session: Session, refund: dict) -> str:
    """refund.created / refund.updated: one refund, whichever way it was made."""
    refs = {"id": _id(refund.get("charge")) or "", "payment_intent": refund.get("payment_intent")}
    payment = _payment_for_charge_or_wait(session, refs)
    if not gateway.is_offline():
        # Its status now, not when the event was sent (a "created" may come after "failed").
        try:
            refund = gateway.retrieve_refund(refund["id"])
        except gateway.GatewayError as exc:
            log.warning("could not read refund %s from Stripe: %s", refund["id"], exc)
    if refund.get("status") in ("failed", "canceled"):
        cancel_refund(session, refund["id"])
        return f"refund {refund['status']}: the payment stands"
    record_refund(session, payment.id, refund["id"], int(refund["amount"]), source="webhook")
    return "refund recorded"


def _payment_for_charge(session: Session, charge: dict) -> Payment | None:
    conditions = []
    if charge.get("id"):
        conditions.append(Payment.stripe_charge_id == charge["id"])
    pi = _id(charge.get("payment_intent"))
    if pi:
        conditions += [Payment.stripe_payment_intent_id == pi, Payment.stripe_object_id == pi]
    invoice = _id(charge.get("invoice"))
    if invoice:
        conditions.append(Payment.stripe_object_id == invoice)
    if not conditions:
        return None
    return session.scalar(select(Payment).where(or_(*conditions)).limit(1))


def _payment_for_charge_or_wait(session: Session, charge: dict) -> Payment:
    """The payment a charge (or a refund or dispute of it) belongs to: from Hero's ledger, else
    recorded now from what Stripe says (its Checkout Session or subscription invoice). Raises
    NotYet when Stripe can't say either, so the event waits for the payment."""
    payment = _payment_for_charge(session, charge)
    if payment is not None:
        return payment
    refs = _payment_from_stripe(session, charge)
    payment = _payment_for_charge(session, refs)
    if payment is not None:
        return payment
    key = _id(refs.get("payment_intent")) or _id(refs.get("invoice")) or refs.get("id")
    if not key:
        raise BillingError("An event about a charge without any Stripe id.")
    raise NotYet(key, "the payment")


def _payment_from_stripe(session: Session, charge: dict) -> dict:
    """Ask Stripe which Checkout Session or invoice a charge paid, and record it (fulfil the
    session, or record the invoice as paid). Returns the charge's references, completed from
    Stripe; Stripe unreachable (or offline mode) leaves them as they were."""
    refs = {
        "id": charge.get("id") or "",
        "payment_intent": _id(charge.get("payment_intent")),
        "invoice": _id(charge.get("invoice")),
    }
    if gateway.is_offline():
        return refs
    try:
        if refs["id"] and not refs["payment_intent"]:
            remote = gateway.retrieve_charge(refs["id"])
            refs["payment_intent"] = _id(remote.get("payment_intent"))
            refs["invoice"] = refs["invoice"] or _id(remote.get("invoice"))
        pi = refs["payment_intent"]
        if pi:
            for checkout in gateway.list_checkout_sessions(payment_intent=pi):
                if is_paid(checkout):
                    try:
                        fulfil_checkout(session, checkout["id"])
                    except BillingError as exc:
                        raise NotOurs(str(exc)) from exc
            if not refs["invoice"] and _payment_for_charge(session, refs) is None:
                refs["invoice"] = _id(gateway.retrieve_payment_intent(pi).get("invoice"))
        if refs["invoice"] and _payment_for_charge(session, refs) is None:
            invoice = gateway.retrieve_invoice(refs["invoice"])
            if invoice.get("status") == "paid" and _invoice_subscription(invoice):
                invoice_paid(session, invoice)
    except gateway.GatewayError as exc:
        session.rollback()
        log.warning("could not ask Stripe about charge %s: %s", refs["id"], exc)
    return refs


def dispute_changed(session: Session, dispute: dict) -> str:
    """charge.dispute.created / updated / closed: record the dispute on its payment (once),
    follow its status, and tell the coach when one opens and when it is decided."""
    payment = _payment_for_charge_or_wait(
        session,
        {"id": _id(dispute.get("charge")) or "", "payment_intent": dispute.get("payment_intent")},
    )
    return _with_retry(_record_dispute, session, payment.id, dispute)


_DISPUTE_DECIDED = ("won", "lost", "warning_closed")


def _record_dispute(session: Session, payment_id: int, dispute: dict) -> str:
    payment = session.get(Payment, payment_id)
    status = str(dispute.get("status") or "")[:40]
    amount_cents = int(dispute.get("amount") or 0)
    currency = (dispute.get("currency") or payment.currency).lower()
    amount = format_money(amount_cents, currency)
    lead = payment.enrolment.lead
    row = session.scalar(select(Dispute).where(Dispute.stripe_dispute_id == dispute["id"]))
    if row is None:
        row = Dispute(
            payment_id=payment.id,
            stripe_dispute_id=dispute["id"],
            amount_cents=amount_cents,
            currency=currency,
            reason=str(dispute.get("reason") or "")[:100],
            status=status,
            created_at=_ts(dispute.get("created")) or utcnow(),
        )
        session.add(row)
        session.flush()  # a concurrent run of the same dispute fails here, and retries
        if lead is not None:
            record_event(
                session,
                lead,
                "dispute",
                f"Payment disputed: {amount} ({row.reason})",
                {"dispute": dispute["id"], "payment_id": payment.id},
            )
        client = lead.name if lead else payment.enrolment.user.display_name
        notify_coach(
            session, "payment_failed", payment.enrolment.user_id,
            f"{client} disputed a payment of {amount}.",
            key=f"dispute:{dispute['id']}", template="payment_failed",
            context={"audience": "coach", "kind": "dispute", "amount": amount,
                     "client_name": client, "reason": row.reason},
            lead_id=lead.id if lead else None,
        )  # fmt: skip
        if status in _DISPUTE_DECIDED:  # its closing came first
            _dispute_decided(session, lead, row, payment)
    elif (
        status
        and row.status != status
        and not (row.status in _DISPUTE_DECIDED and status not in _DISPUTE_DECIDED)
    ):  # a late "created" or "updated" never reopens a decided dispute
        row.status = status
        row.updated_at = utcnow()
        if status in _DISPUTE_DECIDED:
            _dispute_decided(session, lead, row, payment)
    session.commit()
    return f"dispute {status or 'recorded'}"


def _dispute_decided(session: Session, lead, row: Dispute, payment: Payment) -> None:
    if lead is not None:
        record_event(
            session,
            lead,
            "dispute",
            f"Dispute {row.status.replace('_', ' ')}: "
            f"{format_money(row.amount_cents, row.currency)}",
            {"dispute": row.stripe_dispute_id, "payment_id": payment.id, "status": row.status},
        )

"""Reconciliation: compare a time window of Stripe (Checkout Sessions, subscription invoices,
charges, refunds, disputes) with Hero's ledger, repair what webhooks missed, and tell the coach
what was repaired. Run daily by beat and by `flask stripe-reconcile`; every repair goes through
the same service function the webhook uses, so running it twice changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.billing import stripe_gateway as gateway
from crm.billing.catalogue import get_settings
from crm.billing.checkout import enrolment_for_session, fulfil_checkout, is_paid
from crm.billing.common import _id
from crm.billing.errors import BillingError
from crm.billing.models import Dispute, Payment, PaymentStatus, Refund, StripeEvent
from crm.billing.money import format_money
from crm.billing.refunds import cancel_refund, record_refund
from crm.billing.stripe_events import (
    NotYet,
    _invoice_subscription,
    _payment_for_charge,
    _payment_for_charge_or_wait,
    dispute_changed,
    invoice_paid,
    process_stripe_event,
    release_waiting,
    waiting_events,
)
from crm.time import utcnow

log = logging.getLogger(__name__)


def reconcile(session: Session, *, now: datetime | None = None, days: int = 3) -> list[str]:
    """Repair what webhooks missed in the last `days`: events left unprocessed or waiting, paid
    Checkout Sessions without an enrolment, paid invoices, charges, refunds and disputes missing
    from the ledger. Returns a line per repair (and per thing it could not repair)."""
    now = now or utcnow()
    fixed = retry_stuck_events(session, older_than=now - timedelta(minutes=10))
    if gateway.is_offline():
        return fixed + release_waiting(session)
    since = int((now - timedelta(days=days)).timestamp())
    for step in (_sessions, _invoices, _charges, _refunds, _disputes):
        try:
            fixed += step(session, since)
        except gateway.GatewayError as exc:
            session.rollback()
            fixed.append(f"could not read Stripe ({step.__name__.strip('_')}): {exc}")
    return fixed + release_waiting(session)


def retry_stuck_events(session: Session, *, older_than: datetime) -> list[str]:
    """Run again every event left unprocessed (failing, or waiting for its object)."""
    fixed: list[str] = []
    rows = session.execute(
        select(StripeEvent.id, StripeEvent.type).where(
            StripeEvent.processed_at.is_(None), StripeEvent.received_at < older_than
        )
    ).all()
    for row_id, kind in rows:
        try:
            outcome = process_stripe_event(session, row_id, release=False)
        except Exception as exc:  # noqa: BLE001 - report and carry on with the rest
            fixed.append(f"event #{row_id} ({kind}) still failing: {exc}")
            continue
        if outcome.startswith("waiting"):
            fixed.append(f"event #{row_id} ({kind}) still {outcome}")
        elif outcome != "already processed":
            fixed.append(f"applied stuck event #{row_id} ({kind}): {outcome}")
    return fixed


def retry_waiting_events(session: Session) -> list[str]:
    """Hourly: ask again for the objects kept events wait for (Stripe may answer now)."""
    out: list[str] = []
    for row in waiting_events(session):
        try:
            outcome = process_stripe_event(session, row.id)
        except Exception as exc:  # noqa: BLE001 - stored on the row; next hour tries again
            out.append(f"event #{row.id} failing: {exc}")
            continue
        out.append(f"event #{row.id}: {outcome}")
    return out


def _attempt(fixed: list[str], what: str, fn: Callable[[], str | None]) -> None:
    """Run one repair; a payment Hero can't place or a session that isn't ours is reported."""
    try:
        line = fn()
    except NotYet as exc:
        fixed.append(f"{what}: {exc}")
    except BillingError as exc:
        fixed.append(f"skipped {what}: {exc}")
    else:
        if line:
            fixed.append(line)


def _sessions(session: Session, since: int) -> list[str]:
    fixed: list[str] = []
    for checkout in gateway.list_checkout_sessions(created={"gte": since}):
        if not is_paid(checkout) or enrolment_for_session(session, checkout["id"]):
            continue

        def enrol(checkout=checkout) -> str | None:
            enrolment = fulfil_checkout(session, checkout["id"])
            if enrolment is None:
                return None
            return f"enrolled {enrolment.user.email} from paid session {checkout['id']}"

        _attempt(fixed, checkout["id"], enrol)
    return fixed


def _invoices(session: Session, since: int) -> list[str]:
    fixed: list[str] = []
    for invoice in gateway.list_invoices(created={"gte": since}, status="paid"):
        if not _invoice_subscription(invoice):
            continue
        payment = session.scalar(select(Payment).where(Payment.stripe_object_id == invoice["id"]))
        if payment is not None and payment.status != PaymentStatus.FAILED:
            continue

        def record(invoice=invoice) -> str:
            invoice_paid(session, invoice)
            amount = format_money(int(invoice.get("amount_paid") or 0), invoice.get("currency"))
            return f"recorded paid instalment {invoice['id']} ({amount})"

        _attempt(fixed, f"paid invoice {invoice['id']}", record)
    return fixed


def _charges(session: Session, since: int) -> list[str]:
    """Every successful charge belongs to a payment in the ledger."""
    fixed: list[str] = []
    for charge in gateway.list_charges(created={"gt": since - 1}):
        if charge.get("status") != "succeeded" or _payment_for_charge(session, charge):
            continue

        def place(charge=charge) -> str:
            payment = _payment_for_charge_or_wait(session, charge)
            return f"recorded the payment of charge {charge['id']} (payment #{payment.id})"

        amount = format_money(int(charge.get("amount") or 0), charge.get("currency"))
        _attempt(fixed, f"Stripe charge {charge['id']} ({amount})", place)
    return fixed


def _refunds(session: Session, since: int) -> list[str]:
    fixed: list[str] = []
    for refund in gateway.list_refunds(created={"gte": since}):
        if refund.get("status") in ("failed", "canceled"):
            if cancel_refund(session, refund["id"]):
                fixed.append(f"removed refund {refund['id']}: it {refund['status']} at Stripe")
            continue
        if session.scalar(select(Refund.id).where(Refund.stripe_refund_id == refund["id"])):
            continue

        def record(refund=refund) -> str:
            refs = {
                "id": _id(refund.get("charge")) or "",
                "payment_intent": refund.get("payment_intent"),
            }
            payment = _payment_for_charge_or_wait(session, refs)
            record_refund(
                session, payment.id, refund["id"], int(refund["amount"]), source="reconcile"
            )
            amount = format_money(int(refund["amount"]), payment.currency)
            return f"recorded refund {refund['id']} of {amount} on payment #{payment.id}"

        _attempt(fixed, f"refund {refund['id']}", record)
    return fixed


def _disputes(session: Session, since: int) -> list[str]:
    """Disputes opened in the window, and every dispute still open in Hero (its status moves)."""
    fixed: list[str] = []
    seen: set[str] = set()
    remote = list(gateway.list_disputes(created={"gte": since}))
    open_ids = [d.stripe_dispute_id for d in session.scalars(select(Dispute)).all() if d.is_open]
    known = {d["id"] for d in remote}
    remote += [gateway.retrieve_dispute(i) for i in open_ids if i not in known]
    for dispute in remote:
        if dispute["id"] in seen:
            continue
        seen.add(dispute["id"])
        row = session.scalar(select(Dispute).where(Dispute.stripe_dispute_id == dispute["id"]))
        if row is not None and row.status == (dispute.get("status") or ""):
            continue

        def record(dispute=dispute, before=row.status if row else None) -> str:
            dispute_changed(session, dispute)
            now = dispute.get("status")
            return (
                f"recorded dispute {dispute['id']} ({now})"
                if before is None
                else f"dispute {dispute['id']}: {before} → {now}"
            )

        _attempt(fixed, f"dispute {dispute['id']}", record)
    return fixed


def report_reconciliation(session: Session, fixed: list[str]) -> None:
    """Keep what reconciliation fixed where the coach sees it (the Payments page)."""
    settings = get_settings(session)
    settings.last_reconciled_at = utcnow()
    settings.last_reconcile_report = fixed[:200]
    session.commit()

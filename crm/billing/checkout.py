"""Checkout: from a chosen price to a paid Stripe Checkout Session, and exactly-once enrolment.

Exactly-once is enforced by UNIQUE constraints on Stripe object ids (checkout session → enrolment,
payment intent / invoice → payment): a losing racer gets an IntegrityError, rolls back and reads
what the winner wrote. Offline test mode records sessions locally instead of calling Stripe.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.accounts.services import find_user, make_reset_token
from crm.billing import stripe_gateway as gateway
from crm.billing.common import _abs, _id, _invoice_payment_intent
from crm.billing.errors import BillingError
from crm.billing.models import (
    AttemptStatus,
    CheckoutAttempt,
    Enrolment,
    EnrolmentStatus,
    OfferStatus,
    Payment,
    PaymentStatus,
    PlanStatus,
    Price,
    PriceKind,
)
from crm.billing.money import format_money
from crm.billing.offers import load_offer
from crm.leads.followups import stop_sales_emails
from crm.leads.models import Stage
from crm.leads.services import change_stage, record_event
from crm.time import utcnow
from tasks.outbox import queue_email

log = logging.getLogger(__name__)

OFFLINE_PREFIX = "cs_offline_"
INTAKE_PATH = "/portal/intake"


def start_checkout(session: Session, token: str, price_id: int) -> str:
    """Create a Checkout Session for this offer and price; returns the URL to send the runner to.

    Offline test mode records the session locally and returns the local test-checkout page.
    """
    return start_checkout_attempt(session, token, price_id).url


def start_checkout_attempt(session: Session, token: str, price_id: int) -> CheckoutAttempt:
    """start_checkout, returning the attempt (its Stripe session id and URL)."""
    offer = load_offer(session, token)
    price = session.get(Price, price_id)
    if price is None or price.programme_id != offer.programme_id or not price.active:
        raise BillingError("Choose one of the prices on this page.")
    mode = "subscription" if price.kind == PriceKind.INSTALMENTS else "payment"
    attempt = CheckoutAttempt(offer_id=offer.id, price_id=price.id, mode=mode)
    session.add(attempt)
    session.commit()  # the attempt id is the session's client_reference_id

    lead = offer.lead
    metadata = {"hero_attempt_id": str(attempt.id), "hero_offer_id": str(offer.id)}
    if gateway.is_offline():
        sid = OFFLINE_PREFIX + secrets.token_hex(12)
        attempt.stripe_session_id = sid
        attempt.offline_session = {
            "id": sid,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "client_reference_id": str(attempt.id),
            "customer_email": lead.email,
            "amount_total": price.amount_cents,
            "currency": price.currency,
            "metadata": metadata,
            "payment_intent": None,
            "subscription": None,
            "invoice": None,
            "customer": None,
            "created": int(utcnow().timestamp()),
        }
        attempt.url = f"/checkout/test/{sid}"
        session.commit()
        return attempt

    line_item: dict[str, Any]
    if price.stripe_price_id:
        line_item = {"price": price.stripe_price_id, "quantity": 1}
    else:
        # Not synced yet: describe the price inline so selling never waits for stripe-sync.
        price_data: dict[str, Any] = {
            "currency": price.currency,
            "unit_amount": price.amount_cents,
        }
        if offer.programme.stripe_product_id:
            price_data["product"] = offer.programme.stripe_product_id
        else:
            price_data["product_data"] = {"name": offer.programme.name}
        if mode == "subscription":
            price_data["recurring"] = {"interval": price.interval}
        line_item = {"price_data": price_data, "quantity": 1}
    params: dict[str, Any] = {
        "mode": mode,
        "line_items": [line_item],
        "client_reference_id": str(attempt.id),
        "customer_email": lead.email,
        "allow_promotion_codes": True,
        "success_url": _abs("/checkout/success?session_id={CHECKOUT_SESSION_ID}"),
        "cancel_url": _abs(f"/offer/{token}"),
        "metadata": metadata,
    }
    if mode == "payment":
        params["payment_intent_data"] = {"metadata": metadata}
        params["customer_creation"] = "always"
    else:
        params["subscription_data"] = {"metadata": metadata}
    created = gateway.create_checkout_session(params, idempotency_key=f"hero-checkout:{attempt.id}")
    attempt.stripe_session_id = created["id"]
    attempt.url = created.get("url") or ""
    session.commit()
    return attempt


def complete_offline_checkout(session: Session, stripe_session_id: str) -> str:
    """Offline test mode: mark the locally recorded session paid, as Stripe would; returns the
    success URL. Unreachable when a Stripe key is configured."""
    if not gateway.is_offline() or current_app.config.get("HERO_ENV") == "production":
        raise BillingError("The test checkout is only available in offline test mode.")
    attempt = session.scalar(
        select(CheckoutAttempt).where(CheckoutAttempt.stripe_session_id == stripe_session_id)
    )
    if attempt is None or attempt.offline_session is None:
        raise BillingError("No such test checkout.")
    data = dict(attempt.offline_session)
    if data["status"] != "complete":
        suffix = secrets.token_hex(12)
        data.update(status="complete", payment_status="paid", customer=f"cus_offline_{suffix}")
        if data["mode"] == "payment":
            data["payment_intent"] = f"pi_offline_{suffix}"
        else:
            data["subscription"] = f"sub_offline_{suffix}"
            data["invoice"] = f"in_offline_{suffix}"
        attempt.offline_session = data
        session.commit()
    return f"/checkout/success?session_id={stripe_session_id}"


def _retrieve_session(session: Session, stripe_session_id: str) -> dict:
    if stripe_session_id.startswith(OFFLINE_PREFIX):
        if not gateway.is_offline():
            raise BillingError("Offline test sessions are refused when Stripe is configured.")
        attempt = session.scalar(
            select(CheckoutAttempt).where(CheckoutAttempt.stripe_session_id == stripe_session_id)
        )
        if attempt is None or attempt.offline_session is None:
            raise BillingError("No such checkout session.")
        return dict(attempt.offline_session)
    if gateway.is_offline():  # no Stripe to ask: any other id is not one of ours
        raise BillingError("No such checkout session.")
    return gateway.retrieve_checkout_session(stripe_session_id)


def is_paid(checkout_session: dict) -> bool:
    return checkout_session.get("status") == "complete" and checkout_session.get(
        "payment_status"
    ) in ("paid", "no_payment_required")


def enrolment_for_session(session: Session, stripe_session_id: str) -> Enrolment | None:
    return session.scalar(
        select(Enrolment).where(Enrolment.stripe_checkout_session_id == stripe_session_id)
    )


def fulfil_checkout(session: Session, stripe_session_id: str) -> Enrolment | None:
    """Enrol the runner behind a paid Checkout Session, exactly once; None while it is unpaid.

    Reads the session from Stripe (or the offline record), never from the caller. In one
    transaction: the runner's account (created or linked), the Enrolment, the Payment, the lead
    marked enrolled, timeline events and the welcome email. Safe to call any number of times,
    concurrently: the UNIQUE session id on Enrolment decides the winner. Raises BillingError for
    a session that is not ours.
    """
    existing = enrolment_for_session(session, stripe_session_id)
    if existing is not None:
        return existing
    checkout = _retrieve_session(session, stripe_session_id)
    if not is_paid(checkout):
        if checkout.get("status") == "complete":  # a bank debit on its way
            _bank_payment_processing(session, checkout)
        return None
    first_invoice = None
    if checkout.get("mode") == "subscription" and not stripe_session_id.startswith(OFFLINE_PREFIX):
        # The first instalment's PaymentIntent and charge, so a refund or dispute of it finds it.
        invoice = checkout.get("invoice")
        if invoice and not isinstance(invoice, dict):
            invoice = gateway.retrieve_invoice(invoice)
        first_invoice = invoice or None
    attempt = _attempt_for(session, checkout)
    try:
        enrolment = _enrol(session, attempt, checkout, first_invoice)
        session.commit()
    except IntegrityError:
        session.rollback()
        enrolment = enrolment_for_session(session, stripe_session_id)
        if enrolment is None:
            raise
        return enrolment
    _end_plan_if_complete(session, enrolment)
    return enrolment


def _bank_payment_processing(session: Session, checkout: dict) -> None:
    """Checkout completed with a bank debit that has not cleared: hold the offer (no second
    payment meanwhile) and say so on the timeline, once."""
    attempt = _attempt_for(session, checkout)
    if attempt.status != AttemptStatus.OPEN:
        # Already held, or the bank's answer came first (async_payment_failed before
        # checkout.session.completed): a late "completed" never holds a failed offer again.
        return
    attempt.status = AttemptStatus.PROCESSING
    record_event(
        session,
        attempt.offer.lead,
        "payment_processing",
        "Bank payment at checkout is processing (it takes a few days to clear)",
        {"checkout_session": checkout["id"]},
    )
    session.commit()


def _attempt_for(session: Session, checkout: dict) -> CheckoutAttempt:
    ref = str(checkout.get("client_reference_id") or "")
    attempt = session.get(CheckoutAttempt, int(ref)) if ref.isdigit() else None
    if attempt is None:
        raise BillingError(f"Checkout session {checkout.get('id')} is not one of ours.")
    if attempt.stripe_session_id is None:
        # The create call's answer was lost (crash, timeout): Stripe's word is the truth.
        attempt.stripe_session_id = checkout["id"]
    elif attempt.stripe_session_id != checkout["id"]:
        raise BillingError(f"Checkout session {checkout.get('id')} does not match its attempt.")
    return attempt


def _enrol(
    session: Session, attempt: CheckoutAttempt, checkout: dict, first_invoice: dict | None
) -> Enrolment:
    offer, price = attempt.offer, attempt.price
    lead = offer.lead
    programme = offer.programme
    now = utcnow()
    user = find_user(session, lead.email)
    if user is None:
        first, _, last = lead.name.strip().partition(" ")
        user = User(
            email=lead.email,
            password_hash=None,
            role=Role.RUNNER,
            first_name=first[:100],
            last_name=last[:100],
            timezone=lead.timezone,
        )
        session.add(user)
        session.flush()
    subscription_id = _id(checkout.get("subscription"))
    enrolment = Enrolment(
        user_id=user.id,
        lead_id=lead.id,
        programme_id=programme.id,
        price_id=price.id,
        checkout_attempt_id=attempt.id,
        stripe_checkout_session_id=checkout["id"],
        stripe_subscription_id=subscription_id,
        stripe_customer_id=_id(checkout.get("customer")),
        status=EnrolmentStatus.ACTIVE,
        plan_status=PlanStatus.ACTIVE if subscription_id else PlanStatus.NONE,
        started_at=now,
        access_until=now + timedelta(weeks=programme.weeks),
    )
    session.add(enrolment)
    session.flush()  # a concurrent fulfilment of the same session fails here

    amount = int(checkout.get("amount_total") or 0)
    currency = (checkout.get("currency") or price.currency).lower()
    if checkout.get("mode") == "payment":
        key = _id(checkout.get("payment_intent")) or f"cs:{checkout['id']}"
        _add_payment(
            session,
            enrolment,
            key,
            amount,
            currency,
            "Paid in full",
            now,
            payment_intent_id=_id(checkout.get("payment_intent")),
        )
    elif _id(checkout.get("invoice")):
        _add_payment(
            session,
            enrolment,
            _id(checkout["invoice"]),
            amount,
            currency,
            f"Instalment 1 of {price.instalments}",
            now,
            payment_intent_id=_invoice_payment_intent(first_invoice) if first_invoice else None,
            charge_id=_id(first_invoice.get("charge")) if first_invoice else None,
        )

    lead.user_id = user.id
    change_stage(session, lead, Stage.ENROLLED, force=True)
    stop_sales_emails(session, lead.id)
    record_event(
        session,
        lead,
        "enrolled",
        f"Enrolled in {programme.name} ({price.label})",
        {"enrolment_id": enrolment.id, "checkout_session": checkout["id"]},
    )
    record_event(
        session,
        lead,
        "payment",
        f"Payment received: {format_money(amount, currency)}",
        {"enrolment_id": enrolment.id, "amount_cents": amount, "currency": currency},
    )
    offer.status = OfferStatus.PAID
    attempt.status = AttemptStatus.COMPLETE
    context = {
        "first_name": user.first_name or lead.first_name,
        "programme_name": programme.name,
        "programme_weeks": programme.weeks,
        "intake_url": _abs(INTAKE_PATH),
        "login_url": _abs("/login"),
        "set_password_url": _abs(f"/reset/{make_reset_token(user)}")
        if not user.password_hash
        else "",
    }
    queue_email(
        session,
        to=user.email,
        template="welcome",
        context=context,
        idempotency_key=f"enrolment:{enrolment.id}:welcome",
        lead_id=lead.id,
        user_id=user.id,
        category="transactional",
    )
    return enrolment


def _add_payment(
    session: Session,
    enrolment: Enrolment,
    key: str,
    amount: int,
    currency: str,
    description: str,
    paid_at: datetime | None,
    *,
    status: PaymentStatus = PaymentStatus.PAID,
    payment_intent_id: str | None = None,
    charge_id: str | None = None,
) -> Payment:
    payment = Payment(
        enrolment=enrolment,
        stripe_object_id=key,
        stripe_payment_intent_id=payment_intent_id,
        stripe_charge_id=charge_id,
        amount_cents=amount,
        currency=currency,
        status=status,
        description=description[:200],
        paid_at=paid_at,
    )
    session.add(payment)
    session.flush()
    return payment


def _paid_instalments(session: Session, enrolment: Enrolment) -> int:
    return session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(Payment.enrolment_id == enrolment.id, Payment.status != PaymentStatus.FAILED)
    )


def _end_plan_if_complete(session: Session, enrolment: Enrolment) -> None:
    """After the Nth instalment, let the subscription end itself at the end of the period.

    Checkout cannot set `cancel_at` on the subscription it creates, so the plan ends from here:
    setting `cancel_at_period_end` twice is harmless, so every paid invoice may call this.
    """
    if enrolment.plan_status != PlanStatus.ACTIVE or not enrolment.stripe_subscription_id:
        return
    if _paid_instalments(session, enrolment) < enrolment.price.instalments:
        return
    enrolment.plan_status = PlanStatus.COMPLETED
    if enrolment.lead:
        record_event(session, enrolment.lead, "plan_completed", "Instalment plan fully paid")
    session.commit()
    if not enrolment.stripe_subscription_id.startswith("sub_offline_"):
        try:
            gateway.end_subscription_after_current_period(enrolment.stripe_subscription_id)
        except gateway.GatewayError:
            log.exception("could not end subscription %s", enrolment.stripe_subscription_id)

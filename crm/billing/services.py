"""Billing rules shared by the pages, the webhook task, the beat tasks and the CLI.

Exactly-once is enforced by UNIQUE constraints on Stripe object ids (checkout session → enrolment,
payment intent / invoice → payment, refund id → refund, event id → ledger row): a losing racer
gets an IntegrityError, rolls back and reads what the winner wrote.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.accounts.services import find_user, make_reset_token
from crm.billing import stripe_gateway as gateway
from crm.billing.models import (
    AttemptStatus,
    BillingSettings,
    CheckoutAttempt,
    Enrolment,
    EnrolmentStatus,
    Offer,
    OfferStatus,
    Payment,
    PaymentStatus,
    PlanStatus,
    Price,
    PriceKind,
    Programme,
    Refund,
    StripeEvent,
)
from crm.billing.money import format_money
from crm.leads.models import Lead, Stage
from crm.leads.services import change_stage, record_event
from crm.time import utcnow
from tasks import sequences

log = logging.getLogger(__name__)

OFFLINE_PREFIX = "cs_offline_"
INTAKE_PATH = "/portal/intake"


class BillingError(Exception):
    """A domain error with a message fit to show the coach or the runner."""


class OfferUnavailable(BillingError):
    """The offer link is invalid, expired or already used."""


# --- small helpers --------------------------------------------------------------------------


def _abs(path: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + path


def _id(value: Any) -> str | None:
    """A Stripe reference is an id string, or the expanded object carrying one."""
    if isinstance(value, dict):
        return value.get("id")
    return value or None


def _ts(value: int | None) -> datetime | None:
    from datetime import UTC

    return datetime.fromtimestamp(int(value), UTC) if value else None


def get_settings(session: Session) -> BillingSettings:
    row = session.scalar(select(BillingSettings).order_by(BillingSettings.id).limit(1))
    if row is None:
        row = BillingSettings()
        session.add(row)
        session.flush()
    return row


def save_settings(session: Session, *, grace_days: int, offer_valid_days: int) -> None:
    row = get_settings(session)
    row.grace_days = grace_days
    row.offer_valid_days = offer_valid_days
    session.commit()


def _coach_emails(session: Session) -> list[str]:
    return list(session.scalars(select(User.email).where(User.role == Role.COACH, User.active)))


def _queue(session: Session, **kwargs: Any) -> None:
    from tasks.outbox import queue_email

    queue_email(session, **kwargs)


# --- programmes and prices ------------------------------------------------------------------


def save_programme(
    session: Session,
    *,
    name: str,
    description: str,
    weeks: int,
    active: bool = True,
    programme_id: int | None = None,
) -> Programme:
    """Create or update a programme (commits)."""
    programme = session.get(Programme, programme_id) if programme_id else Programme()
    if programme is None:
        raise BillingError("No such programme.")
    if weeks < 1 or weeks > 104:
        raise BillingError("A programme lasts between 1 and 104 weeks.")
    programme.name = name.strip()
    programme.description = description.strip()
    programme.weeks = weeks
    programme.active = active
    session.add(programme)
    session.commit()
    return programme


def add_price(
    session: Session,
    programme_id: int,
    *,
    kind: str,
    amount_cents: int,
    currency: str = "usd",
    instalments: int = 1,
) -> Price:
    """Add a pay-in-full or an instalment price (commits). Prices are never edited, only retired:
    a Stripe Price is immutable and past payments must keep meaning what they meant."""
    programme = session.get(Programme, programme_id)
    if programme is None:
        raise BillingError("No such programme.")
    kind = PriceKind(kind)
    if amount_cents < 50:
        raise BillingError("Stripe needs at least 0.50 per payment.")
    if kind == PriceKind.INSTALMENTS and not 2 <= instalments <= 24:
        raise BillingError("An instalment plan has 2 to 24 monthly payments.")
    price = Price(
        programme=programme,
        kind=kind,
        amount_cents=amount_cents,
        currency=currency.lower(),
        instalments=instalments if kind == PriceKind.INSTALMENTS else 1,
    )
    session.add(price)
    session.commit()
    return price


def retire_price(session: Session, price_id: int) -> None:
    price = session.get(Price, price_id)
    if price is None:
        raise BillingError("No such price.")
    price.active = False
    session.commit()


def stripe_sync(session: Session) -> list[str]:
    """Create (or check) a Stripe Product for every programme and a Price for every active price.

    Idempotency keys make a re-run after a crash reuse what Stripe already created. Returns lines
    saying what was done. Raises BillingError in offline mode.
    """
    if gateway.is_offline():
        raise BillingError("Stripe is not configured: set STRIPE_SECRET_KEY first.")
    report: list[str] = []
    for programme in session.scalars(select(Programme).order_by(Programme.id)):
        if programme.stripe_product_id:
            gateway.retrieve_product(programme.stripe_product_id)
            report.append(f"{programme.name}: product {programme.stripe_product_id} linked")
        else:
            product = gateway.create_product(
                name=programme.name,
                description=programme.description,
                metadata={"hero_programme_id": str(programme.id)},
                idempotency_key=f"hero-product:{programme.id}",
            )
            programme.stripe_product_id = product["id"]
            session.commit()
            report.append(f"{programme.name}: product {product['id']} created")
        for price in programme.prices:
            if not price.active:
                continue
            if price.stripe_price_id:
                gateway.retrieve_price(price.stripe_price_id)
                report.append(f"  {price.label}: price {price.stripe_price_id} linked")
                continue
            params: dict[str, Any] = {
                "product": programme.stripe_product_id,
                "unit_amount": price.amount_cents,
                "currency": price.currency,
                "metadata": {"hero_price_id": str(price.id)},
            }
            if price.kind == PriceKind.INSTALMENTS:
                params["recurring"] = {"interval": price.interval}
            created = gateway.create_price(params, idempotency_key=f"hero-price:{price.id}")
            price.stripe_price_id = created["id"]
            session.commit()
            report.append(f"  {price.label}: price {created['id']} created")
    return report


# --- offers ---------------------------------------------------------------------------------


def _offer_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="offer")


def offer_token(offer: Offer) -> str:
    return _offer_serializer().dumps({"o": offer.id, "n": offer.nonce})


def offer_url(offer: Offer) -> str:
    return _abs(f"/offer/{offer_token(offer)}")


def send_offer(
    session: Session, lead_id: int, programme_id: int, *, actor_id: int | None = None
) -> Offer:
    """Create an offer for a lead, move the lead to "offer sent", queue its email (commits)."""
    lead = session.get(Lead, lead_id)
    programme = session.get(Programme, programme_id)
    if lead is None:
        raise BillingError("No such lead.")
    if programme is None or not programme.active or not programme.active_prices:
        raise BillingError("Choose an active programme with at least one price.")
    if lead.stage == Stage.ENROLLED:
        raise BillingError(f"{lead.name} is already enrolled.")
    settings = get_settings(session)
    offer = Offer(
        lead_id=lead.id,
        programme_id=programme.id,
        nonce=secrets.token_hex(16),
        expires_at=utcnow() + timedelta(days=settings.offer_valid_days),
        sent_by_id=actor_id,
    )
    session.add(offer)
    session.flush()
    change_stage(session, lead, Stage.OFFER_SENT, actor_id=actor_id, force=True)
    record_event(
        session,
        lead,
        "offer_sent",
        f"Offer sent: {programme.name}",
        {"offer_id": offer.id, "programme_id": programme.id},
        actor_id,
    )
    _queue(
        session,
        to=lead.email,
        template="offer",
        context={
            "first_name": lead.first_name,
            "programme_name": programme.name,
            "programme_weeks": programme.weeks,
            "prices": [p.label for p in programme.active_prices],
            "offer_url": offer_url(offer),
            "expires_on": offer.expires_at.strftime("%B %-d, %Y"),
        },
        idempotency_key=f"offer:{offer.id}:email",
        lead_id=lead.id,
        category="transactional",
    )
    # The offer email is the day-0 touch; the nurture follows on days 2 and 5 until she enrols.
    sequences.schedule_call_followups(session, lead, offer_url(offer), days=(2, 5))
    session.commit()
    return offer


def load_offer(session: Session, token: str, *, mark_opened: bool = False) -> Offer:
    """The offer behind a signed link; raises OfferUnavailable when it is bad, paid, being paid by
    a bank debit that has not cleared yet, or expired."""
    try:
        data = _offer_serializer().loads(token)
    except BadSignature as exc:
        raise OfferUnavailable("This offer link is not valid.") from exc
    offer = session.get(Offer, data.get("o"))
    if offer is None or offer.nonce != data.get("n"):
        raise OfferUnavailable("This offer link is not valid.")
    if offer.status == OfferStatus.PAID:
        raise OfferUnavailable("This offer has already been paid — you're in!")
    processing = select(CheckoutAttempt.id).where(
        CheckoutAttempt.offer_id == offer.id, CheckoutAttempt.status == AttemptStatus.PROCESSING
    )
    if session.scalar(processing) is not None:
        raise OfferUnavailable(
            "Your bank payment is on its way: banks take a few days to clear it, and we'll "
            "email you as soon as it has. There is nothing more to pay."
        )
    if offer.status == OfferStatus.EXPIRED or offer.expires_at < utcnow():
        if offer.status != OfferStatus.EXPIRED:
            offer.status = OfferStatus.EXPIRED
            session.commit()
        raise OfferUnavailable("This offer has expired. Ask your coach for a new link.")
    if mark_opened and offer.status == OfferStatus.SENT:
        offer.status = OfferStatus.OPENED
        offer.opened_at = utcnow()
        record_event(
            session, offer.lead, "offer_opened", "Offer page opened", {"offer_id": offer.id}
        )
        session.commit()
    return offer


# --- checkout -------------------------------------------------------------------------------


def start_checkout(session: Session, token: str, price_id: int) -> str:
    """Create a Checkout Session for this offer and price; returns the URL to send the runner to.

    Offline test mode records the session locally and returns the local test-checkout page.
    """
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
        return attempt.url

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
    return attempt.url


def complete_offline_checkout(session: Session, stripe_session_id: str) -> str:
    """Offline test mode: mark the locally recorded session paid, as Stripe would; returns the
    success URL. Unreachable when a Stripe key is configured."""
    if not gateway.is_offline():
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
    attempt = _attempt_for(session, checkout)
    try:
        enrolment = _enrol(session, attempt, checkout)
        session.commit()
    except IntegrityError:
        session.rollback()
        enrolment = enrolment_for_session(session, stripe_session_id)
        if enrolment is None:
            raise
        return enrolment
    _end_plan_if_complete(session, enrolment)
    return enrolment


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


def _enrol(session: Session, attempt: CheckoutAttempt, checkout: dict) -> Enrolment:
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
        )

    lead.user_id = user.id
    change_stage(session, lead, Stage.ENROLLED, force=True)
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
    _queue(
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


# --- webhook events -------------------------------------------------------------------------


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


def _bank_payment_processing(session: Session, checkout: dict) -> None:
    """Checkout completed with a bank debit that has not cleared: hold the offer (no second
    payment meanwhile) and say so on the timeline, once."""
    attempt = _attempt_for(session, checkout)
    if attempt.status == AttemptStatus.PROCESSING:
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
    for email in _coach_emails(session):
        _queue(
            session,
            to=email,
            template="payment_failed",
            context={
                "audience": "coach",
                "kind": "checkout",
                "client_name": lead.name,
                # What she was asked to pay (after any promotion code), not the list price.
                "amount": format_money(
                    checkout.get("amount_total") or attempt.price.amount_cents,
                    checkout.get("currency") or attempt.price.currency,
                ),
            },
            idempotency_key=f"checkout:{checkout['id']}:failed:{email}",
            lead_id=lead.id,
        )
    session.commit()
    return "checkout payment failed"


def _invoice_subscription(invoice: dict) -> str | None:
    sub = _id(invoice.get("subscription"))
    if not sub:
        parent = invoice.get("parent") or {}
        sub = _id((parent.get("subscription_details") or {}).get("subscription"))
    return sub


def _invoice_payment_intent(invoice: dict) -> str | None:
    pi = _id(invoice.get("payment_intent"))
    if not pi:
        for item in (invoice.get("payments") or {}).get("data") or []:
            pi = _id((item.get("payment") or {}).get("payment_intent"))
            if pi:
                break
    return pi


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
    _queue(
        session,
        to=user.email,
        template="payment_failed",
        context={**common, "audience": "client"},
        idempotency_key=f"invoice:{invoice['id']}:failed:client",
        user_id=user.id,
        lead_id=enrolment.lead_id,
    )
    for email in _coach_emails(session):
        _queue(
            session,
            to=email,
            template="payment_failed",
            context={**common, "audience": "coach"},
            idempotency_key=f"invoice:{invoice['id']}:failed:coach:{email}",
            lead_id=enrolment.lead_id,
        )
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
    from sqlalchemy import or_

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
    for email in _coach_emails(session):
        _queue(
            session,
            to=email,
            template="payment_failed",
            context={
                "audience": "coach",
                "kind": "dispute",
                "amount": amount,
                "client_name": lead.name if lead else "a client",
                "reason": dispute.get("reason", ""),
            },
            idempotency_key=f"dispute:{dispute.get('id')}:{email}",
            lead_id=lead.id if lead else None,
        )
    session.commit()
    return "coach alerted"


# --- refunds, plans and access (the coach) ---------------------------------------------------


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
        total = session.scalar(
            select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
                Refund.payment_id == payment.id
            )
        )
        payment.refunded_cents = int(total)
        payment.status = (
            PaymentStatus.REFUNDED
            if total >= payment.amount_cents
            else PaymentStatus.PARTIALLY_REFUNDED
        )
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


# --- reconciliation -------------------------------------------------------------------------


def reconcile(session: Session, *, now: datetime | None = None, days: int = 3) -> list[str]:
    """Repair what webhooks missed: fulfil paid sessions without an enrolment, and run ledger
    events left unprocessed. Returns lines saying what was fixed."""
    now = now or utcnow()
    fixed: list[str] = []
    stale = now - timedelta(minutes=10)
    for row_id in list(
        session.scalars(
            select(StripeEvent.id).where(
                StripeEvent.processed_at.is_(None), StripeEvent.received_at < stale
            )
        )
    ):
        try:
            process_stripe_event(session, row_id)
            fixed.append(f"processed stuck event #{row_id}")
        except Exception as exc:  # noqa: BLE001 - report and carry on with the rest
            fixed.append(f"event #{row_id} still failing: {exc}")
    if gateway.is_offline():
        return fixed
    since = int((now - timedelta(days=days)).timestamp())
    for checkout in gateway.list_checkout_sessions(created={"gte": since}):
        if not is_paid(checkout) or enrolment_for_session(session, checkout["id"]):
            continue
        try:
            enrolment = fulfil_checkout(session, checkout["id"])
        except BillingError as exc:
            fixed.append(f"skipped {checkout['id']}: {exc}")
            continue
        if enrolment is not None:
            fixed.append(f"enrolled {enrolment.user.email} from paid session {checkout['id']}")
    return fixed


def report_reconciliation(session: Session, fixed: list[str]) -> None:
    """Keep what reconciliation fixed where the coach sees it (the Payments page)."""
    settings = get_settings(session)
    settings.last_reconciled_at = utcnow()
    settings.last_reconcile_report = fixed[:200]
    session.commit()


# --- the coach's numbers --------------------------------------------------------------------


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

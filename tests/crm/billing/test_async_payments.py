"""Delayed-notification payments at Checkout (SEPA Direct Debit, like US bank accounts): the
session completes unpaid, and the bank's answer comes days later as
checkout.session.async_payment_succeeded or _failed. Against localstripe, through the real
webhook endpoint with signed events."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.accounts.models import User
from crm.billing import offers
from crm.billing import stripe_gateway as gateway
from crm.billing.checkout import start_checkout
from crm.billing.errors import OfferUnavailable
from crm.billing.models import (
    AttemptStatus,
    CheckoutAttempt,
    Enrolment,
    Offer,
    OfferStatus,
    Payment,
    StripeEvent,
)
from crm.billing.tasks import process_stripe_event
from crm.leads.models import Lead, LeadEvent, Stage
from extensions import db
from tasks.models import OutboxEmail
from tests.crm.billing.helpers import deliver, event, post_signed
from tests.stripe_server import IBAN_FAILS, IBAN_SUCCEEDS


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _pay_by_bank(db_session, stripe_live, offer_token, iban: str) -> dict:
    """She pays in full by bank debit on (local)Stripe's page; returns the session as Stripe has
    it: complete, unpaid, its PaymentIntent processing."""
    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[0]
    session_id = start_checkout(db_session, token, price.id).rsplit("/", 1)[1]
    stripe_live.complete_checkout(session_id, iban=iban)
    return gateway.retrieve_checkout_session(session_id)


def _timeline(kind: str) -> int:
    return _count(LeadEvent, LeadEvent.kind == kind)


def test_completed_unpaid_bank_debit_is_acknowledged_and_enrols_nobody(
    client, db_session, stripe_live, offer_token
):
    checkout = _pay_by_bank(db_session, stripe_live, offer_token, IBAN_SUCCEEDS)
    assert (checkout["status"], checkout["payment_status"]) == ("complete", "unpaid")
    intent = gateway.retrieve_payment_intent(checkout["payment_intent"])
    assert intent["status"] == "processing"

    payload = event("checkout.session.completed", checkout)
    response = post_signed(client, payload)
    assert response.status_code == 200 and response.json == {"received": True}
    row = db_session.scalar(select(StripeEvent))
    assert process_stripe_event.run(row.id) == "awaiting payment"

    db_session.expire_all()
    row = db_session.get(StripeEvent, row.id)
    assert row.processed_at is not None and row.error == "" and row.attempts == 1
    assert _count(Enrolment) == 0 and _count(Payment) == 0
    # Nothing fulfil_checkout does for a paid session has happened.
    offer = db_session.scalar(select(Offer))
    assert offer.status == OfferStatus.SENT
    assert db_session.scalar(select(CheckoutAttempt)).status == AttemptStatus.PROCESSING
    lead = db_session.get(Lead, offer.lead_id)
    assert lead.stage == Stage.OFFER_SENT and lead.user_id is None
    assert _count(User, User.email == lead.email) == 0
    assert _timeline("enrolled") == 0 and _timeline("payment") == 0
    assert _timeline("payment_processing") == 1
    assert _count(OutboxEmail, OutboxEmail.template == "welcome") == 0


def test_no_second_payment_while_her_bank_debit_clears_and_a_failed_one_frees_the_offer(
    client, db_session, stripe_live, offer_token
):
    """Stripe's advice for delayed payments: hold the order while the bank decides. Paying again
    by card meanwhile would charge her twice and enrol her twice."""
    checkout = _pay_by_bank(db_session, stripe_live, offer_token, IBAN_FAILS)
    deliver(client, event("checkout.session.completed", checkout))
    token = offers.offer_token(db_session.scalar(select(Offer)))
    page = client.get(f"/offer/{token}")
    assert page.status_code == 410
    assert "Your bank payment is on its way" in page.get_data(as_text=True)
    price = db_session.scalar(select(Offer)).programme.prices[0]
    with pytest.raises(OfferUnavailable):
        start_checkout(db_session, token, price.id)
    assert _count(CheckoutAttempt) == 1

    stripe_live.settle_bank_payment(checkout["id"])
    failed = event(
        "checkout.session.async_payment_failed", gateway.retrieve_checkout_session(checkout["id"])
    )
    assert deliver(client, failed) == "checkout payment failed"
    db_session.expire_all()
    assert db_session.scalar(select(CheckoutAttempt)).status == AttemptStatus.FAILED
    assert client.get(f"/offer/{token}").status_code == 200  # she can pay another way
    assert start_checkout(db_session, token, price.id)
    assert _count(CheckoutAttempt) == 2


def test_async_payment_succeeded_enrols_once_however_often_delivered(
    client, db_session, stripe_live, offer_token
):
    checkout = _pay_by_bank(db_session, stripe_live, offer_token, IBAN_SUCCEEDS)
    completed = event("checkout.session.completed", checkout)
    assert deliver(client, completed) == "awaiting payment"

    stripe_live.settle_bank_payment(checkout["id"])
    paid = gateway.retrieve_checkout_session(checkout["id"])
    assert paid["payment_status"] == "paid"
    succeeded = event("checkout.session.async_payment_succeeded", paid)
    assert deliver(client, succeeded) == "enrolled"

    # Stripe redelivers either event, or sends completed again under a new id: nothing changes.
    assert deliver(client, succeeded) == "already processed"
    assert deliver(client, completed) == "already processed"
    again = event("checkout.session.completed", paid, event_id="evt_completed_again")
    assert deliver(client, again) == "enrolled"

    db_session.expire_all()
    assert _count(Enrolment) == 1
    payment = db_session.scalar(select(Payment))
    assert _count(Payment) == 1
    assert (payment.amount_cents, payment.stripe_object_id) == (29900, checkout["payment_intent"])
    enrolment = db_session.scalar(select(Enrolment))
    assert enrolment.stripe_checkout_session_id == checkout["id"]
    assert enrolment.stripe_customer_id == checkout["customer"]
    assert db_session.scalar(select(Offer)).status == OfferStatus.PAID
    assert db_session.get(Lead, enrolment.lead_id).stage == Stage.ENROLLED
    assert _timeline("enrolled") == 1 and _timeline("payment") == 1
    assert _count(OutboxEmail, OutboxEmail.template == "welcome") == 1
    assert _count(StripeEvent, StripeEvent.processed_at.is_(None)) == 0


def test_async_payment_failed_alerts_the_coach_once_and_enrols_nobody(
    client, db_session, stripe_live, offer_token, coach
):
    checkout = _pay_by_bank(db_session, stripe_live, offer_token, IBAN_FAILS)
    assert deliver(client, event("checkout.session.completed", checkout)) == "awaiting payment"

    stripe_live.settle_bank_payment(checkout["id"])
    failed_session = gateway.retrieve_checkout_session(checkout["id"])
    assert (failed_session["status"], failed_session["payment_status"]) == ("complete", "unpaid")
    intent = gateway.retrieve_payment_intent(checkout["payment_intent"])
    assert intent["status"] == "requires_payment_method"
    failed = event("checkout.session.async_payment_failed", failed_session)
    assert deliver(client, failed) == "checkout payment failed"
    assert deliver(client, failed) == "already processed"

    db_session.expire_all()
    assert _count(Enrolment) == 0 and _count(Payment) == 0
    offer = db_session.scalar(select(Offer))
    assert offer.status == OfferStatus.SENT  # still open: she may pay another way
    events = db_session.scalars(
        select(LeadEvent).where(
            LeadEvent.lead_id == offer.lead_id, LeadEvent.kind == "payment_failed"
        )
    ).all()
    assert [e.data for e in events] == [{"checkout_session": checkout["id"]}]
    emails = db_session.scalars(
        select(OutboxEmail).where(OutboxEmail.template == "payment_failed")
    ).all()
    assert [(e.to_email, e.lead_id) for e in emails] == [(coach.email, offer.lead_id)]
    assert "Maria Lopez" in emails[0].text

    # A worker that died after the handler committed, before marking the event processed, runs
    # the handler again on redelivery of the task: the email's idempotency key keeps it to one.
    row = db_session.scalar(select(StripeEvent).where(StripeEvent.type == failed["type"]))
    row.processed_at = None
    db_session.commit()
    assert process_stripe_event.run(row.id) == "checkout payment failed"
    assert _count(OutboxEmail, OutboxEmail.template == "payment_failed") == 1

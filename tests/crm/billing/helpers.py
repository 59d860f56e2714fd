"""Helpers for billing tests: Stripe-shaped events, signed exactly as Stripe signs them."""

from __future__ import annotations

import json
import time

import stripe

from tests.stripe_server import WEBHOOK_SECRET


def event(kind: str, obj: dict, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{kind.replace('.', '_')}_{obj['id']}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def post_signed(client, payload: dict | str, secret: str = WEBHOOK_SECRET, timestamp=None):
    """POST to the real endpoint, signed exactly as Stripe signs (the SDK's own test helper)."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)
    return client.post(
        "/stripe/webhook",
        data=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def deliver(client, payload: dict) -> str:
    """Deliver an event and run its Celery task body in this process (the worker's work)."""
    from sqlalchemy import select

    from crm.billing.models import StripeEvent
    from crm.billing.tasks import process_stripe_event
    from extensions import db

    response = post_signed(client, payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    row_id = db.session.scalar(
        select(StripeEvent.id).where(StripeEvent.stripe_event_id == payload["id"])
    )
    db.session.expire_all()
    return process_stripe_event.run(row_id)


def pay(db_session, stripe_live, offer_token, make_lead, *, instalments=False, iban=None) -> dict:
    """A new lead is sent an offer and pays it on (local)Stripe's hosted page (by bank debit,
    settled, with `iban`); returns the Checkout Session as Stripe has it."""
    from sqlalchemy import func, select

    from crm.billing import stripe_gateway as gateway
    from crm.billing.checkout import start_checkout
    from crm.billing.models import Offer

    n = db_session.scalar(select(func.count()).select_from(Offer))
    lead = make_lead(name="Maria Lopez", email=f"runner{n}@example.com")
    token = offer_token(lead)
    offer = db_session.scalar(select(Offer).where(Offer.lead_id == lead.id))
    price = offer.programme.prices[1 if instalments else 0]
    session_id = start_checkout(db_session, token, price.id).rsplit("/", 1)[1]
    stripe_live.complete_checkout(session_id, **({"iban": iban} if iban else {}))
    if iban:
        stripe_live.settle_bank_payment(session_id)
    return gateway.retrieve_checkout_session(session_id)


def payment_intent_of(checkout: dict) -> str:
    from crm.billing import stripe_gateway as gateway

    if checkout["mode"] == "payment":
        return checkout["payment_intent"]
    return gateway.retrieve_invoice(checkout["invoice"])["payment_intent"]


def charge_of(checkout: dict) -> dict:
    """The charge that paid a checkout (its first invoice, for instalments), from Stripe."""
    from crm.billing import stripe_gateway as gateway

    charge = gateway.retrieve_payment_intent(payment_intent_of(checkout))["latest_charge"]
    return gateway.retrieve_charge(charge if isinstance(charge, str) else charge["id"])


def refund_in_stripe(checkout: dict, cents: int) -> dict:
    """The coach refunds from the Stripe Dashboard (Hero hears of it by webhook, or not)."""
    from crm.billing import stripe_gateway as gateway

    return gateway.create_refund(
        payment_intent_id=payment_intent_of(checkout),
        amount_cents=cents,
        idempotency_key=f"dashboard-{checkout['id']}",
        metadata={},
    )

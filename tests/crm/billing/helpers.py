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

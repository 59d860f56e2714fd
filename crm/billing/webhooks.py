"""POST /stripe/webhook: verify the signature, record the event once, process it in Celery."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, jsonify, request

from crm.billing import stripe_events
from crm.billing import stripe_gateway as gateway
from crm.billing.errors import BillingError
from crm.billing.tasks import process_stripe_event
from extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("stripe_webhooks", __name__)


@bp.post("/stripe/webhook")
def stripe_webhook():
    payload = request.get_data(cache=False)
    try:
        gateway.verify_webhook(payload, request.headers.get("Stripe-Signature"))
        event = json.loads(payload)
        if not isinstance(event, dict):
            raise ValueError("not an event")
        row = stripe_events.record_stripe_event(db.session, event)
    except (gateway.GatewayError, BillingError, ValueError) as exc:
        log.warning("refused a Stripe webhook: %s", exc)
        return jsonify(error="invalid webhook"), 400
    if row is None:
        return jsonify(received=True, duplicate=True)
    _enqueue(row.id)
    return jsonify(received=True)


def _enqueue(event_row_id: int) -> None:
    try:
        process_stripe_event.delay(event_row_id)
    except Exception:  # noqa: BLE001 - the row is recorded; the daily sweep processes it
        log.exception("could not enqueue Stripe event #%s", event_row_id)

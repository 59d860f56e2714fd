"""Every call to Stripe lives here, through the official SDK (`stripe.StripeClient`, `client.v1.*`).

Functions take and return plain dicts (Stripe's JSON shape), so services treat an API response, a
webhook payload and an offline-mode record alike. Every create and refund carries an idempotency
key. With no STRIPE_SECRET_KEY the app runs in offline test mode: `is_offline()` is true, and
any call here raises `GatewayOffline` — the offline flow never comes through this module.
"""

from __future__ import annotations

import time
from typing import Any

import stripe
from flask import current_app

WEBHOOK_TOLERANCE_SECONDS = 300


class GatewayError(Exception):
    """Stripe refused or could not be reached; the message is fit to show the coach."""


class GatewayOffline(GatewayError):
    """No Stripe key is configured (offline test mode)."""


_clients: dict[tuple[str, str], stripe.StripeClient] = {}


def is_offline() -> bool:
    return not current_app.config.get("STRIPE_SECRET_KEY")


def client() -> stripe.StripeClient:
    """A StripeClient for the configured key (and STRIPE_API_BASE, e.g. localstripe in tests)."""
    key = current_app.config.get("STRIPE_SECRET_KEY") or ""
    if not key:
        raise GatewayOffline("Stripe is not configured (offline test mode).")
    if key.startswith("sk_live_") and not current_app.config["BASE_URL"].startswith("https://"):
        raise GatewayError("A live Stripe key needs an https BASE_URL.")
    base = current_app.config.get("STRIPE_API_BASE") or ""
    cached = _clients.get((key, base))
    if cached is None:
        options: dict[str, Any] = {"max_network_retries": 2}
        if base:
            options["base_addresses"] = {"api": base}
        cached = _clients[(key, base)] = stripe.StripeClient(key, **options)
    return cached


def _call(fn, *args, **kwargs) -> dict:
    try:
        result = fn(*args, **kwargs)
    except stripe.StripeError as exc:
        message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
        raise GatewayError(f"Stripe: {message}") from exc
    return result.to_dict() if hasattr(result, "to_dict") else result


def _idem(key: str) -> dict:
    return {"idempotency_key": key}


# --- Checkout -------------------------------------------------------------------------------


def create_checkout_session(params: dict, *, idempotency_key: str) -> dict:
    return _call(
        client().v1.checkout.sessions.create, params=params, options=_idem(idempotency_key)
    )


def retrieve_checkout_session(session_id: str) -> dict:
    return _call(
        client().v1.checkout.sessions.retrieve, session_id, params={"expand": ["line_items"]}
    )


def _list_all(method, params: dict) -> list[dict]:
    """Every object a list endpoint returns for `params`, all pages."""
    params = {**params, "limit": params.get("limit", 100)}
    out: list[dict] = []
    while True:
        page = _call(method, params=params)
        out.extend(page.get("data") or [])
        if not page.get("has_more") or not page.get("data"):
            return out
        params["starting_after"] = page["data"][-1]["id"]


def list_checkout_sessions(**params: Any) -> list[dict]:
    """Sessions matching `params` (e.g. created={"gte": ts}, subscription=...), all pages."""
    return _list_all(client().v1.checkout.sessions.list, params)


# --- Objects we read --------------------------------------------------------------------------


def retrieve_payment_intent(payment_intent_id: str) -> dict:
    return _call(client().v1.payment_intents.retrieve, payment_intent_id)


def retrieve_invoice(invoice_id: str) -> dict:
    return _call(client().v1.invoices.retrieve, invoice_id)


def retrieve_charge(charge_id: str) -> dict:
    return _call(client().v1.charges.retrieve, charge_id)


def retrieve_refund(refund_id: str) -> dict:
    return _call(client().v1.refunds.retrieve, refund_id)


def list_refunds_for_charge(charge_id: str) -> list[dict]:
    page = _call(client().v1.refunds.list, params={"charge": charge_id, "limit": 100})
    return page.get("data") or []


# Reconciliation reads everything created in its window: `created` is Stripe's range filter.


def list_charges(created: dict) -> list[dict]:
    return _list_all(client().v1.charges.list, {"created": created})


def list_refunds(created: dict) -> list[dict]:
    return _list_all(client().v1.refunds.list, {"created": created})


def list_invoices(created: dict, status: str = "paid") -> list[dict]:
    return _list_all(client().v1.invoices.list, {"created": created, "status": status})


def list_disputes(created: dict) -> list[dict]:
    return _list_all(client().v1.disputes.list, {"created": created})


def retrieve_dispute(dispute_id: str) -> dict:
    return _call(client().v1.disputes.retrieve, dispute_id)


# --- Money moves ----------------------------------------------------------------------------


def create_refund(
    *, payment_intent_id: str, amount_cents: int, idempotency_key: str, metadata: dict
) -> dict:
    return _call(
        client().v1.refunds.create,
        params={"payment_intent": payment_intent_id, "amount": amount_cents, "metadata": metadata},
        options=_idem(idempotency_key),
    )


def end_subscription_after_current_period(subscription_id: str) -> dict:
    """The Nth instalment is paid: let the subscription end itself, no further charge."""
    return _call(
        client().v1.subscriptions.update,
        subscription_id,
        params={"cancel_at_period_end": True},
    )


def cancel_subscription(subscription_id: str) -> dict:
    return _call(client().v1.subscriptions.cancel, subscription_id)


# --- Catalogue (stripe-sync) ------------------------------------------------------------------


def create_product(*, name: str, description: str, metadata: dict, idempotency_key: str) -> dict:
    params: dict[str, Any] = {"name": name, "metadata": metadata}
    if description:
        params["description"] = description[:500]
    return _call(client().v1.products.create, params=params, options=_idem(idempotency_key))


def retrieve_product(product_id: str) -> dict:
    return _call(client().v1.products.retrieve, product_id)


def create_price(params: dict, *, idempotency_key: str) -> dict:
    return _call(client().v1.prices.create, params=params, options=_idem(idempotency_key))


def retrieve_price(price_id: str) -> dict:
    return _call(client().v1.prices.retrieve, price_id)


# --- Webhooks -------------------------------------------------------------------------------


def verify_webhook(payload: bytes, signature_header: str | None) -> None:
    """Check the Stripe-Signature header against STRIPE_WEBHOOK_SECRET (raises GatewayError).

    The timestamp must be within WEBHOOK_TOLERANCE_SECONDS of now on both sides: the SDK only
    refuses old ones, and a signature dated in the future would stay replayable until then."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        raise GatewayError("STRIPE_WEBHOOK_SECRET is not configured.")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature_header, secret, WEBHOOK_TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise GatewayError(f"Bad Stripe signature: {exc}") from exc
    # Parsed as the SDK parses it: the first "t=" item.
    items = [part.split("=", 1) for part in (signature_header or "").split(",")]
    try:
        timestamp = int(next(item[1] for item in items if item[0] == "t"))
    except (StopIteration, IndexError, ValueError) as exc:
        raise GatewayError("Bad Stripe signature: no timestamp") from exc
    if timestamp > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise GatewayError("Bad Stripe signature: timestamp in the future")

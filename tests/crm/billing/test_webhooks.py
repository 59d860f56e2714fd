"""POST /stripe/webhook against localstripe: signatures, the ledger, exactly-once fulfilment."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import func, select

from crm.billing import stripe_gateway as gateway
from crm.billing.checkout import fulfil_checkout, start_checkout
from crm.billing.models import Enrolment, Offer, Payment, StripeEvent
from extensions import db
from tasks.models import OutboxEmail
from tests.crm.billing.helpers import deliver, event, post_signed


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _paid_session(db_session, stripe_live, offer_token, *, instalments: bool = False) -> dict:
    """An offer paid on (local)Stripe's hosted page; returns the session as Stripe has it."""
    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[1 if instalments else 0]
    url = start_checkout(db_session, token, price.id)
    session_id = url.rsplit("/", 1)[1]
    stripe_live.complete_checkout(session_id)
    return gateway.retrieve_checkout_session(session_id)


def test_good_signature_is_acknowledged_and_recorded_once(client, webhook_secret, db_session):
    payload = event("customer.created", {"id": "cus_123", "object": "customer"})
    first = post_signed(client, payload)
    again = post_signed(client, payload)
    assert first.status_code == 200 and first.json == {"received": True}
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert _count(StripeEvent) == 1


def test_unknown_event_type_is_acknowledged_and_ignored(client, webhook_secret, db_session):
    outcome = deliver(client, event("customer.created", {"id": "cus_9", "object": "customer"}))
    assert outcome == "ignored"
    assert db_session.scalar(select(StripeEvent)).processed_at is not None


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "changed body", "stale timestamp", "no header", "garbage header"],
)
def test_bad_signature_is_refused_with_400(client, webhook_secret, db_session, tamper):
    payload = event("checkout.session.completed", {"id": "cs_test_x", "object": "checkout.session"})
    body = json.dumps(payload)
    if tamper == "wrong secret":
        response = post_signed(client, body, secret="whsec_someone_else")
    elif tamper == "changed body":
        import stripe

        header = stripe.WebhookSignature.generate_signature_header(body, webhook_secret)
        response = client.post(
            "/stripe/webhook",
            data=body.replace("cs_test_x", "cs_test_y"),
            headers={"Stripe-Signature": header},
        )
    elif tamper == "stale timestamp":
        response = post_signed(client, body, timestamp=int(time.time()) - 301)
    elif tamper == "no header":
        response = client.post("/stripe/webhook", data=body)
    else:
        response = client.post("/stripe/webhook", data=body, headers={"Stripe-Signature": "t=x"})
    assert response.status_code == 400
    assert _count(StripeEvent) == 0


def test_hand_computed_signature_matches_stripe_scheme(client, webhook_secret, db_session):
    import hashlib
    import hmac

    body = json.dumps(event("customer.created", {"id": "cus_1", "object": "customer"}))
    ts = int(time.time())
    mac = hmac.new(webhook_secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
    response = client.post(
        "/stripe/webhook", data=body, headers={"Stripe-Signature": f"t={ts},v1=deadbeef,v1={mac}"}
    )
    assert response.status_code == 200


def test_checkout_completed_enrols_with_payment_from_stripe(
    client, db_session, stripe_live, offer_token
):
    checkout = _paid_session(db_session, stripe_live, offer_token)
    # The event carries a stale copy; fulfilment must read the session from Stripe itself.
    stale = {**checkout, "payment_status": "unpaid", "amount_total": 1}
    assert deliver(client, event("checkout.session.completed", stale)) == "enrolled"
    payment = db_session.scalar(select(Payment))
    assert payment.amount_cents == 29900
    assert payment.stripe_object_id == checkout["payment_intent"]
    enrolment = db_session.scalar(select(Enrolment))
    assert enrolment.stripe_customer_id == checkout["customer"]


def test_unpaid_session_does_not_enrol(client, db_session, stripe_live, offer_token):
    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[0]
    session_id = start_checkout(db_session, token, price.id).rsplit("/", 1)[1]
    checkout = gateway.retrieve_checkout_session(session_id)
    assert deliver(client, event("checkout.session.completed", checkout)) == "awaiting payment"
    assert _count(Enrolment) == 0


def test_same_completed_event_five_times_concurrently_enrols_once(
    app_ctx, client, db_session, stripe_live, offer_token
):
    from crm.billing.tasks import process_stripe_event

    checkout = _paid_session(db_session, stripe_live, offer_token)
    payload = event("checkout.session.completed", checkout)
    db.session.remove()
    barrier = threading.Barrier(5)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def post_and_process() -> None:
        try:
            with app_ctx.test_client() as c:
                barrier.wait(timeout=10)
                statuses.append(post_signed(c, payload).status_code)
            with app_ctx.app_context():
                row_id = db.session.scalar(select(StripeEvent.id))
                barrier.wait(timeout=10)
                # Each worker races to fulfil the same session (the ledger row is not yet marked).
                process_stripe_event.run(row_id) if row_id else None
                barrier.wait(timeout=10)
                fulfil_checkout(db.session, checkout["id"])  # and the success page
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post_and_process) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert statuses == [200] * 5
    assert _count(StripeEvent) == 1
    assert _count(Enrolment) == 1
    assert _count(Payment) == 1
    assert _count(OutboxEmail, OutboxEmail.template == "welcome") == 1
    from crm.accounts.models import User

    assert _count(User, User.email == "maria@example.com") == 1


def test_success_page_reads_stripe_not_the_query_string(
    client, db_session, stripe_live, offer_token
):
    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[0]
    session_id = start_checkout(db_session, token, price.id).rsplit("/", 1)[1]
    unpaid = client.get(f"/checkout/success?session_id={session_id}&payment_status=paid")
    assert unpaid.status_code == 200
    assert "confirming your payment" in unpaid.get_data(as_text=True)
    assert _count(Enrolment) == 0
    stripe_live.complete_checkout(session_id)
    paid = client.get(f"/checkout/success?session_id={session_id}")
    assert "You're in" in paid.get_data(as_text=True)
    assert _count(Enrolment) == 1


def test_checkout_session_create_carries_what_stripe_needs(db_session, stripe_live, offer_token):
    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[1]
    url = start_checkout(db_session, token, price.id)
    assert url.startswith("https://checkout.stripe.com/")
    checkout = gateway.retrieve_checkout_session(url.rsplit("/", 1)[1])
    assert checkout["mode"] == "subscription"
    assert checkout["allow_promotion_codes"] is True
    assert checkout["customer_email"] == "maria@example.com"
    assert checkout["client_reference_id"].isdigit()
    assert checkout["success_url"].endswith(f"session_id={checkout['id']}")
    assert checkout["line_items"]["data"][0]["price"]["recurring"]["interval"] == "month"
    assert checkout["amount_total"] == 11000

"""End to end with a real Stripe-compatible peer: localstripe signs and POSTs its own webhook
deliveries (about a second late) to the app served on a loopback port; the events land in the
StripeEvent ledger through the real signature check and are processed into an enrolment."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from crm.billing import offers
from crm.billing import stripe_gateway as gateway
from crm.billing.checkout import start_checkout
from crm.billing.models import Enrolment, Payment, PlanStatus, StripeEvent
from crm.billing.tasks import process_stripe_event
from crm.leads.models import Lead, Stage
from extensions import db
from tests.peers import wait_until


@pytest.fixture
def served_app(app_ctx):
    """The test app on a free loopback port, so localstripe can reach /stripe/webhook."""
    server = make_server("127.0.0.1", 0, app_ctx, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture
def webhook_to_app(stripe_live, served_app):
    """localstripe's webhook endpoint "hero" → the app; removed afterwards, so a later test's
    events are never delivered to a server that has gone."""
    from localstripe import webhooks

    stripe_live.register_webhook(
        served_app + "/stripe/webhook",
        events=["invoice.payment_succeeded", "customer.created"],
    )
    yield stripe_live
    webhooks._webhooks.pop("hero", None)


def _ledger_row(kind: str, object_id: str) -> StripeEvent | None:
    """This test's event in the ledger. Deliveries that earlier tests scheduled may arrive here
    too (localstripe sends to every endpoint registered when the second is up), so match the
    Stripe object, not just the type."""
    db.session.rollback()  # a fresh snapshot: the row is written by the server's thread
    rows = db.session.scalars(select(StripeEvent).where(StripeEvent.type == kind))
    mine = [r for r in rows if r.payload["data"]["object"]["id"] == object_id]
    assert len(mine) <= 1, f"{kind} for {object_id} recorded {len(mine)} times"
    return mine[0] if mine else None


def test_a_real_signed_delivery_from_localstripe_enrols_the_runner(
    webhook_to_app, programme, make_lead, coach, db_session
):
    lead = make_lead(name="Maria Lopez", email="maria@example.com", stage=Stage.CALL_HELD)
    offer = offers.send_offer(db_session, lead.id, programme.id, actor_id=coach.id)
    instalments = programme.prices[1]
    url = start_checkout(db_session, offers.offer_token(offer), instalments.id)
    session_id = url.rsplit("/", 1)[1]
    assert session_id.startswith("cs_test_")

    # She pays on the hosted page: localstripe creates the customer and the subscription with its
    # first paid invoice, and schedules its own signed webhook deliveries for them.
    webhook_to_app.complete_checkout(session_id)
    checkout = gateway.retrieve_checkout_session(session_id)
    assert checkout["status"] == "complete" and checkout["subscription"]
    # No checkout.session.completed comes from localstripe: the invoice event alone must enrol her.
    assert db_session.scalar(select(Enrolment)) is None

    invoice_row = wait_until(
        lambda: _ledger_row("invoice.payment_succeeded", checkout["invoice"]), timeout=15
    )
    customer_row = wait_until(
        lambda: _ledger_row("customer.created", checkout["customer"]), timeout=15
    )
    assert invoice_row.stripe_event_id.startswith("evt_")
    assert invoice_row.payload["data"]["object"]["subscription"] == checkout["subscription"]
    assert invoice_row.processed_at is None  # acknowledged fast; the work is Celery's

    # The worker's job, run here: the task body the webhook enqueued.
    assert process_stripe_event.run(invoice_row.id) == "instalment recorded"
    assert process_stripe_event.run(customer_row.id) == "ignored"
    assert process_stripe_event.run(invoice_row.id) == "already processed"

    db_session.expire_all()
    for row in (invoice_row, customer_row):
        row = db_session.get(StripeEvent, row.id)
        assert row.processed_at is not None and row.error == "" and row.attempts == 1
    enrolment = db_session.scalar(select(Enrolment))
    assert enrolment.stripe_checkout_session_id == session_id
    assert enrolment.stripe_subscription_id == checkout["subscription"]
    assert enrolment.plan_status == PlanStatus.ACTIVE
    payments = db_session.scalars(select(Payment)).all()
    assert [(p.stripe_object_id, p.amount_cents) for p in payments] == [
        (checkout["invoice"], 11000)
    ]
    assert db_session.get(Lead, lead.id).stage == Stage.ENROLLED

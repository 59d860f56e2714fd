"""Instalments (order of events, grace periods), refunds, reconciliation and stripe-sync,
against localstripe through the real SDK."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from crm.billing import stripe_gateway as gateway
from crm.billing.access import enforce_grace_periods
from crm.billing.checkout import enrolment_for_session, start_checkout
from crm.billing.errors import BillingError
from crm.billing.models import (
    BillingSettings,
    Enrolment,
    EnrolmentStatus,
    Offer,
    Payment,
    PaymentStatus,
    PlanStatus,
    Programme,
    Refund,
)
from crm.billing.refunds import record_refund, refund_payment
from crm.billing.reports import revenue_summary
from crm.time import utcnow
from extensions import db
from tasks.models import OutboxEmail
from tests.crm.billing.helpers import deliver, event


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _pay(db_session, stripe_live, offer_token, lead, *, instalments: bool) -> dict:
    token = offer_token(lead)
    offer = db_session.scalar(select(Offer).where(Offer.lead_id == lead.id))
    price = offer.programme.prices[1 if instalments else 0]
    session_id = start_checkout(db_session, token, price.id).rsplit("/", 1)[1]
    stripe_live.complete_checkout(session_id)
    return gateway.retrieve_checkout_session(session_id)


def _invoice(subscription: str, invoice_id: str, amount: int = 11000) -> dict:
    return {
        "id": invoice_id,
        "object": "invoice",
        "subscription": subscription,
        "amount_paid": amount,
        "amount_due": amount,
        "total": amount,
        "currency": "usd",
        "status": "paid",
        "status_transitions": {"paid_at": int(time.time())},
    }


def _state(enrolment: Enrolment) -> tuple:
    return (
        enrolment.status,
        enrolment.plan_status,
        sorted(
            (p.stripe_object_id.startswith("in_"), p.amount_cents, p.status)
            for p in enrolment.payments
        ),
    )


def test_invoice_events_in_any_order_end_in_the_same_state(
    client, db_session, stripe_live, offer_token, make_lead
):
    a = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=True)
    b = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=True)
    first_a = gateway.retrieve_invoice(a["invoice"])
    first_b = gateway.retrieve_invoice(b["invoice"])
    assert first_a["status"] == "paid"

    deliver(client, event("checkout.session.completed", a))
    deliver(client, event("invoice.paid", first_a))
    deliver(client, event("invoice.paid", _invoice(a["subscription"], "in_second_a")))

    # Reverse order: the second instalment first, before Stripe's checkout event.
    deliver(client, event("invoice.paid", _invoice(b["subscription"], "in_second_b")))
    deliver(client, event("invoice.paid", first_b))
    deliver(client, event("checkout.session.completed", b))

    ea = enrolment_for_session(db_session, a["id"])
    eb = enrolment_for_session(db_session, b["id"])
    assert _state(ea) == _state(eb)
    assert len(ea.payments) == 2 and ea.status == EnrolmentStatus.ACTIVE
    assert _count(Enrolment) == 2


def test_nth_instalment_completes_the_plan_and_ends_the_subscription(
    client, db_session, stripe_live, offer_token, make_lead
):
    paid = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=True)
    deliver(client, event("checkout.session.completed", paid))
    deliver(client, event("invoice.paid", _invoice(paid["subscription"], "in_n2")))
    enrolment = enrolment_for_session(db_session, paid["id"])
    assert enrolment.plan_status == PlanStatus.ACTIVE
    deliver(client, event("invoice.paid", _invoice(paid["subscription"], "in_n3")))
    db_session.expire_all()
    assert enrolment.plan_status == PlanStatus.COMPLETED
    sub = gateway.client().v1.subscriptions.retrieve(paid["subscription"])
    assert sub["cancel_at_period_end"] is True


def test_failed_instalment_keeps_access_through_grace_then_pauses(
    client, db_session, stripe_live, offer_token, make_lead
):
    db_session.add(BillingSettings(grace_days=5))
    db_session.commit()
    paid = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=True)
    deliver(client, event("checkout.session.completed", paid))
    failed = {**_invoice(paid["subscription"], "in_fail2"), "status": "open", "amount_paid": 0}
    deliver(client, event("invoice.payment_failed", failed))
    deliver(client, event("invoice.payment_failed", failed, event_id="evt_retry_failed"))

    enrolment = enrolment_for_session(db_session, paid["id"])
    assert enrolment.status == EnrolmentStatus.PAST_DUE and enrolment.has_access
    assert timedelta(days=4, hours=23) < enrolment.grace_until - utcnow() <= timedelta(days=5)
    failed_emails = list(
        db_session.scalars(
            select(OutboxEmail.to_email).where(OutboxEmail.template == "payment_failed")
        )
    )
    assert (
        sorted(failed_emails) == ["coach@example.com", "maria@example.com"]
        or len(failed_emails) == 2
    )

    assert enforce_grace_periods(db_session, utcnow() + timedelta(days=4)) == 0
    assert enforce_grace_periods(db_session, utcnow() + timedelta(days=6)) == 1
    db_session.expire_all()
    assert enrolment.status == EnrolmentStatus.PAUSED and not enrolment.has_access

    deliver(client, event("invoice.paid", _invoice(paid["subscription"], "in_fail2")))
    db_session.expire_all()
    assert enrolment.status == EnrolmentStatus.ACTIVE and enrolment.grace_until is None
    payment = db_session.scalar(select(Payment).where(Payment.stripe_object_id == "in_fail2"))
    assert payment.status == PaymentStatus.PAID
    # A late failure event for an invoice already paid changes nothing.
    deliver(client, event("invoice.payment_failed", failed, event_id="evt_late_failed"))
    db_session.expire_all()
    assert enrolment.status == EnrolmentStatus.ACTIVE and payment.status == PaymentStatus.PAID


def test_refund_is_recorded_once_whether_api_or_webhook_comes_first(
    client, auth, coach, db_session, stripe_live, offer_token, make_lead
):
    paid = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=False)
    deliver(client, event("checkout.session.completed", paid))
    payment = db_session.scalar(select(Payment))
    auth.login(coach)

    # 1. API response first (the coach's refund form), then Stripe's charge.refunded.
    response = client.post(
        f"/coach/payments/{payment.id}/refund",
        data={
            f"refund{payment.id}-amount": "100.00",
            f"refund{payment.id}-request_key": "formkey12345",
            f"refund{payment.id}-reason": "moved house",
        },
    )
    assert response.status_code == 302
    assert _count(Refund) == 1
    pi = gateway.retrieve_payment_intent(paid["payment_intent"])
    charge = pi["latest_charge"]
    charge = (
        charge
        if isinstance(charge, dict)
        else gateway.client().v1.charges.retrieve(charge).to_dict()
    )
    deliver(client, event("charge.refunded", charge, event_id="evt_refund_1"))
    db_session.expire_all()
    assert _count(Refund) == 1
    assert (payment.refunded_cents, payment.status) == (10000, PaymentStatus.PARTIALLY_REFUNDED)

    # 2. Webhook first (refund of the rest made in Stripe), then the API answer recorded.
    rest = gateway.create_refund(
        payment_intent_id=paid["payment_intent"],
        amount_cents=19900,
        idempotency_key="dashboard-refund",
        metadata={},
    )
    charge = gateway.client().v1.charges.retrieve(charge["id"]).to_dict()
    deliver(client, event("charge.refunded", charge, event_id="evt_refund_2"))
    record_refund(db_session, payment.id, rest["id"], 19900, source="api")
    db_session.expire_all()
    assert _count(Refund) == 2
    assert (payment.refunded_cents, payment.status) == (29900, PaymentStatus.REFUNDED)
    assert payment.refundable_cents == 0


def test_refund_more_than_paid_is_refused(db_session, stripe_live, offer_token, make_lead, client):
    paid = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=False)
    deliver(client, event("checkout.session.completed", paid))
    payment = db_session.scalar(select(Payment))
    import pytest

    with pytest.raises(BillingError):
        refund_payment(db_session, payment.id, 30000, request_key="k" * 10)
    assert _count(Refund) == 0


def test_reconciliation_enrols_a_paid_session_whose_webhook_never_came(
    db_session, stripe_live, offer_token, make_lead
):
    from crm.billing.tasks import reconcile_stripe

    paid = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=False)
    assert _count(Enrolment) == 0
    fixed = reconcile_stripe.run()
    assert any(paid["id"] in line for line in fixed)
    assert _count(Enrolment) == 1 and _count(Payment) == 1
    assert _count(OutboxEmail, OutboxEmail.template == "welcome") == 1
    settings = db_session.scalar(select(BillingSettings))
    assert settings.last_reconcile_report == fixed
    assert reconcile_stripe.run() == []


def test_stripe_sync_creates_then_links_products_and_prices(
    cli_runner, db_session, stripe_live, programme, offer_token
):
    result = cli_runner.invoke(args=["stripe-sync"])
    assert result.exit_code == 0, result.output
    assert result.output.count("created") == 3
    db_session.expire_all()
    programme = db_session.get(Programme, programme.id)
    assert programme.stripe_product_id.startswith("prod_")
    assert all(p.stripe_price_id.startswith("price_") for p in programme.prices)
    again = cli_runner.invoke(args=["stripe-sync"])
    assert again.exit_code == 0 and "created" not in again.output
    price = programme.prices[1]
    remote = gateway.retrieve_price(price.stripe_price_id)
    assert (remote["unit_amount"], remote["recurring"]["interval"]) == (11000, "month")
    token = offer_token()
    url = start_checkout(db_session, token, price.id)
    checkout = gateway.retrieve_checkout_session(url.rsplit("/", 1)[1])
    assert checkout["line_items"]["data"][0]["price"]["id"] == price.stripe_price_id


def test_revenue_summary_counts_net_revenue_plans_and_conversion(
    client, db_session, stripe_live, offer_token, make_lead
):
    one = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=False)
    plan = _pay(db_session, stripe_live, offer_token, make_lead(), instalments=True)
    offer_token(make_lead())  # sent, never paid
    deliver(client, event("checkout.session.completed", one))
    deliver(client, event("checkout.session.completed", plan))
    payment = db_session.scalar(select(Payment).where(Payment.amount_cents == 29900))
    record_refund(db_session, payment.id, "re_manual", 9900, source="api")
    summary = revenue_summary(db_session)
    assert summary["this_month_cents"] == 29900 - 9900 + 11000
    assert (summary["paid_cents"], summary["refunded_cents"]) == (40900, 9900)
    assert summary["active_instalment_plans"] == 1
    assert (summary["offers_sent"], summary["enrolled_from_offers"]) == (3, 2)
    assert summary["by_programme"][0]["net_cents"] == 31000

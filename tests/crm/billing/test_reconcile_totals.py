"""Reconciliation against localstripe: what webhooks missed (a whole checkout, a refund, a
dispute, an instalment) is repaired, reported on the coach's payments page, and afterwards the
page's totals are Stripe's. Plus the payments export and the production start check."""

from __future__ import annotations

import csv
import io
import time

import pytest
from sqlalchemy import func, select

from app import create_app
from crm.billing import stripe_gateway as gateway
from crm.billing.models import Dispute, Enrolment, Offer, Payment, Refund, StripeEvent
from crm.billing.money import format_money
from crm.billing.reports import revenue_summary
from extensions import db
from tests.conftest import make_test_config
from tests.crm.billing.helpers import charge_of, deliver, event, pay, post_signed, refund_in_stripe


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _stripe_totals() -> tuple[int, int]:
    """What Stripe says was paid and refunded: every successful charge of the last day."""
    since = int(time.time()) - 86400
    charges = [c for c in gateway.list_charges(created={"gt": since}) if c["status"] == "succeeded"]
    return (
        sum(int(c["amount"]) for c in charges),
        sum(int(c.get("amount_refunded") or 0) for c in charges),
    )


def test_reconciliation_repairs_what_webhooks_missed_and_the_totals_equal_stripes(
    client, auth, coach, cli_runner, db_session, stripe_live, offer_token, make_lead
):
    # A: paid in full; a refund made in the Dashboard arrives before her checkout's event.
    a = pay(db_session, stripe_live, offer_token, make_lead)
    refund_in_stripe(a, 5000)
    deliver(client, event("charge.refunded", charge_of(a)))
    deliver(client, event("checkout.session.completed", a))
    # B: instalments; only the first invoice's event came; a dispute came with no webhook.
    b = pay(db_session, stripe_live, offer_token, make_lead, instalments=True)
    deliver(client, event("invoice.paid", gateway.retrieve_invoice(b["invoice"])))
    dispute = stripe_live.open_dispute(charge_of(b)["id"])
    # C: paid in full, fully refunded; no webhook at all ever reached Hero.
    c = pay(db_session, stripe_live, offer_token, make_lead)
    refund_c = refund_in_stripe(c, 29900)

    paid, refunded = _stripe_totals()
    assert (paid, refunded) == (29900 + 11000 + 29900, 5000 + 29900)
    before = revenue_summary(db_session)
    assert (before["paid_cents"], before["refunded_cents"]) != (paid, refunded)

    result = cli_runner.invoke(args=["stripe-reconcile", "--days", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(c["id"] in line and "enrolled" in line for line in lines), lines
    assert any(refund_c["id"] in line for line in lines), lines
    assert any(dispute["id"] in line for line in lines), lines

    db_session.expire_all()
    summary = revenue_summary(db_session)
    assert (summary["paid_cents"], summary["refunded_cents"]) == (paid, refunded)
    assert _count(Enrolment) == 3 and _count(Payment) == 3
    assert _count(Refund) == 2 and _count(Dispute) == 1
    assert _count(StripeEvent, StripeEvent.processed_at.is_(None)) == 0

    auth.login(coach)
    page = client.get("/coach/payments").get_data(as_text=True)
    money = '<span class="money">{}</span>'
    assert f"{money.format(format_money(paid))} / {money.format(format_money(refunded))}" in page
    assert refund_c["id"] in page and dispute["id"] not in page.split("open dispute")[0]
    assert "1 open dispute" in page

    # Nothing left to repair: a second run changes nothing and says so.
    again = cli_runner.invoke(args=["stripe-reconcile"])
    assert again.exit_code == 0 and again.output.strip() == "Nothing to fix."
    assert "Hero matched Stripe" in client.get("/coach/payments").get_data(as_text=True)


def test_reconciliation_follows_a_dispute_to_its_decision(
    client, coach, db_session, stripe_live, offer_token, make_lead
):
    from crm.billing.tasks import reconcile_stripe

    checkout = pay(db_session, stripe_live, offer_token, make_lead)
    deliver(client, event("checkout.session.completed", checkout))
    dispute = stripe_live.open_dispute(charge_of(checkout)["id"])
    deliver(client, event("charge.dispute.created", dispute))
    stripe_live.close_dispute(dispute["id"], "won")  # the closing event never came
    fixed = reconcile_stripe.run()
    assert fixed == [f"dispute {dispute['id']}: needs_response → won"]
    db_session.expire_all()
    assert db_session.scalar(select(Dispute)).status == "won"
    assert reconcile_stripe.run() == []


def test_no_webhook_secret_configured_refuses_a_well_formed_event_and_writes_nothing(
    client, db_session, stripe_live, offer_token, make_lead
):
    checkout = pay(db_session, stripe_live, offer_token, make_lead)
    client.application.config["STRIPE_WEBHOOK_SECRET"] = ""
    response = post_signed(client, event("checkout.session.completed", checkout))
    assert response.status_code == 400
    assert _count(StripeEvent) == 0 and _count(Enrolment) == 0 and _count(Payment) == 0


def test_payments_export_defuses_formulas_in_names(
    client, auth, coach, db_session, offer_token, make_lead
):
    lead = make_lead(
        name='=HYPERLINK("http://evil.example/","Click") @me', email="evil@example.com"
    )
    token = offer_token(lead)
    price = db_session.scalar(select(Offer)).programme.prices[0]
    test_page = client.post(f"/offer/{token}/checkout", data={"price_id": price.id}).headers[
        "Location"
    ]
    client.get(client.post(test_page).headers["Location"])  # paid (offline test checkout)
    auth.login(coach)
    response = client.get("/coach/payments.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    client_cell = rows[1][rows[0].index("client")]
    assert client_cell.startswith("'=HYPERLINK(")
    assert all(not cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row)
    assert len(rows) == 2


def test_production_refuses_to_start_without_a_stripe_key(tmp_path):
    config = make_test_config(f"sqlite:///{tmp_path / 'prod.sqlite'}", tmp_path)
    config.update(HERO_ENV="production", BASE_URL="https://hero.example", STRIPE_SECRET_KEY="")
    with pytest.raises(RuntimeError, match="STRIPE_SECRET_KEY"):
        create_app(config)
    config["STRIPE_SECRET_KEY"] = "sk_test_configured"
    assert create_app(config).config["HERO_ENV"] == "production"


def test_a_refund_that_fails_at_stripe_is_taken_off_again_in_any_order(
    client, coach, db_session, stripe_live, offer_token, make_lead
):
    checkout = pay(db_session, stripe_live, offer_token, make_lead)
    deliver(client, event("checkout.session.completed", checkout))

    # In order: recorded, then it fails.
    first = refund_in_stripe(checkout, 10000)
    assert deliver(client, event("refund.created", first)) == "refund recorded"
    payment = db_session.scalar(select(Payment))
    assert (payment.refunded_cents, payment.status.value) == (10000, "partially_refunded")
    failed = event("refund.updated", stripe_live.fail_refund(first["id"]))
    assert deliver(client, failed) == "refund failed: the payment stands"
    db_session.expire_all()
    assert (payment.refunded_cents, payment.status.value) == (0, "paid")

    # Out of order: its failure first, its creation late (Stripe says it failed).
    second = refund_in_stripe(checkout, 2000)
    stripe_live.fail_refund(second["id"])
    assert deliver(client, event("refund.created", second)) == "refund failed: the payment stands"
    assert deliver(client, event("charge.refunded", charge_of(checkout))) == "refunds recorded"
    db_session.expire_all()
    assert (payment.refunded_cents, payment.status.value) == (0, "paid")
    assert _count(Refund) == 0

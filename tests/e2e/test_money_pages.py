"""Issue 13's money pages in a real browser (offline test mode): the set-password step after
payment only in the paying browser, and the coach's Payments page with an event kept for a
payment Hero hasn't recorded, an open dispute and the reconciliation report."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from crm.billing import catalogue, offers
from crm.billing.models import CheckoutAttempt
from crm.billing.reconcile import report_reconciliation
from extensions import db
from tests.crm.billing.helpers import deliver, event
from tests.e2e.helpers import login, no_sideways_scroll
from tests.stripe_server import WEBHOOK_SECRET


def _programme():
    programme = catalogue.save_programme(
        db.session, name="0 to 5K Hero — 12 weeks", description="Your first 5K.", weeks=12
    )
    catalogue.add_price(db.session, programme.id, kind="one_time", amount_cents=29900)
    return programme


def test_the_success_link_in_another_browser_asks_for_the_emailed_link(
    live_server, phone, desktop, shots, coach, make_lead
):
    programme = _programme()
    lead = make_lead(name="Jenna Whitfield", email="jenna@example.com")
    offer = offers.send_offer(db.session, lead.id, programme.id, actor_id=coach.id)
    page = phone
    page.goto(f"{live_server}/offer/{offers.offer_token(offer)}")
    page.get_by_role("button", name="Continue to secure payment").click()
    page.get_by_role("button", name="Pay $299.00 (test)").click()
    page.wait_for_url(re.compile(r"/checkout/success\?session_id=cs_offline_\w+$"))
    expect(page.get_by_label("Choose a password")).to_be_visible()
    success_url = page.url

    stranger = desktop  # another browser with the same URL (history, a shared screen, a log)
    stranger.goto(success_url)
    expect(stranger.get_by_role("heading", name="You're in, Jenna!")).to_be_visible()
    expect(stranger.get_by_label("Choose a password")).to_have_count(0)
    expect(stranger.get_by_text("Open the welcome email")).to_be_visible()
    shots(stranger, "1-success-elsewhere-desktop")
    stranger.set_viewport_size({"width": 375, "height": 812})
    no_sideways_scroll(stranger)
    shots(stranger, "2-success-elsewhere-phone")


def test_payments_page_shows_waiting_events_disputes_and_what_reconciliation_repaired(
    live_server, client, desktop, phone, shots, coach, make_lead, monkeypatch
):
    programme = _programme()
    lead = make_lead(name="Maria Lopez", email="maria@example.com")
    offer = offers.send_offer(db.session, lead.id, programme.id, actor_id=coach.id)
    price = programme.prices[0]
    token = offers.offer_token(offer)
    client.application.config["WTF_CSRF_ENABLED"] = False
    monkeypatch.setitem(client.application.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    test_page = client.post(f"/offer/{token}/checkout", data={"price_id": price.id}).headers[
        "Location"
    ]
    client.get(client.post(test_page).headers["Location"])
    pi = db.session.scalar(select(CheckoutAttempt)).offline_session["payment_intent"]
    dispute = {
        "id": "dp_1",
        "charge": "ch_1",
        "payment_intent": pi,
        "amount": 29900,
        "currency": "usd",
        "reason": "product_not_received",
        "status": "needs_response",
    }
    deliver(client, event("charge.dispute.created", dispute))
    stray = {"id": "ch_2", "payment_intent": "pi_unknown_elsewhere", "refunds": {"data": []}}
    deliver(client, event("charge.refunded", stray))
    report_reconciliation(
        db.session,
        [
            "recorded refund re_3Nx of $50.00 on payment #1",
            "recorded dispute dp_1 (needs_response)",
        ],
    )
    client.application.config["WTF_CSRF_ENABLED"] = True

    for page, width in ((desktop, "desktop"), (phone, "phone")):
        login(page, live_server, coach.email)
        page.goto(live_server + "/coach/payments")
        expect(page.get_by_text("1 open dispute")).to_be_visible()
        expect(page.get_by_text("product not received")).to_be_visible()
        expect(page.get_by_text("A refund for Stripe payment pi_unknown_elsewhere")).to_be_visible()
        expect(page.get_by_text("recorded refund re_3Nx of $50.00 on payment #1")).to_be_visible()
        no_sideways_scroll(page)
        shots(page, f"payments-{width}")

"""Billing fixtures: a programme with both prices, offers, and Stripe-signed webhook delivery."""

from __future__ import annotations

import pytest

from crm.billing import offers
from crm.billing.models import Price, PriceKind, Programme
from tests.stripe_server import WEBHOOK_SECRET


@pytest.fixture
def programme(db_session) -> Programme:
    programme = Programme(name="0 to 5K Hero", description="A personal plan.", weeks=12)
    programme.prices = [
        Price(kind=PriceKind.ONE_TIME, amount_cents=29900, currency="usd"),
        Price(kind=PriceKind.INSTALMENTS, amount_cents=11000, currency="usd", instalments=3),
    ]
    db_session.add(programme)
    db_session.commit()
    return programme


@pytest.fixture
def webhook_secret(app_ctx):
    saved = app_ctx.config.get("STRIPE_WEBHOOK_SECRET")
    app_ctx.config["STRIPE_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    yield WEBHOOK_SECRET
    app_ctx.config["STRIPE_WEBHOOK_SECRET"] = saved


@pytest.fixture
def offer_token(db_session, programme, make_lead, coach):
    """send(lead=None) → the signed token of a fresh offer (through the real service)."""

    def send(lead=None) -> str:
        lead = lead or make_lead(name="Maria Lopez", email="maria@example.com")
        offer = offers.send_offer(db_session, lead.id, programme.id, actor_id=coach.id)
        return offers.offer_token(offer)

    return send

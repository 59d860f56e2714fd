"""What the coach sells: billing settings, programmes, prices and their Stripe twins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from crm.billing import stripe_gateway as gateway
from crm.billing.errors import BillingError
from crm.billing.models import BillingSettings, Price, PriceKind, Programme


def on_sale() -> ColumnElement[bool]:
    """A programme an offer can be for: active, with an active price (the send-offer menu, and
    what its POST accepts)."""
    has_price = select(Price.id).where(Price.programme_id == Programme.id, Price.active).exists()
    return and_(Programme.active, has_price)


def get_settings(session: Session) -> BillingSettings:
    row = session.scalar(select(BillingSettings).order_by(BillingSettings.id).limit(1))
    if row is None:
        row = BillingSettings()
        session.add(row)
        session.flush()
    return row


def save_settings(session: Session, *, grace_days: int, offer_valid_days: int) -> None:
    row = get_settings(session)
    row.grace_days = grace_days
    row.offer_valid_days = offer_valid_days
    session.commit()


def save_programme(
    session: Session,
    *,
    name: str,
    description: str,
    weeks: int,
    active: bool = True,
    programme_id: int | None = None,
) -> Programme:
    """Create or update a programme (commits)."""
    programme = session.get(Programme, programme_id) if programme_id else Programme()
    if programme is None:
        raise BillingError("No such programme.")
    if weeks < 1 or weeks > 104:
        raise BillingError("A programme lasts between 1 and 104 weeks.")
    programme.name = name.strip()
    programme.description = description.strip()
    programme.weeks = weeks
    programme.active = active
    session.add(programme)
    session.commit()
    return programme


def add_price(
    session: Session,
    programme_id: int,
    *,
    kind: str,
    amount_cents: int,
    currency: str = "usd",
    instalments: int = 1,
) -> Price:
    """Add a pay-in-full or an instalment price (commits). Prices are never edited, only retired:
    a Stripe Price is immutable and past payments must keep meaning what they meant."""
    programme = session.get(Programme, programme_id)
    if programme is None:
        raise BillingError("No such programme.")
    kind = PriceKind(kind)
    if amount_cents < 50:
        raise BillingError("Stripe needs at least 0.50 per payment.")
    if kind == PriceKind.INSTALMENTS and not 2 <= instalments <= 24:
        raise BillingError("An instalment plan has 2 to 24 monthly payments.")
    price = Price(
        programme=programme,
        kind=kind,
        amount_cents=amount_cents,
        currency=currency.lower(),
        instalments=instalments if kind == PriceKind.INSTALMENTS else 1,
    )
    session.add(price)
    session.commit()
    return price


def retire_price(session: Session, price_id: int) -> None:
    price = session.get(Price, price_id)
    if price is None:
        raise BillingError("No such price.")
    price.active = False
    session.commit()


def stripe_sync(session: Session) -> list[str]:
    """Create (or check) a Stripe Product for every programme and a Price for every active price.

    Idempotency keys make a re-run after a crash reuse what Stripe already created. Returns lines
    saying what was done. Raises BillingError in offline mode.
    """
    if gateway.is_offline():
        raise BillingError("Stripe is not configured: set STRIPE_SECRET_KEY first.")
    report: list[str] = []
    for programme in session.scalars(select(Programme).order_by(Programme.id)):
        if programme.stripe_product_id:
            gateway.retrieve_product(programme.stripe_product_id)
            report.append(f"{programme.name}: product {programme.stripe_product_id} linked")
        else:
            product = gateway.create_product(
                name=programme.name,
                description=programme.description,
                metadata={"hero_programme_id": str(programme.id)},
                idempotency_key=f"hero-product:{programme.id}",
            )
            programme.stripe_product_id = product["id"]
            session.commit()
            report.append(f"{programme.name}: product {product['id']} created")
        for price in programme.prices:
            if not price.active:
                continue
            if price.stripe_price_id:
                gateway.retrieve_price(price.stripe_price_id)
                report.append(f"  {price.label}: price {price.stripe_price_id} linked")
                continue
            params: dict[str, Any] = {
                "product": programme.stripe_product_id,
                "unit_amount": price.amount_cents,
                "currency": price.currency,
                "metadata": {"hero_price_id": str(price.id)},
            }
            if price.kind == PriceKind.INSTALMENTS:
                params["recurring"] = {"interval": price.interval}
            created = gateway.create_price(params, idempotency_key=f"hero-price:{price.id}")
            price.stripe_price_id = created["id"]
            session.commit()
            report.append(f"  {price.label}: price {created['id']} created")
    return report

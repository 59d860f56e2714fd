"""Offers: a signed link to a programme's prices, emailed to a lead."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.billing.catalogue import get_settings
from crm.billing.common import _abs
from crm.billing.errors import BillingError, OfferUnavailable
from crm.billing.models import AttemptStatus, CheckoutAttempt, Offer, OfferStatus, Programme
from crm.leads.followups import schedule_call_followups
from crm.leads.models import Lead, Stage
from crm.leads.services import change_stage, record_event
from crm.time import utcnow
from tasks.outbox import queue_email


def _offer_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="offer")


def offer_token(offer: Offer) -> str:
    return _offer_serializer().dumps({"o": offer.id, "n": offer.nonce})


def offer_url(offer: Offer) -> str:
    return _abs(f"/offer/{offer_token(offer)}")


def send_offer(
    session: Session, lead_id: int, programme_id: int, *, actor_id: int | None = None
) -> Offer:
    """Create an offer for a lead, move the lead to "offer sent", queue its email (commits)."""
    lead = session.get(Lead, lead_id)
    programme = session.get(Programme, programme_id)
    if lead is None:
        raise BillingError("No such lead.")
    if programme is None or not programme.active or not programme.active_prices:
        raise BillingError("Choose an active programme with at least one price.")
    if lead.stage == Stage.ENROLLED:
        raise BillingError(f"{lead.name} is already enrolled.")
    settings = get_settings(session)
    offer = Offer(
        lead_id=lead.id,
        programme_id=programme.id,
        nonce=secrets.token_hex(16),
        expires_at=utcnow() + timedelta(days=settings.offer_valid_days),
        sent_by_id=actor_id,
    )
    session.add(offer)
    session.flush()
    change_stage(session, lead, Stage.OFFER_SENT, actor_id=actor_id, force=True)
    record_event(
        session,
        lead,
        "offer_sent",
        f"Offer sent: {programme.name}",
        {"offer_id": offer.id, "programme_id": programme.id},
        actor_id,
    )
    queue_email(
        session,
        to=lead.email,
        template="offer",
        context={
            "first_name": lead.first_name,
            "programme_name": programme.name,
            "programme_weeks": programme.weeks,
            "prices": [p.label for p in programme.active_prices],
            "offer_url": offer_url(offer),
            "expires_on": offer.expires_at.strftime("%B %-d, %Y"),
        },
        idempotency_key=f"offer:{offer.id}:email",
        lead_id=lead.id,
        category="transactional",
    )
    # The offer email is the day-0 touch; the nurture follows on days 2 and 5 until she enrols.
    schedule_call_followups(session, lead, offer_url(offer), days=(2, 5))
    session.commit()
    return offer


def load_offer(session: Session, token: str, *, mark_opened: bool = False) -> Offer:
    """The offer behind a signed link; raises OfferUnavailable when it is bad, paid, being paid by
    a bank debit that has not cleared yet, or expired."""
    try:
        data = _offer_serializer().loads(token)
    except BadSignature as exc:
        raise OfferUnavailable("This offer link is not valid.") from exc
    offer = session.get(Offer, data.get("o"))
    if offer is None or offer.nonce != data.get("n"):
        raise OfferUnavailable("This offer link is not valid.")
    if offer.status == OfferStatus.PAID:
        raise OfferUnavailable("This offer has already been paid — you're in!")
    processing = select(CheckoutAttempt.id).where(
        CheckoutAttempt.offer_id == offer.id, CheckoutAttempt.status == AttemptStatus.PROCESSING
    )
    if session.scalar(processing) is not None:
        raise OfferUnavailable(
            "Your bank payment is on its way: banks take a few days to clear it, and we'll "
            "email you as soon as it has. There is nothing more to pay."
        )
    if offer.status == OfferStatus.EXPIRED or offer.expires_at < utcnow():
        if offer.status != OfferStatus.EXPIRED:
            offer.status = OfferStatus.EXPIRED
            session.commit()
        raise OfferUnavailable("This offer has expired. Ask your coach for a new link.")
    if mark_opened and offer.status == OfferStatus.SENT:
        offer.status = OfferStatus.OPENED
        offer.opened_at = utcnow()
        record_event(
            session, offer.lead, "offer_opened", "Offer page opened", {"offer_id": offer.id}
        )
        session.commit()
    return offer

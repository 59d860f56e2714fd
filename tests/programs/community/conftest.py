"""Community fixtures: enrolled clients (real Enrolment rows), photos in a folder or bucket."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
from flask import g
from PIL import Image

from crm.billing.models import (
    CheckoutAttempt,
    Enrolment,
    EnrolmentStatus,
    Offer,
    Price,
    PriceKind,
    Programme,
)
from crm.leads.models import Lead, Stage
from crm.time import utcnow

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _uploads(uploads):
    """Photos go to the test's own folder, or its own S3 bucket in tests marked BOTH_STORAGES."""
    return uploads


@pytest.fixture
def enrol(db_session):
    """Give a user an enrolment (status `active` by default) the way fulfilment would."""

    def _enrol(user, status: EnrolmentStatus = EnrolmentStatus.ACTIVE, consent: bool = True):
        n = next(_seq)
        programme = Programme(name=f"0 to 5K Hero {n}")
        price = Price(programme=programme, kind=PriceKind.ONE_TIME, amount_cents=29900)
        lead = Lead(email=user.email, name=user.first_name or "Runner", stage=Stage.ENROLLED,
                    marketing_consent=consent, user_id=user.id)  # fmt: skip
        db_session.add_all([programme, price, lead])
        db_session.flush()
        offer = Offer(lead_id=lead.id, programme_id=programme.id, nonce=f"nonce{n}",
                      expires_at=utcnow() + timedelta(days=14))  # fmt: skip
        db_session.add(offer)
        db_session.flush()
        attempt = CheckoutAttempt(offer_id=offer.id, price_id=price.id, mode="payment",
                                  stripe_session_id=f"cs_test_{n}")  # fmt: skip
        db_session.add(attempt)
        db_session.flush()
        enrolment = Enrolment(user_id=user.id, lead_id=lead.id, programme_id=programme.id,
                              price_id=price.id, checkout_attempt_id=attempt.id,
                              stripe_checkout_session_id=f"cs_test_{n}", status=status)  # fmt: skip
        db_session.add(enrolment)
        db_session.commit()
        return enrolment

    return _enrol


@pytest.fixture
def client_user(make_user, enrol):
    """A runner with an active enrolment who has chosen her display name and ticked both email
    choices (they start unticked)."""
    from extensions import db
    from programs.community.members import save_settings

    def _make(name: str = "Jo", display: str | None = None, **kw):
        user = make_user(role="runner", first_name=name, **kw)
        enrol(user)
        save_settings(
            db.session,
            user.id,
            display_name=display or f"{name} R.",
            notify_replies=True,
            weekly_digest=True,
        )
        return user

    return _make


@pytest.fixture
def login(auth):
    def _login(user):
        auth.logout()
        auth.login(user)
        g.pop("_login_user", None)

    return _login


@pytest.fixture
def photo_bytes():
    def _make(fmt: str = "JPEG", size=(800, 600)) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", size, (30, 120, 200)).save(out, fmt)
        return out.getvalue()

    return _make

"""Offline test mode (no Stripe key): the whole sale through the very same fulfilment path."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.accounts.models import User
from crm.billing.models import Enrolment, Offer, OfferStatus, Payment, PaymentStatus
from crm.leads.models import Lead, LeadEvent, Stage
from tasks.models import OutboxEmail


def _count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def test_coach_sends_offer_from_lead_and_lead_moves_to_offer_sent(
    client, auth, coach, db_session, programme, make_lead
):
    lead = make_lead(name="Maria Lopez", email="maria@example.com", stage=Stage.CALL_HELD)
    auth.login(coach)
    response = client.post(
        f"/coach/leads/{lead.id}/offer", data={"offer-programme_id": programme.id}
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Lead, lead.id).stage == Stage.OFFER_SENT
    offer = db_session.scalar(select(Offer))
    assert offer.status == OfferStatus.SENT
    email = db_session.scalar(select(OutboxEmail).where(OutboxEmail.template == "offer"))
    assert email.to_email == "maria@example.com"
    assert "/offer/" in email.text
    kinds = set(db_session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead.id)))
    assert {"offer_sent", "stage_changed"} <= kinds


def test_offline_checkout_enrols_once_through_fulfil_path(client, db_session, offer_token):
    token = offer_token()
    page = client.get(f"/offer/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Test mode — no money moves" in html
    assert "$299.00 in full" in html and "3 × $110.00 / month" in html

    one_time = db_session.scalar(select(Offer)).programme.prices[0]
    started = client.post(f"/offer/{token}/checkout", data={"price_id": one_time.id})
    assert started.status_code == 303
    test_page = started.headers["Location"]
    assert test_page.startswith("/checkout/test/cs_offline_")
    assert "no money moves" in client.get(test_page).get_data(as_text=True)

    paid = client.post(test_page)
    assert paid.status_code == 303
    success_url = paid.headers["Location"]
    for _ in range(3):  # a reload of the success page changes nothing
        success = client.get(success_url)
        assert success.status_code == 200
        assert "You're in" in success.get_data(as_text=True)

    assert _count(db_session, Enrolment) == 1
    assert _count(db_session, Payment) == 1
    payment = db_session.scalar(select(Payment))
    assert (payment.amount_cents, payment.status) == (29900, PaymentStatus.PAID)
    user = db_session.scalar(select(User).where(User.email == "maria@example.com"))
    assert user.role.value == "runner" and user.password_hash is None
    lead = db_session.scalar(select(Lead))
    assert lead.stage == Stage.ENROLLED and lead.user_id == user.id
    welcome = list(db_session.scalars(select(OutboxEmail).where(OutboxEmail.template == "welcome")))
    assert len(welcome) == 1
    assert "/portal/intake" in welcome[0].text and "/reset/" in welcome[0].text
    assert client.get(f"/offer/{token}").status_code == 410  # a paid offer is closed


def _pay_offline(client, db_session, offer_token, price_index: int = 1) -> str:
    """She chooses a price and pays on the offline test checkout, in `client`'s browser; returns
    the success URL Stripe would send her back to."""
    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[price_index]
    test_page = client.post(f"/offer/{token}/checkout", data={"price_id": price.id}).headers[
        "Location"
    ]
    return client.post(test_page).headers["Location"]


def test_runner_sets_password_on_success_page_and_lands_on_intake(client, db_session, offer_token):
    success_url = _pay_offline(client, db_session, offer_token)
    html = client.get(success_url).get_data(as_text=True)
    assert "Your password" in html
    assert 'name="token"' not in html and "/reset/" not in html  # no reset link in the page
    session_id = success_url.split("session_id=")[1]
    short = client.post(
        "/checkout/success/password",
        data={"session_id": session_id, "password": "short", "confirm": "short"},
    )
    assert short.status_code == 422
    done = client.post(
        "/checkout/success/password",
        data={
            "session_id": session_id,
            "password": "a long enough password",
            "confirm": "a long enough password",
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == "/portal/intake"
    enrolment = db_session.scalar(select(Enrolment))
    assert enrolment.plan_status.value == "active"
    assert db_session.get(User, enrolment.user_id).password_hash
    # Once: the step is gone, even in her own browser.
    again = client.get(success_url).get_data(as_text=True)
    assert "Your password" not in again


def test_success_url_in_another_browser_asks_for_the_emailed_link(
    app_ctx, client, db_session, offer_token
):
    success_url = _pay_offline(client, db_session, offer_token)
    session_id = success_url.split("session_id=")[1]
    stranger = app_ctx.test_client()  # the URL leaked (history, a shared screen, a log)
    page = stranger.get(success_url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "You're in" in html
    assert "Your password" not in html and "/reset/" not in html
    assert "welcome email" in html and "choose your password" in html
    assert "maria@example.com" not in html  # nor whose email it is
    taken = stranger.post(
        "/checkout/success/password",
        data={
            "session_id": session_id,
            "password": "attacker password",
            "confirm": "attacker password",
        },
    )
    assert taken.status_code == 403
    user = db_session.scalar(select(User).where(User.email == "maria@example.com"))
    assert user.password_hash is None
    # The paying browser still has its step.
    assert "Your password" in client.get(success_url).get_data(as_text=True)


def test_test_checkout_is_unreachable_when_stripe_is_configured(
    app_ctx, client, db_session, offer_token
):
    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[0]
    test_page = client.post(f"/offer/{token}/checkout", data={"price_id": price.id}).headers[
        "Location"
    ]
    app_ctx.config["STRIPE_SECRET_KEY"] = "sk_test_configured"
    try:
        assert client.get(test_page).status_code == 404
        assert client.post(test_page).status_code == 404
        session_id = test_page.rsplit("/", 1)[1]
        assert client.get(f"/checkout/success?session_id={session_id}").status_code == 404
        assert "no money moves" not in client.get("/").get_data(as_text=True)
    finally:
        app_ctx.config["STRIPE_SECRET_KEY"] = ""
    assert _count(db_session, Enrolment) == 0


def test_tampered_or_expired_offer_link_is_refused(client, db_session, offer_token):
    from datetime import timedelta

    from crm.time import utcnow

    token = offer_token()
    assert client.get(f"/offer/{token}x").status_code == 410
    offer = db_session.scalar(select(Offer))
    offer.expires_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    response = client.get(f"/offer/{token}")
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_success_page_with_unknown_session_is_404_and_creates_nothing(client, db_session):
    assert client.get("/checkout/success?session_id=cs_offline_nope").status_code == 404
    assert client.get("/checkout/success").status_code == 404
    assert _count(db_session, Enrolment) == 0


def test_enrolling_cancels_her_queued_sales_emails_and_the_outbox_says_why(
    client, auth, coach, db_session, offer_token, make_lead
):
    from crm.billing import checkout
    from tasks.models import EmailStatus

    lead = make_lead(name="Maria Lopez", email="maria@example.com", marketing_consent=True)
    token = offer_token(lead)
    followups = select(OutboxEmail).where(OutboxEmail.template == "call_followup")
    assert {r.status for r in db_session.scalars(followups)} == {EmailStatus.QUEUED}

    price = db_session.scalar(select(Offer)).programme.prices[0]
    sid = checkout.start_checkout(db_session, token, price.id).rsplit("/", 1)[1]
    checkout.complete_offline_checkout(db_session, sid)
    checkout.fulfil_checkout(db_session, sid)

    db_session.expire_all()
    rows = db_session.scalars(followups).all()
    assert rows and all(r.status == EmailStatus.CANCELLED for r in rows)
    assert all(r.skip_reason == "she enrolled" for r in rows)

    auth.login(coach)
    page = client.get("/coach/outbox").get_data(as_text=True)
    assert page.count("Skipped: she enrolled") == len(rows)
    queued = client.get("/coach/outbox?status=queued").get_data(as_text=True)
    assert "call_followup" not in queued

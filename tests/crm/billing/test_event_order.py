"""Every Stripe event Hero handles counts, whatever order it arrives in: delivered before the
checkout it belongs to (Hero then asks Stripe, or keeps the event until the object exists),
twice, under a new id, concurrently, and across a restart. Against localstripe through the real
SDK and the real signed webhook endpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from crm.billing import stripe_gateway as gateway
from crm.billing.checkout import enrolment_for_session
from crm.billing.models import (
    Dispute,
    Enrolment,
    EnrolmentStatus,
    Offer,
    Payment,
    PaymentStatus,
    PlanStatus,
    Refund,
    StripeEvent,
)
from crm.billing.tasks import process_stripe_event
from crm.leads.models import LeadEvent
from extensions import db
from tasks.models import OutboxEmail
from tests.conftest import XDIST_WORKER
from tests.crm.billing.helpers import (
    charge_of,
    deliver,
    event,
    pay,
    post_signed,
    refund_in_stripe,
)
from tests.peers import Worker, purge_queue
from tests.stripe_server import IBAN_FAILS, IBAN_SUCCEEDS

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _failed_invoice(subscription: str) -> dict:
    return {
        "id": "in_second_failed",
        "object": "invoice",
        "subscription": subscription,
        "amount_paid": 0,
        "amount_due": 11000,
        "total": 11000,
        "currency": "usd",
        "status": "open",
    }


@dataclass
class Case:
    """Stripe's side of a story (`early`: the events that arrive before checkout.session.
    completed) and what Hero's ledger must say at the end."""

    instalments: bool
    early: Callable[[dict, object], list[dict]]
    check: Callable[[dict], None]
    iban: str | None = None


def _checkrefund_in_stripe(cents: int, status: PaymentStatus):
    def check(checkout):
        payment = db.session.scalar(select(Payment))
        assert (payment.refunded_cents, payment.status) == (cents, status)
        assert _count(Refund) == 1

    return check


def _check_dispute(status: str):
    def check(checkout):
        dispute = db.session.scalar(select(Dispute))
        assert _count(Dispute) == 1 and dispute.status == status
        assert dispute.payment.stripe_payment_intent_id or dispute.payment.stripe_object_id
        assert _count(LeadEvent, LeadEvent.kind == "dispute") == (2 if status == "lost" else 1)
        coach_alerts = _count(
            OutboxEmail,
            OutboxEmail.template == "payment_failed",
            OutboxEmail.to_email == "coach@example.com",
        )
        assert coach_alerts == 1

    return check


def _check_past_due(checkout):
    enrolment = enrolment_for_session(db.session, checkout["id"])
    assert enrolment.status == EnrolmentStatus.PAST_DUE and enrolment.grace_until
    statuses = sorted(p.status.value for p in enrolment.payments)
    assert statuses == ["failed", "paid"]


def _check_cancelled(checkout):
    enrolment = enrolment_for_session(db.session, checkout["id"])
    assert enrolment.plan_status == PlanStatus.CANCELLED
    assert _count(LeadEvent, LeadEvent.kind == "plan_ended") == 1


def _check_one_payment(amount: int):
    def check(checkout):
        assert [(p.amount_cents, p.status) for p in db.session.scalars(select(Payment))] == [
            (amount, PaymentStatus.PAID)
        ]

    return check


def _dispute_events(checkout, stripe_live, *, close: str | None = None) -> list[dict]:
    opened = stripe_live.open_dispute(charge_of(checkout)["id"])
    events = [event("charge.dispute.created", opened)]
    if close:
        closed = stripe_live.close_dispute(opened["id"], close)
        # The bank's decision arrives before the opening, too.
        events.insert(0, event("charge.dispute.closed", closed))
    return events


CASES = {
    "charge.refunded": Case(
        False,
        lambda c, s: [refund_in_stripe(c, 5000) and event("charge.refunded", charge_of(c))],
        _checkrefund_in_stripe(5000, PaymentStatus.PARTIALLY_REFUNDED),
    ),
    "refund.created": Case(
        False,
        lambda c, s: [event("refund.created", refund_in_stripe(c, 29900))],
        _checkrefund_in_stripe(29900, PaymentStatus.REFUNDED),
    ),
    "charge.refunded (an instalment)": Case(
        True,
        lambda c, s: [refund_in_stripe(c, 11000) and event("charge.refunded", charge_of(c))],
        _checkrefund_in_stripe(11000, PaymentStatus.REFUNDED),
    ),
    "charge.dispute.created": Case(
        False, lambda c, s: _dispute_events(c, s), _check_dispute("needs_response")
    ),
    "charge.dispute.closed, then created": Case(
        False, lambda c, s: _dispute_events(c, s, close="lost"), _check_dispute("lost")
    ),
    "invoice.paid": Case(
        True,
        lambda c, s: [event("invoice.paid", gateway.retrieve_invoice(c["invoice"]))],
        _check_one_payment(11000),
    ),
    "invoice.payment_failed": Case(
        True,
        lambda c, s: [event("invoice.payment_failed", _failed_invoice(c["subscription"]))],
        _check_past_due,
    ),
    "customer.subscription.deleted": Case(
        True,
        lambda c, s: [
            event("customer.subscription.deleted", gateway.cancel_subscription(c["subscription"]))
        ],
        _check_cancelled,
    ),
    "customer.subscription.updated (cancelled)": Case(
        True,
        lambda c, s: [
            event("customer.subscription.updated", gateway.cancel_subscription(c["subscription"]))
        ],
        _check_cancelled,
    ),
    "checkout.session.async_payment_succeeded": Case(
        False,
        lambda c, s: [event("checkout.session.async_payment_succeeded", c)],
        _check_one_payment(29900),
        iban=IBAN_SUCCEEDS,
    ),
}


def _again(payload: dict) -> dict:
    """The same Stripe object in a new event (Stripe resends under a new id, or a later event
    carries the same state)."""
    return {**payload, "id": payload["id"] + "_again"}


def _all_processed() -> None:
    db.session.expire_all()
    rows = db.session.scalars(select(StripeEvent)).all()
    assert [(r.type, r.waiting_for, r.error) for r in rows if r.processed_at is None] == []


@pytest.mark.parametrize("name", CASES)
def test_an_event_before_its_checkout_counts_once_however_often_delivered(
    name, client, coach, db_session, stripe_live, offer_token, make_lead
):
    case = CASES[name]
    checkout = pay(
        db_session,
        stripe_live,
        offer_token,
        make_lead,
        instalments=case.instalments,
        iban=case.iban,
    )
    early = case.early(checkout, stripe_live)
    assert _count(Enrolment) == 0
    for payload in early:
        outcome = deliver(client, payload)
        assert not outcome.startswith(("waiting", "no ", "ignored")), outcome
        assert deliver(client, payload) == "already processed"
        assert post_signed(client, payload).json["duplicate"] is True
    completed = event(
        "checkout.session.completed", gateway.retrieve_checkout_session(checkout["id"])
    )
    assert deliver(client, completed) == "enrolled"
    db_session.expire_all()
    case.check(checkout)
    for payload in early:  # the same objects again, in new events
        deliver(client, _again(payload))

    db_session.expire_all()
    assert _count(Enrolment) == 1
    case.check(checkout)
    _all_processed()


WAITING = {k: v for k, v in CASES.items() if v.iban is None}


@pytest.mark.parametrize("name", WAITING)
def test_an_event_stripe_cannot_explain_yet_is_kept_and_applied_when_its_checkout_arrives(
    name, app_ctx, client, coach, auth, db_session, stripe_live, offer_token, make_lead
):
    case = WAITING[name]
    checkout = pay(db_session, stripe_live, offer_token, make_lead, instalments=case.instalments)
    early = case.early(checkout, stripe_live)
    app_ctx.config["STRIPE_API_BASE"] = UNREACHABLE  # Stripe is away when they arrive
    try:
        for payload in early:
            assert deliver(client, payload).startswith("waiting for")
            assert deliver(client, payload).startswith("waiting for")  # the worker retries
    finally:
        app_ctx.config["STRIPE_API_BASE"] = stripe_live.url
    db_session.expire_all()
    kept = db_session.scalars(select(StripeEvent)).all()
    assert len(kept) == len(early)
    assert all(r.processed_at is None and r.waiting_for and r.error == "" for r in kept)
    auth.login(coach)
    page = client.get("/coach/payments").get_data(as_text=True)
    assert "kept for a payment Hero hasn't recorded yet" in page
    assert kept[0].waiting_for in page
    assert _count(Payment) == 0 and _count(Refund) == 0 and _count(Dispute) == 0

    completed = event(
        "checkout.session.completed", gateway.retrieve_checkout_session(checkout["id"])
    )
    assert deliver(client, completed) == "enrolled"
    db_session.expire_all()
    case.check(checkout)
    for payload in early:
        deliver(client, _again(payload))

    db_session.expire_all()
    case.check(checkout)
    _all_processed()
    page = client.get("/coach/payments").get_data(as_text=True)
    assert "kept for a payment" not in page


def test_a_refund_before_the_offline_checkout_is_applied_by_the_success_page(
    client, db_session, offer_token, webhook_secret
):
    """No Stripe to ask (offline test mode): the event waits, and the success page's fulfilment
    applies it."""
    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[0]
    test_page = client.post(f"/offer/{token}/checkout", data={"price_id": price.id}).headers[
        "Location"
    ]
    success_url = client.post(test_page).headers["Location"]
    from crm.billing.models import CheckoutAttempt

    pi = db_session.scalar(select(CheckoutAttempt)).offline_session["payment_intent"]
    charge = {
        "id": "ch_offline_1",
        "object": "charge",
        "payment_intent": pi,
        "amount": 29900,
        "refunds": {"data": [{"id": "re_offline_1", "amount": 9900, "status": "succeeded"}]},
    }
    assert deliver(client, event("charge.refunded", charge)) == f"waiting for the payment {pi}"
    assert client.get(success_url).status_code == 200
    db_session.expire_all()
    payment = db_session.scalar(select(Payment))
    assert (payment.refunded_cents, payment.status) == (9900, PaymentStatus.PARTIALLY_REFUNDED)
    _all_processed()


def test_refund_and_checkout_processed_concurrently_never_lose_therefund_in_stripe(
    app_ctx, client, db_session, offer_token, make_lead, webhook_secret
):
    """Two workers: one applies the refund (its payment unknown: it waits), the other fulfils
    the checkout at the same moment. Whichever order they interleave in, the refund is recorded
    exactly once: the waiting row is written before it looks again, the fulfilment's release
    looks after its commit."""
    from crm.billing.checkout import fulfil_checkout
    from crm.billing.models import CheckoutAttempt
    from crm.billing.stripe_events import release_waiting

    rounds = 4
    errors: list[BaseException] = []
    for n in range(rounds):
        lead_token = offer_token(make_lead(email=f"race{n}@example.com", name=f"Race {n}"))
        offer = db_session.scalar(select(Offer).order_by(Offer.id.desc()))
        price = offer.programme.prices[0]
        test_page = client.post(
            f"/offer/{lead_token}/checkout", data={"price_id": price.id}
        ).headers["Location"]
        client.post(test_page)
        attempt = db_session.scalar(select(CheckoutAttempt).order_by(CheckoutAttempt.id.desc()))
        pi, sid = attempt.offline_session["payment_intent"], attempt.stripe_session_id
        charge = {
            "id": f"ch_race_{n}",
            "payment_intent": pi,
            "refunds": {"data": [{"id": f"re_race_{n}", "amount": 100, "status": "succeeded"}]},
        }
        assert post_signed(client, event("charge.refunded", charge)).status_code == 200
        row_id = db_session.scalar(select(StripeEvent.id).order_by(StripeEvent.id.desc()))
        db.session.rollback()  # no transaction held while the workers run
        barrier = threading.Barrier(2)

        def refund_worker(row_id=row_id, barrier=barrier):
            try:
                with app_ctx.app_context():
                    barrier.wait(timeout=10)
                    process_stripe_event.run(row_id)
                    db.session.remove()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        def checkout_worker(sid=sid, barrier=barrier):
            try:
                with app_ctx.app_context():
                    barrier.wait(timeout=10)
                    fulfil_checkout(db.session, sid)
                    release_waiting(db.session)
                    db.session.remove()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=refund_worker), threading.Thread(target=checkout_worker)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
    db_session.expire_all()
    assert _count(Enrolment) == rounds
    assert _count(Refund) == rounds
    assert sorted(p.refunded_cents for p in db_session.scalars(select(Payment))) == [100] * rounds
    _all_processed()


def test_the_same_early_events_delivered_concurrently_count_once(
    app_ctx, client, coach, db_session, stripe_live, offer_token, make_lead
):
    checkout = pay(db_session, stripe_live, offer_token, make_lead)
    refund_in_stripe(checkout, 5000)
    charge = charge_of(checkout)
    dispute = stripe_live.open_dispute(charge["id"], amount=1000)
    payloads = [
        event("charge.refunded", charge),
        event("charge.dispute.created", dispute),
        event("checkout.session.completed", checkout),
    ]
    payloads += [_again(p) for p in payloads]
    db.session.remove()
    barrier = threading.Barrier(len(payloads))
    errors: list[BaseException] = []

    def worker(payload):
        try:
            with app_ctx.test_client() as c:
                barrier.wait(timeout=20)
                assert post_signed(c, payload).status_code == 200
            with app_ctx.app_context():
                row_id = db.session.scalar(
                    select(StripeEvent.id).where(StripeEvent.stripe_event_id == payload["id"])
                )
                process_stripe_event.run(row_id)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    db_session.expire_all()
    assert _count(Enrolment) == 1 and _count(Payment) == 1
    assert _count(Refund) == 1 and _count(Dispute) == 1
    payment = db_session.scalar(select(Payment))
    assert payment.refunded_cents == 5000
    assert _count(OutboxEmail, OutboxEmail.template == "welcome") == 1
    assert _count(LeadEvent, LeadEvent.kind == "dispute") == 1
    _all_processed()


def test_webhook_signed_in_the_future_is_refused(client, webhook_secret, db_session):
    payload = event("customer.created", {"id": "cus_future", "object": "customer"})
    response = post_signed(client, payload, timestamp=int(time.time()) + 301)
    assert response.status_code == 400
    assert _count(StripeEvent) == 0
    near = post_signed(client, payload, timestamp=int(time.time()) + 60)  # clock skew is fine
    assert near.status_code == 200


class BillingWorker(Worker):
    """A real `celery worker` subprocess that talks to localstripe (or to nothing, when
    `stripe_base` says so) and consumes its own queue."""

    def __init__(self, app, smtp, stripe: object, queue: str) -> None:
        super().__init__(app, smtp, queue=queue)
        self.stripe = stripe
        self.stripe_base = stripe.url

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "STRIPE_SECRET_KEY": self.stripe.api_key,
            "STRIPE_WEBHOOK_SECRET": self.stripe.webhook_secret,
            "STRIPE_API_BASE": self.stripe_base,
        }

    def process(self, row_id: int) -> None:
        self.app.extensions["celery"].send_task(
            "crm.billing.process_stripe_event", args=[row_id], queue=self.queue
        )
        self.drain(timeout=60)


def _row_id(event_id: str) -> int:
    return db.session.scalar(select(StripeEvent.id).where(StripeEvent.stripe_event_id == event_id))


def test_a_kept_event_survives_a_worker_restart_and_is_applied_by_the_next_worker(
    app_ctx, client, db_session, stripe_live, smtp_server, offer_token, make_lead
):
    checkout = pay(db_session, stripe_live, offer_token, make_lead)
    refund_in_stripe(checkout, 7500)
    refunded = event("charge.refunded", charge_of(checkout))
    completed = event("checkout.session.completed", checkout)
    queue = f"hero-test-billing-{app_ctx.config['SQLALCHEMY_DATABASE_URI'][:6]}{XDIST_WORKER}"
    purge_queue(app_ctx, queue)
    worker = BillingWorker(app_ctx, smtp_server, stripe_live, queue)
    worker.stripe_base = UNREACHABLE
    worker.start()
    try:
        assert post_signed(client, refunded).status_code == 200
        worker.process(_row_id(refunded["id"]))
        db_session.expire_all()
        row = db_session.get(StripeEvent, _row_id(refunded["id"]))
        assert row.processed_at is None and row.waiting_for == checkout["payment_intent"]

        worker.kill()  # the machine dies; nothing of the event lives in the worker
        worker.stripe_base = stripe_live.url
        worker.start()
        assert post_signed(client, completed).status_code == 200
        worker.process(_row_id(completed["id"]))
    finally:
        worker.stop()
    db_session.expire_all()
    payment = db_session.scalar(select(Payment))
    assert (payment.amount_cents, payment.refunded_cents) == (29900, 7500)
    assert _count(Refund) == 1 and _count(Enrolment) == 1
    _all_processed()


def _offline_paid(client, db_session, offer_token) -> tuple[str, str]:
    """Paid on the offline test checkout, not fulfilled yet: (stripe session id, payment
    intent)."""
    from crm.billing.models import CheckoutAttempt

    token = offer_token()
    price = db_session.scalar(select(Offer)).programme.prices[0]
    test_page = client.post(f"/offer/{token}/checkout", data={"price_id": price.id}).headers[
        "Location"
    ]
    client.post(test_page)
    attempt = db_session.scalar(select(CheckoutAttempt))
    return attempt.stripe_session_id, attempt.offline_session["payment_intent"]


def test_a_checkout_recorded_while_its_refund_looked_for_it_is_not_missed(
    app_ctx, client, db_session, offer_token, webhook_secret, monkeypatch
):
    """The exact interleaving: the refund's handler finds no payment; before its row says it
    waits, another worker fulfils the checkout and looks for waiting events (none yet). The
    refund must still be applied, by the refund's own second look."""
    from crm.billing import stripe_events
    from crm.billing.checkout import fulfil_checkout
    from crm.billing.stripe_events import release_waiting

    sid, pi = _offline_paid(client, db_session, offer_token)
    original = stripe_events._payment_for_charge_or_wait
    raced: list[bool] = []

    def other_worker() -> None:
        with app_ctx.app_context():
            fulfil_checkout(db.session, sid)
            assert release_waiting(db.session) == []  # the refund doesn't say it waits yet
            db.session.remove()

    def racing(session, charge):
        try:
            return original(session, charge)
        except stripe_events.NotYet:
            if not raced:
                raced.append(True)
                thread = threading.Thread(target=other_worker)
                thread.start()
                thread.join(30)
            raise

    monkeypatch.setattr(stripe_events, "_payment_for_charge_or_wait", racing)
    charge = {
        "id": "ch_offline_race",
        "payment_intent": pi,
        "refunds": {"data": [{"id": "re_offline_race", "amount": 2500, "status": "succeeded"}]},
    }
    assert deliver(client, event("charge.refunded", charge)) == "refunds recorded"
    assert raced == [True]
    db_session.expire_all()
    assert db_session.scalar(select(Payment)).refunded_cents == 2500
    _all_processed()


def test_a_dispute_decided_before_it_opened_stays_decided_without_stripe_to_ask(
    client, coach, db_session, offer_token, webhook_secret
):
    sid, pi = _offline_paid(client, db_session, offer_token)
    client.get(f"/checkout/success?session_id={sid}")
    dispute = {
        "id": "dp_offline_1",
        "object": "dispute",
        "charge": "ch_offline_1",
        "payment_intent": pi,
        "amount": 29900,
        "currency": "usd",
        "reason": "fraudulent",
    }
    assert deliver(client, event("charge.dispute.closed", {**dispute, "status": "lost"})) == (
        "dispute lost"
    )
    deliver(client, event("charge.dispute.created", {**dispute, "status": "needs_response"}))
    db_session.expire_all()
    assert db_session.scalar(select(Dispute)).status == "lost"
    assert _count(LeadEvent, LeadEvent.kind == "dispute") == 2


def test_a_refund_of_something_hero_did_not_sell_is_acknowledged_not_kept(
    client, db_session, stripe_live
):
    """Another product sold on the same Stripe account: Stripe names its checkout, which isn't
    one of Hero's, so the event is done (nothing to record, nothing to wait for)."""
    elsewhere = gateway.create_checkout_session(
        {
            "mode": "payment",
            "line_items": [
                {"price_data": {"currency": "usd", "unit_amount": 4500,
                                "product_data": {"name": "Foam roller"}}, "quantity": 1}
            ],
            "success_url": "https://shop.example/thanks",
        },
        idempotency_key="shop-1",
    )  # fmt: skip
    stripe_live.complete_checkout(elsewhere["id"])
    checkout = gateway.retrieve_checkout_session(elsewhere["id"])
    refund_in_stripe(checkout, 4500)
    outcome = deliver(client, event("charge.refunded", charge_of(checkout)))
    assert outcome.startswith("not a Hero payment"), outcome
    _all_processed()
    assert _count(Payment) == 0 and _count(Refund) == 0


def test_a_failed_bank_debit_reported_before_its_checkout_completed_frees_the_offer(
    client, db_session, stripe_live, offer_token, make_lead
):
    from crm.billing import offers
    from crm.billing.models import AttemptStatus, CheckoutAttempt

    checkout = pay(db_session, stripe_live, offer_token, make_lead, iban=IBAN_FAILS)
    assert (checkout["status"], checkout["payment_status"]) == ("complete", "unpaid")
    failed = event("checkout.session.async_payment_failed", checkout)
    completed = event("checkout.session.completed", checkout)
    assert deliver(client, failed) == "checkout payment failed"
    assert deliver(client, completed) == "awaiting payment"
    deliver(client, _again(failed))
    deliver(client, _again(completed))
    db_session.expire_all()
    assert db_session.scalar(select(CheckoutAttempt)).status == AttemptStatus.FAILED
    token = offers.offer_token(db_session.scalar(select(Offer)))
    assert client.get(f"/offer/{token}").status_code == 200  # she can pay another way
    assert _count(Enrolment) == 0 and _count(Payment) == 0
    assert _count(LeadEvent, LeadEvent.kind == "payment_failed") == 1
    _all_processed()

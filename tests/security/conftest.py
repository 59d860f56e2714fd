"""A small world for the security walks: a coach, two runners with plans, logs and calendar
feeds, a lead with a booking, an offer, an outbox email — and a value for every URL parameter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from flask import Flask
from werkzeug.routing import Rule

from crm.billing import offers
from crm.billing.models import Price, PriceKind, Programme
from crm.booking import availability as coach_availability
from crm.booking import emails as booking_emails
from crm.booking import services as booking_services
from programs.calendar import calendar_secret
from programs.coaching.clients import coaching_off_url
from programs.intake import submit_intake
from programs.logs import record_workout
from tasks.outbox import queue_email
from tasks.render import unsubscribe_token
from tests.factories import intake_values

# Runner B's private details: they must never appear in anything runner A is shown.
B_NAME = "Rosalind"
B_NOTE = "rosalind-private-note"

SKIPPED_ENDPOINTS = {"static", "bootstrap.static"}


def intake(**overrides) -> dict:
    weekday = date.today().weekday()
    days = sorted({weekday, (weekday + 2) % 7, (weekday + 4) % 7})  # today is a training day
    mine = {"days": days, "long_run_day": weekday, "equipment": ["none"], "age": 40}
    return intake_values(date.today(), **{**mine, "timezone": "America/New_York", **overrides})


@dataclass
class World:
    coach: object
    runner_a: object
    runner_b: object
    lead_id: int
    booking_id: int
    manage_token: str
    offer_token: str
    unsubscribe_token: str
    coaching_token: str  # runner B's "turn off my check-in emails" link
    calendar_a: str
    calendar_b: str
    log_b: int
    programme_id: int
    price_id: int
    email_id: int
    params: dict = field(default_factory=dict)

    def url_for_rule(self, rule: Rule) -> str:
        """The rule's URL with every parameter filled from this world (runner B's objects)."""
        values = {
            name: self._token_for(rule.endpoint) if name == "token" else self.params.get(name, 1)
            for name in rule.arguments
        }
        built = rule.build(values, append_unknown=False)
        assert built is not None, rule
        return built[1]

    def _token_for(self, endpoint: str) -> str:
        if endpoint.startswith("booking."):
            return self.manage_token
        if endpoint.startswith("billing."):
            return self.offer_token
        if endpoint == "coaching.coaching_off":
            return self.coaching_token
        if endpoint.startswith("outbox."):
            return self.unsubscribe_token
        return "not-a-valid-token"


def walkable_rules(app: Flask) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED_ENDPOINTS),
        key=lambda r: (r.rule, r.endpoint),
    )


def methods_of(rule: Rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


@pytest.fixture
def world(db_session, coach, make_user, make_lead) -> World:
    runner_a = make_user(role="runner", email="annie@example.com", first_name="Annie")
    runner_b = make_user(role="runner", email="rosalind@example.com", first_name=B_NAME)
    submit_intake(db_session, runner_a.id, intake())
    submit_intake(db_session, runner_b.id, intake(pain_area="shin", pain_level=3))
    log_b = record_workout(
        db_session, runner_b.id, date.today(), "done", 5, 2, note=B_NOTE, today=date.today()
    )
    calendar_a = calendar_secret(db_session, runner_a.id)
    calendar_b = calendar_secret(db_session, runner_b.id)

    coach_availability.ensure_default_availability(db_session)
    slot = coach_availability.free_slots(db_session, days=14)[0]
    booking = booking_services.book_call(
        db_session,
        name="Maria Lopez",
        email="maria@example.com",
        slot_start=slot.start,
        timezone="America/New_York",
    )
    lead = make_lead(name="Olga Offer", email="olga@example.com")
    programme = Programme(name="0 to 5K Hero", description="A personal plan.", weeks=12)
    programme.prices = [Price(kind=PriceKind.ONE_TIME, amount_cents=29900, currency="usd")]
    db_session.add(programme)
    db_session.commit()
    offer = offers.send_offer(db_session, lead.id, programme.id, actor_id=coach.id)
    row = queue_email(
        db_session,
        to="olga@example.com",
        template="password_reset",
        context={"first_name": "Olga", "token": "x", "max_age_minutes": 60},
        idempotency_key="security-walk",
        lead_id=lead.id,
    )
    db_session.commit()
    w = World(
        coach=coach,
        runner_a=runner_a,
        runner_b=runner_b,
        lead_id=booking.lead_id,
        booking_id=booking.id,
        manage_token=booking_emails.make_manage_token(booking),
        offer_token=offers.offer_token(offer),
        unsubscribe_token=unsubscribe_token("olga@example.com"),
        coaching_token=coaching_off_url(runner_b.id).rsplit("/", 1)[1],
        calendar_a=calendar_a,
        calendar_b=calendar_b,
        log_b=log_b.id,
        programme_id=programme.id,
        price_id=programme.prices[0].id,
        email_id=row.id if row is not None else 1,
    )
    w.params = {
        "lead_id": w.lead_id,
        "booking_id": w.booking_id,
        "user_id": runner_b.id,
        "programme_id": w.programme_id,
        "price_id": w.price_id,
        "email_id": w.email_id,
        "secret": calendar_b,
        "day": date.today().isoformat(),
        "session_id": "cs_test_security",
    }
    return w

"""Booking fixtures: the coach's default availability and helpers to find free slots."""

from __future__ import annotations

import pytest

from crm.booking import availability as coach_availability
from crm.booking import services


@pytest.fixture
def availability(db_session):
    """Mon–Fri 9:00–12:00 and 13:00–17:00 in Los Angeles, 20-minute calls, 10-minute buffer."""
    coach_availability.ensure_default_availability(db_session)
    return coach_availability.load_rules(db_session)


@pytest.fixture
def free_slot(db_session, availability):
    """A callable giving the n-th free slot from now (seen from the coach's zone, two weeks)."""

    def pick(n: int = 0):
        return coach_availability.free_slots(db_session, days=14)[n]

    return pick


@pytest.fixture
def book(db_session, free_slot, booking_worker):
    """Book a call with sensible defaults, then run what the worker runs once it has committed
    (its emails; `emails=False` leaves them to do); keywords override."""

    def make(*, emails: bool = True, **kw):
        kw.setdefault("name", "Maria Lopez")
        kw.setdefault("email", "maria@example.com")
        kw.setdefault("slot_start", free_slot(kw.pop("slot_index", 0)).start)
        kw.setdefault("timezone", "America/New_York")
        booking = services.book_call(db_session, **kw)
        if emails:
            booking_worker()
        return booking

    return make

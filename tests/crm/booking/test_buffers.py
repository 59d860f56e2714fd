"""The break between calls: a call may start exactly when the previous one's buffer ends, never
inside it, and one booking leaves the slots either side of it bookable."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from crm.booking import availability as coach_availability
from crm.booking import services
from crm.booking.errors import SlotTaken
from crm.time import zone

COACH_TZ = "America/Los_Angeles"
DAY = date(2031, 3, 3)  # a Monday
NOW = datetime(2031, 3, 1, 12, tzinfo=UTC)  # two days before: within notice and horizon


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute), tzinfo=zone(COACH_TZ)).astimezone(UTC)


def set_availability(db_session, windows, *, buffer_minutes: int = 10) -> None:
    coach_availability.save_availability(
        db_session,
        timezone=COACH_TZ,
        call_minutes=20,
        buffer_minutes=buffer_minutes,
        min_notice_hours=12,
        horizon_days=30,
        windows=[(DAY.weekday(), time(*start), time(*end)) for start, end in windows],
    )


def listed(db_session) -> list[datetime]:
    slots = coach_availability.free_slots(db_session, start_day=DAY, days=1, tz=COACH_TZ, now=NOW)
    return [slot.start for slot in slots]


_n = iter(range(1, 10_000))


def book(db_session, start: datetime):
    n = next(_n)
    return services.book_call(
        db_session,
        name=f"Runner {n}",
        email=f"buffer{n}@example.com",
        slot_start=start,
        timezone="America/New_York",
        now=NOW,
    )


def test_the_slot_at_the_previous_calls_end_plus_buffer_books_fine(db_session):
    set_availability(db_session, [((9, 0), (12, 0))])  # 9:00, 9:30, 10:00… (20 + 10 min)
    first = book(db_session, at(9, 0))
    assert first.end_at + timedelta(minutes=10) == at(9, 30)
    assert at(9, 30) in listed(db_session)
    second = book(db_session, at(9, 30))
    assert second.start_at == at(9, 30)


def test_a_start_inside_the_buffer_is_refused(db_session):
    # Two windows put a slot at 9:25, five minutes into the 9:00 call's ten-minute break.
    set_availability(db_session, [((9, 0), (9, 20)), ((9, 25), (10, 0))])
    assert listed(db_session) == [at(9, 0), at(9, 25)]
    book(db_session, at(9, 0))
    assert at(9, 25) not in listed(db_session)
    with pytest.raises(SlotTaken):
        book(db_session, at(9, 25))


def test_the_buffer_also_keeps_a_call_from_ending_into_the_next_ones_break(db_session):
    set_availability(db_session, [((9, 0), (9, 20)), ((9, 25), (10, 0))])
    book(db_session, at(9, 25))
    assert at(9, 0) not in listed(db_session)
    with pytest.raises(SlotTaken):
        book(db_session, at(9, 0))


def test_without_a_buffer_the_same_start_books_fine(db_session):
    set_availability(db_session, [((9, 0), (9, 20)), ((9, 25), (10, 0))], buffer_minutes=0)
    book(db_session, at(9, 0))
    assert at(9, 25) in listed(db_session)
    assert book(db_session, at(9, 25)).start_at == at(9, 25)


def test_after_one_booking_both_neighbouring_slots_are_still_listed(db_session):
    set_availability(db_session, [((9, 0), (12, 0))])
    assert {at(9, 30), at(10, 0), at(10, 30)} <= set(listed(db_session))
    book(db_session, at(10, 0))
    after = listed(db_session)
    assert at(10, 0) not in after
    assert at(9, 30) in after and at(10, 30) in after
    book(db_session, at(9, 30))
    book(db_session, at(10, 30))

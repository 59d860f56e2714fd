"""The slot rules as pure functions: grid, buffers, notice, horizon, days off, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.booking.slots import InvalidSlot, Rules, Window, free_slots, slots_on, validate_slot

LA = ZoneInfo("America/Los_Angeles")


def weekdays(*spans: tuple[time, time], days=range(7)) -> tuple[Window, ...]:
    return tuple(Window(d, start, end) for d in days for start, end in spans)


def rules(**kw) -> Rules:
    kw.setdefault("timezone", "America/Los_Angeles")
    kw.setdefault("windows", weekdays((time(9), time(12)), (time(13), time(17))))
    kw.setdefault("call_minutes", 20)
    kw.setdefault("buffer_minutes", 10)
    kw.setdefault("min_notice_hours", 12)
    kw.setdefault("horizon_days", 30)
    return Rules(**kw)


def la(y, m, d, hh, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LA)


def local_times(slots) -> list[str]:
    return [s.start.astimezone(LA).strftime("%H:%M") for s in slots]


def test_slots_sit_on_a_grid_of_call_plus_buffer_from_each_window_start():
    r = rules(windows=(Window(0, time(9), time(12)), Window(0, time(13, 15), time(14, 30))))
    monday = date(2025, 6, 2)
    assert local_times(slots_on(r, monday)) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30",  # 11:30 + 20 min ends by 12:00
        "13:15", "13:45",  # 14:15 would end after 14:30
    ]  # fmt: skip
    assert all(s.end - s.start == timedelta(minutes=20) for s in slots_on(r, monday))
    assert slots_on(r, date(2025, 6, 3)) == []  # no Tuesday window


def test_slot_times_are_utc_instants_of_the_coachs_wall_clock():
    slot = slots_on(rules(), date(2025, 6, 2))[0]
    assert slot.start == datetime(2025, 6, 2, 16, 0, tzinfo=UTC)  # 9:00 PDT
    assert slot.start.tzinfo == UTC


def test_march_dst_keeps_wall_clock_times_and_loses_no_slot():
    r = rules()
    before, after = date(2025, 3, 7), date(2025, 3, 10)  # Friday PST, Monday PDT (jump on 9 March)
    assert local_times(slots_on(r, before)) == local_times(slots_on(r, after))
    assert len(slots_on(r, after)) == 14
    assert slots_on(r, before)[0].start.hour == 17  # 9:00 PST = 17:00 UTC
    assert slots_on(r, after)[0].start.hour == 16  # 9:00 PDT = 16:00 UTC


def test_november_dst_keeps_wall_clock_times_and_doubles_no_slot():
    r = rules()
    before, after = date(2025, 10, 31), date(2025, 11, 3)  # Friday PDT, Monday PST (2 November)
    assert local_times(slots_on(r, before)) == local_times(slots_on(r, after))
    assert slots_on(r, before)[0].start.hour == 16
    assert slots_on(r, after)[0].start.hour == 17


def test_window_across_the_spring_forward_gap_skips_only_the_missing_hour():
    r = rules(windows=(Window(6, time(1), time(4)),), buffer_minutes=10)  # Sunday 9 March 2025
    shown = local_times(slots_on(r, date(2025, 3, 9)))
    assert shown == ["01:00", "01:30", "03:00", "03:30"]  # 2:00 and 2:30 do not exist that night
    assert len(set(s.start for s in slots_on(r, date(2025, 3, 9)))) == 4


def test_window_across_the_fall_back_hour_gives_each_wall_time_once():
    r = rules(windows=(Window(6, time(0, 30), time(3)),))  # Sunday 2 November 2025
    slots = slots_on(r, date(2025, 11, 2))
    assert local_times(slots) == ["00:30", "01:00", "01:30", "02:00", "02:30"]
    assert len({s.start for s in slots}) == len(slots)
    assert slots == sorted(slots)
    # 1:30 happens twice; the slot is the first one (PDT, UTC-7).
    assert slots[2].start == datetime(2025, 11, 2, 8, 30, tzinfo=UTC)


def test_free_slots_across_the_march_change_week_has_every_weekday():
    r = rules(windows=weekdays((time(9), time(12)), days=range(5)), horizon_days=60)
    now = datetime(2025, 3, 1, tzinfo=UTC)
    found = free_slots(r, now=now, range_start=la(2025, 3, 3, 0), range_end=la(2025, 3, 17, 0))
    by_day: dict[date, list[str]] = {}
    for slot in found:
        by_day.setdefault(slot.start.astimezone(LA).date(), []).append(
            slot.start.astimezone(LA).strftime("%H:%M")
        )
    assert len(by_day) == 10  # two working weeks, the DST Sunday in between
    morning = ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]
    assert all(times == morning for times in by_day.values())


def test_busy_interval_blocks_its_slot_and_neighbours_within_the_buffer():
    r = rules(windows=(Window(0, time(9), time(12)),), buffer_minutes=10, call_minutes=20)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    day_start, day_end = la(2025, 6, 2, 0), la(2025, 6, 3, 0)
    # An off-grid call 9:40–10:00 (e.g. made before the coach changed her settings).
    busy = [(la(2025, 6, 2, 9, 40), la(2025, 6, 2, 10, 0))]
    found = free_slots(r, now=now, range_start=day_start, range_end=day_end, busy=busy)
    # 9:30 ends 9:50 (overlaps); 10:00 starts right at its end (inside the 10-minute buffer).
    assert local_times(found) == ["09:00", "10:30", "11:00", "11:30"]


def test_minimum_notice_hides_slots_too_soon():
    r = rules(min_notice_hours=12)
    now = la(2025, 6, 2, 0)  # midnight Monday: 12 h notice → from noon
    found = free_slots(r, now=now, range_start=la(2025, 6, 2, 0), range_end=la(2025, 6, 3, 0))
    assert local_times(found)[0] == "13:00"


def test_horizon_hides_slots_too_far_ahead():
    r = rules(horizon_days=2, min_notice_hours=0)
    now = la(2025, 6, 2, 10)
    found = free_slots(r, now=now, range_start=now, range_end=now + timedelta(days=10))
    assert found[-1].start <= now + timedelta(days=2)
    assert found[-1].start.astimezone(LA).date() == date(2025, 6, 4)


def test_days_off_have_no_slots():
    r = rules(days_off=frozenset({date(2025, 6, 3)}), min_notice_hours=0)
    now = la(2025, 6, 1, 0)
    found = free_slots(r, now=now, range_start=la(2025, 6, 2, 0), range_end=la(2025, 6, 5, 0))
    days = {s.start.astimezone(LA).date() for s in found}
    assert days == {date(2025, 6, 2), date(2025, 6, 4)}


def test_range_is_read_in_the_viewers_zone():
    r = rules(windows=(Window(0, time(16), time(17)),), min_notice_hours=0)
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2025, 6, 1, tzinfo=UTC)
    # Monday 16:00 in Los Angeles is Tuesday 08:00 in Tokyo.
    found = free_slots(
        r,
        now=now,
        range_start=datetime(2025, 6, 3, tzinfo=tokyo),
        range_end=datetime(2025, 6, 4, tzinfo=tokyo),
    )
    shown = [s.start.astimezone(tokyo).strftime("%a %H:%M") for s in found]
    assert shown == ["Tue 08:00", "Tue 08:30"]


NOW = la(2025, 6, 2, 0)  # Monday midnight


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (la(2025, 6, 1, 9), "past"),
        (la(2025, 6, 2, 9), "notice"),
        (la(2025, 7, 14, 9), "horizon"),
        (la(2025, 6, 3, 9, 10), "off_grid"),
        (la(2025, 6, 3, 12, 30), "outside"),
        (la(2025, 6, 3, 7), "outside"),
        (la(2025, 6, 4, 9), "day_off"),
        (datetime(2025, 6, 3, 9), "naive"),
    ],
)
def test_validate_slot_says_why_a_time_cannot_be_booked(start, reason):
    r = rules(days_off=frozenset({date(2025, 6, 4)}))
    with pytest.raises(InvalidSlot) as caught:
        validate_slot(r, start, now=NOW)
    assert caught.value.reason == reason
    assert caught.value.message


def test_validate_slot_accepts_a_grid_slot_given_in_any_offset():
    r = rules()
    slot = validate_slot(r, datetime.fromisoformat("2025-06-03T18:30:00+02:00"), now=NOW)
    assert slot.start.astimezone(LA) == la(2025, 6, 3, 9, 30)
    assert slot.start.tzinfo == UTC


def test_validate_slot_refuses_the_second_occurrence_of_an_ambiguous_time():
    r = rules(windows=(Window(6, time(0, 30), time(3)),), min_notice_hours=0)
    now = datetime(2025, 11, 1, tzinfo=UTC)
    first = datetime(2025, 11, 2, 1, 30, tzinfo=LA)  # PDT
    second = datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=LA)  # PST, an hour later
    assert validate_slot(r, first, now=now).start == first.astimezone(UTC)
    with pytest.raises(InvalidSlot) as caught:
        validate_slot(r, second, now=now)
    assert caught.value.reason == "off_grid"


@pytest.mark.parametrize(
    "tz", ["America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "America/Santiago"]
)
def test_every_slot_of_a_year_is_its_wall_clock_time_in_the_coachs_zone(tz):
    from crm.booking.slots import _local

    zone_info = ZoneInfo(tz)
    all_day = rules(timezone=tz, windows=weekdays((time(0), time(23, 59))), buffer_minutes=0)
    day = date(2025, 1, 1)
    while day.year == 2025:
        walls = [time(h, m) for h in range(24) for m in (0, 20, 40) if (h, m) <= (23, 39)]
        instants = sorted({_local(day, wall, zone_info) for wall in walls} - {None})
        assert [slot.start for slot in slots_on(all_day, day)] == instants
        day += timedelta(days=1)


def test_busy_intervals_block_exactly_the_slots_they_reach_within_the_buffer():
    import random

    chance = random.Random(7)
    now = la(2025, 3, 1, 0)
    r = rules(buffer_minutes=15, call_minutes=20, min_notice_hours=0, horizon_days=20)
    start = now.astimezone(UTC)
    busy = []
    for _ in range(300):
        begin = start + timedelta(minutes=chance.randrange(0, 20 * 24 * 60))
        busy.append((begin, begin + timedelta(minutes=chance.choice((10, 20, 45, 240)))))
    end = start + timedelta(days=20)
    everything = free_slots(r, now=now, range_start=start, range_end=end)
    expected = [
        slot
        for slot in everything
        if not any(slot.start < e + timedelta(minutes=15) and b < slot.end + timedelta(minutes=15)
                   for b, e in busy)
    ]  # fmt: skip
    assert free_slots(r, now=now, range_start=start, range_end=end, busy=busy) == expected
    assert len(expected) < len(everything)

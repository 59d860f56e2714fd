"""Free-call slots as pure functions: no Flask, no database.

The coach sets weekly windows in her own time zone; a slot is a wall-clock time in that zone on a
grid of (call length + buffer) from each window's start. Wall-clock times are turned into instants
day by day, so a 9:00 window stays at 9:00 on both sides of a DST change. A wall-clock time that
does not exist (the spring-forward gap) gives no slot; one that happens twice (the fall-back
hour) gives one slot, at its first occurrence.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Window:
    """Calls may start from `start` and must end by `end`, every `weekday` (0 = Monday)."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class Rules:
    """Everything that decides which slots exist."""

    timezone: str
    windows: tuple[Window, ...]
    days_off: frozenset[date] = frozenset()
    call_minutes: int = 20
    buffer_minutes: int = 10
    min_notice_hours: int = 12
    horizon_days: int = 30
    # Whether the coach has a calendar feed whose busy times count too, as load_rules read it
    # with the rest (None: not read; the feed is then looked up where it is needed).
    calendar_feed: bool | None = None
    # Not a slot rule: how the call happens, which a booking reads with them (crm.booking.calls).
    call_kind: str = "video"
    video_link: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def call(self) -> timedelta:
        return timedelta(minutes=self.call_minutes)

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.call_minutes + self.buffer_minutes)


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime = field(compare=False)

    def in_zone(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return self.start.astimezone(tz), self.end.astimezone(tz)


class InvalidSlot(ValueError):
    """A start time that cannot be booked; `reason` is a stable code, `message` fit to show."""

    REASONS = ("naive", "past", "notice", "horizon", "day_off", "outside", "off_grid")

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _local(day: date, wall: time, tz: ZoneInfo) -> datetime | None:
    """The instant of a wall-clock time on a day in `tz`, or None if that time does not exist."""
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: the first of two ambiguous times
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None  # skipped by a spring-forward jump
    return utc


def _fixed_offset(day: date, tz: ZoneInfo) -> timedelta | None:
    """The zone's UTC offset all through `day`, or None when it changes that day (DST)."""
    offset = datetime.combine(day, time(), tzinfo=tz).utcoffset()
    after = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).utcoffset()
    return offset if offset == after else None


def slots_on(rules: Rules, day: date) -> list[Slot]:
    """Every grid slot on a coach-local day, ignoring notice, horizon and bookings."""
    if day in rules.days_off:
        return []
    tz = rules.tz
    call, step = rules.call, rules.step
    # On the ~363 days a year without a clock change, wall time minus one offset is the instant:
    # no zone lookup per slot. The other days go slot by slot (gaps and repeated hours).
    offset = _fixed_offset(day, tz)
    found: set[Slot] = set()
    for window in rules.windows:
        if window.weekday != day.weekday():
            continue
        wall = datetime.combine(day, window.start)
        last_start = datetime.combine(day, window.end) - call
        while wall <= last_start:
            if offset is not None:
                start = (wall - offset).replace(tzinfo=UTC)
            else:
                start = _local(day, wall.time(), tz)
            if start is not None:
                found.add(Slot(start, start + call))
            wall += step
    return sorted(found)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


class _Busy:
    """Busy (start, end) intervals sorted by start, so a slot is checked against the few that
    can reach it (a bisection) rather than against every booking of the range."""

    def __init__(self, busy: Iterable[tuple[datetime, datetime]], buffer: timedelta) -> None:
        self.intervals = sorted(busy)
        self.starts = [start for start, _ in self.intervals]
        self.longest = max((end - start for start, end in self.intervals), default=timedelta())
        self.buffer = buffer

    def clashes(self, slot: Slot) -> bool:
        """Whether the slot overlaps a busy interval, or comes within `buffer` of one."""
        buffer = self.buffer
        # An interval starting this early ends (at most `longest` later) clear of the slot.
        low = bisect_right(self.starts, slot.start - buffer - self.longest)
        high = bisect_left(self.starts, slot.end + buffer)
        return any(slot.start < end + buffer for _, end in self.intervals[low:high])


def bookable_from(rules: Rules, now: datetime) -> datetime:
    return now + timedelta(hours=rules.min_notice_hours)


def bookable_until(rules: Rules, now: datetime) -> datetime:
    return now + timedelta(days=rules.horizon_days)


def free_slots(
    rules: Rules,
    *,
    now: datetime,
    range_start: datetime,
    range_end: datetime,
    busy: Iterable[tuple[datetime, datetime]] = (),
) -> list[Slot]:
    """Bookable slots starting in [range_start, range_end): after the minimum notice, within the
    horizon, on no day off, and clear of every busy (start, end) interval by the buffer."""
    low = max(range_start, bookable_from(rules, now))
    high = min(range_end, bookable_until(rules, now) + timedelta(microseconds=1))
    if low >= high:
        return []
    tz = rules.tz
    taken = _Busy(busy, timedelta(minutes=rules.buffer_minutes))
    result = []
    # One day either side: a coach-local day can straddle the edges of a range in another zone.
    for day in _days(low.astimezone(tz).date() - timedelta(days=1), high.astimezone(tz).date()):
        for slot in slots_on(rules, day):
            if low <= slot.start < high and not taken.clashes(slot):
                result.append(slot)
    return result


def _grid_slot(rules: Rules, day: date, start: datetime) -> Slot | None:
    """The slot of coach-local `day` starting at `start` (UTC), or None: what looking for it in
    `slots_on(rules, day)` finds, without building every slot of the day (a booking checks one)."""
    offset = _fixed_offset(day, rules.tz)
    if offset is None or day in rules.days_off:  # a clock change that day: slot by slot
        return next((s for s in slots_on(rules, day) if s.start == start), None)
    wall = start.replace(tzinfo=None) + offset
    call, step = rules.call, rules.step
    for window in rules.windows:
        first = datetime.combine(day, window.start)
        if (
            window.weekday == day.weekday()
            and first <= wall <= datetime.combine(day, window.end) - call
            and (wall - first) % step == timedelta()
        ):
            return Slot(start, start + call)
    return None


def validate_slot(rules: Rules, start: datetime, *, now: datetime) -> Slot:
    """The slot starting at `start`, or InvalidSlot saying why it cannot be booked.

    Checks the rules only; whether someone else holds the slot is the booking service's job.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise InvalidSlot("naive", "Give the time with its time zone offset.")
    start = start.astimezone(UTC)
    if start <= now:
        raise InvalidSlot("past", "That time has already passed. Please pick another.")
    if start < bookable_from(rules, now):
        raise InvalidSlot(
            "notice",
            f"Calls need booking at least {rules.min_notice_hours} hours ahead. "
            "Please pick a later time.",
        )
    if start > bookable_until(rules, now):
        raise InvalidSlot(
            "horizon",
            f"Calls can be booked up to {rules.horizon_days} days ahead. "
            "Please pick an earlier time.",
        )
    tz = rules.tz
    local = start.astimezone(tz)
    day = local.date()
    if day in rules.days_off:
        raise InvalidSlot("day_off", "The coach is away that day. Please pick another day.")
    slot = _grid_slot(rules, day, start)
    if slot is not None:
        return slot
    wall = local.time().replace(tzinfo=None)
    for window in rules.windows:
        if window.weekday == day.weekday() and window.start <= wall < window.end:
            raise InvalidSlot(
                "off_grid", "Calls start at set times. Please pick one of the times shown."
            )
    raise InvalidSlot(
        "outside", "The coach isn't taking calls at that time. Please pick a time shown."
    )

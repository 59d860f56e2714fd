"""The coach's availability: her settings, weekly windows and days off, and the free slots
they leave once the booked calls (with their buffers) are taken out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app, g, has_app_context
from sqlalchemy import Date, Integer, Time, bindparam, delete, func, null, select, true
from sqlalchemy.orm import Session

from crm.booking import busy_feed
from crm.booking import slots as slot_rules
from crm.booking.errors import AvailabilityError, SlotTaken
from crm.booking.models import AvailabilityWindow, Booking, CoachSettings, DayOff
from crm.booking.slots import Rules, Slot, Window
from crm.forms import normalise_email
from crm.leads.services import LEAD_ID_BY_EMAIL
from crm.time import is_valid_timezone, utcnow, zone

# Sane bounds for the coach's settings.
SETTING_BOUNDS = {
    "call_minutes": (10, 120),
    "buffer_minutes": (0, 120),
    "min_notice_hours": (0, 24 * 14),
    "horizon_days": (1, 365),
}


def coach_settings(session: Session) -> CoachSettings:
    """The settings row; an unsaved default one (coach's configured zone) when there is none yet.

    The row is read once per app context (a request, a task) while it stays in `session`: a page
    asks for the zone and the call kind, and each ask would otherwise cost a query."""
    cached = g.get("_coach_settings") if has_app_context() else None
    if cached is not None and cached in session:
        return cached
    settings = session.scalar(select(CoachSettings).order_by(CoachSettings.id).limit(1))
    if settings is not None and has_app_context():
        g._coach_settings = settings
    if settings is None:
        settings = CoachSettings(
            timezone=current_app.config.get("COACH_TIMEZONE", "America/Los_Angeles"),
            call_minutes=20,
            buffer_minutes=10,
            min_notice_hours=12,
            horizon_days=30,
            call_kind="video",
            video_link="",
        )
    return settings


def load_rules(session: Session) -> Rules:
    """The rules of the coach's settings, her weekly windows and her days off, and whether she
    has a calendar feed: one Core statement for all four (every booking and every slot list reads
    them; the ORM's settings object would cost more than the statement)."""
    rows = session.connection().execute(_SETTINGS_WINDOWS_AND_DAYS_OFF).all()
    if not rows:  # no settings saved yet: the defaults, with whatever windows there are
        return _rules(coach_settings(session), session.execute(_WINDOWS_AND_DAYS_OFF).all())
    windows = [row[-4:] for row in rows if row.weekday is not None or row.day is not None]
    return _rules(rows[0], windows, calendar_feed=bool(rows[0].feed))


def _rules(settings, rows, calendar_feed: bool | None = None) -> Rules:
    """Rules from the settings (a CoachSettings, or a row with its columns) and the windows
    and days off as (weekday, start, end, day) rows."""
    return Rules(
        timezone=settings.timezone,
        windows=tuple(Window(w, start, end) for w, start, end, day in rows if day is None),
        days_off=frozenset(day for *_, day in rows if day is not None),
        call_minutes=settings.call_minutes,
        buffer_minutes=settings.buffer_minutes,
        min_notice_hours=settings.min_notice_hours,
        horizon_days=settings.horizon_days,
        calendar_feed=calendar_feed,
        call_kind=settings.call_kind,
        video_link=settings.video_link or "",
    )


# Built once per process (they run on every booking and slot list): the weekly windows and the
# days off as one list (a day off has no weekday), and the same beside the settings' one row and
# whether there is a calendar feed.
_WINDOWS_AND_DAYS_OFF = (
    select(
        AvailabilityWindow.weekday,
        AvailabilityWindow.start_time,
        AvailabilityWindow.end_time,
        null().cast(Date).label("day"),
    )
    .union_all(select(null().cast(Integer), null().cast(Time), null().cast(Time), DayOff.day))
    .order_by("weekday", "start_time")
)
_both = _WINDOWS_AND_DAYS_OFF.order_by(None).subquery()
_SETTINGS_WINDOWS_AND_DAYS_OFF = (
    select(
        CoachSettings.timezone,
        CoachSettings.call_minutes,
        CoachSettings.buffer_minutes,
        CoachSettings.min_notice_hours,
        CoachSettings.horizon_days,
        CoachSettings.call_kind,
        CoachSettings.video_link,
        busy_feed.FEED_EXISTS.label("feed"),  # whether she has a calendar feed
        _both.c.weekday,
        _both.c.start_time,
        _both.c.end_time,
        _both.c.day,
    )
    .outerjoin(_both, true())
    .where(CoachSettings.id == select(func.min(CoachSettings.id)).scalar_subquery())
    .order_by(_both.c.weekday, _both.c.start_time)
)


def _busy(
    session: Session, start: datetime, end: datetime, *, feed: bool = True
) -> list[tuple[datetime, datetime]]:
    """Intervals held by bookings that still have their slot, and by the coach's own calendar
    (its last good copy; `feed=False`: the caller knows she has none), near [start, end)."""
    margin = timedelta(hours=4)  # wide enough for any buffer/call length the bounds allow
    rows = session.execute(
        select(Booking.start_at, Booking.end_at).where(
            Booking.slot_start.is_not(None),
            Booking.start_at < end + margin,
            Booking.end_at > start - margin,
        )
    )
    booked = [(s, e) for s, e in rows]
    return booked + busy_feed.feed_busy(session, start, end) if feed else booked


def free_slots(
    session: Session,
    *,
    start_day: date | None = None,
    days: int = 7,
    tz: str | None = None,
    now: datetime | None = None,
    rules: Rules | None = None,
) -> list[Slot]:
    """Free slots from the start of `start_day` for `days` days, both read in zone `tz`
    (default: the coach's zone; `start_day` default: today there). Raises ValueError for an
    unknown zone. `rules`: the caller's `load_rules` of this request, else loaded here."""
    now = now or utcnow()
    rules = rules or load_rules(session)
    viewer = zone(tz or rules.timezone)
    start_day = start_day or now.astimezone(viewer).date()
    range_start = datetime.combine(start_day, time(), tzinfo=viewer).astimezone(UTC)
    range_end = datetime.combine(
        start_day + timedelta(days=days), time(), tzinfo=viewer
    ).astimezone(UTC)
    return slot_rules.free_slots(
        rules,
        now=now,
        range_start=range_start,
        range_end=range_end,
        busy=_busy(session, range_start, range_end, feed=rules.calendar_feed is not False),
    )


def _check_free(
    session: Session, rules: Rules, slot: Slot, *, feed: bool = True, lead_email: str = ""
) -> int | None:
    """Raise SlotTaken when a booking that holds its slot, or the coach's own calendar (`feed`),
    comes within her buffer of `slot`. The bookings are asked for the one that clashes, if any
    (a busy day has dozens near it). With `lead_email`: the id of the lead with that address, if
    any, asked in the same statement (a new booking's two look-ups in one round trip)."""
    buffer = timedelta(minutes=rules.buffer_minutes)
    start, end = slot.start - buffer, slot.end + buffer
    clash, lead_id = (
        session.connection()
        .execute(
            _CLASH_AND_LEAD, {"start": start, "end": end, "email": normalise_email(lead_email)}
        )
        .one()
    )
    if clash is not None or (feed and busy_feed.feed_busy(session, start, end)):
        raise SlotTaken()
    return lead_id


_CLASH_AND_LEAD = select(
    select(Booking.id)
    .where(
        Booking.slot_start.is_not(None),
        Booking.start_at < bindparam("end", type_=Booking.start_at.type),
        Booking.end_at > bindparam("start", type_=Booking.end_at.type),
    )
    .limit(1)
    .scalar_subquery(),
    LEAD_ID_BY_EMAIL.scalar_subquery(),  # no lead has the address "" (no email is empty)
)


@dataclass
class Availability:
    settings: CoachSettings
    windows: list[AvailabilityWindow]
    days_off: list[DayOff]


def get_availability(session: Session) -> Availability:
    return Availability(
        settings=coach_settings(session),
        windows=list(
            session.scalars(
                select(AvailabilityWindow).order_by(
                    AvailabilityWindow.weekday, AvailabilityWindow.start_time
                )
            )
        ),
        days_off=list(session.scalars(select(DayOff).order_by(DayOff.day))),
    )


def validate_windows(windows: list[tuple[int, time, time]], call_minutes: int) -> dict[str, str]:
    """Errors keyed "windows-<index>" for windows that end before they start, are shorter than
    one call, or overlap another window on the same day."""
    errors: dict[str, str] = {}
    call = timedelta(minutes=call_minutes)
    for i, (weekday, start, end) in enumerate(windows):
        if not 0 <= weekday <= 6:
            errors[f"windows-{i}"] = "Pick a day of the week."
        elif end <= start:
            errors[f"windows-{i}"] = "The end must be after the start."
        elif datetime.combine(date.min, end) - datetime.combine(date.min, start) < call:
            errors[f"windows-{i}"] = f"A window must fit at least one {call_minutes}-minute call."
    for i, (weekday, start, end) in enumerate(windows):
        for j, (other_day, other_start, other_end) in enumerate(windows):
            if i < j and weekday == other_day and start < other_end and other_start < end:
                errors.setdefault(
                    f"windows-{j}",
                    f"Overlaps another {slot_rules.WEEKDAYS[weekday]} window.",
                )
    return errors


def save_availability(
    session: Session,
    *,
    timezone: str,
    call_minutes: int,
    buffer_minutes: int,
    min_notice_hours: int,
    horizon_days: int,
    windows: list[tuple[int, time, time]],
) -> CoachSettings:
    """Replace the coach's weekly windows and settings (existing bookings stay). Commits.
    Raises AvailabilityError with a message per field."""
    values = {
        "call_minutes": call_minutes,
        "buffer_minutes": buffer_minutes,
        "min_notice_hours": min_notice_hours,
        "horizon_days": horizon_days,
    }
    errors: dict[str, str] = {}
    if not is_valid_timezone(timezone):
        errors["timezone"] = "Pick a time zone from the list."
    for key, (low, high) in SETTING_BOUNDS.items():
        if values[key] is None or not low <= values[key] <= high:
            errors[key] = f"Use a number from {low} to {high}."
    if "call_minutes" not in errors:
        errors.update(validate_windows(windows, call_minutes))
    if errors:
        raise AvailabilityError(errors)
    settings = coach_settings(session)
    settings.timezone = timezone
    for key, value in values.items():
        setattr(settings, key, value)
    session.add(settings)
    session.execute(delete(AvailabilityWindow))
    session.add_all(AvailabilityWindow(weekday=d, start_time=s, end_time=e) for d, s, e in windows)
    session.commit()
    return settings


def add_day_off(
    session: Session, day: date, note: str = "", *, today: date | None = None
) -> DayOff:
    """Mark a day (coach's calendar) as off. Commits. Raises AvailabilityError."""
    today = today or utcnow().astimezone(zone(coach_settings(session).timezone)).date()
    if day < today:
        raise AvailabilityError({"day": "Pick today or a later day."})
    if len(note) > 120:
        raise AvailabilityError({"note": "Keep the note under 120 characters."})
    if session.scalar(select(DayOff).where(DayOff.day == day)) is not None:
        raise AvailabilityError({"day": "That day is already off."})
    day_off = DayOff(day=day, note=note.strip())
    session.add(day_off)
    session.commit()
    return day_off


def remove_day_off(session: Session, day_off_id: int) -> None:
    day_off = session.get(DayOff, day_off_id)
    if day_off is not None:
        session.delete(day_off)
        session.commit()


DEFAULT_WINDOWS = ((time(9), time(12)), (time(13), time(17)))


def ensure_default_availability(session: Session) -> bool:
    """Give the coach Mon–Fri 9:00–12:00 and 13:00–17:00 (her time) and default settings when she
    has no windows yet. Returns True when it added them. Commits."""
    if session.scalar(select(AvailabilityWindow.id).limit(1)) is not None:
        return False
    session.add(coach_settings(session))
    session.add_all(
        AvailabilityWindow(weekday=day, start_time=start, end_time=end)
        for day in range(5)
        for start, end in DEFAULT_WINDOWS
    )
    session.commit()
    return True

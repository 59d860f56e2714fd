"""Booking rules shared by the booking pages, the manage link, the coach's pages and the API.

Every function takes a session and plain values, does its work in one transaction, commits, and
raises a domain error (below) that the page or the API turns into a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from icalendar import Calendar, Event, Timezone, vCalAddress, vText
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.booking import slots as slot_rules
from crm.booking.models import AvailabilityWindow, Booking, BookingStatus, CoachSettings, DayOff
from crm.booking.slots import InvalidSlot, Rules, Slot, Window
from crm.leads.models import Lead, Stage
from crm.leads.services import change_stage, record_event, upsert_lead
from crm.time import is_valid_timezone, utcnow, zone
from tasks import sequences
from tasks.outbox import queue_emails

__all__ = [
    "AvailabilityError",
    "BookingError",
    "BookingInvalid",
    "InvalidSlot",
    "InvalidToken",
    "SlotTaken",
    "book_call",
    "cancel_booking",
    "ensure_default_availability",
    "free_slots",
    "mark_call_outcome",
    "reschedule_booking",
    "save_availability",
]

# Field limits shared by the form, the API schema and the service's own check.
FIELD_LIMITS = {
    "name": 120,
    "email": 254,
    "phone": 40,
    "goal_race": 120,
    "pain_notes": 2000,
    "heard_from": 120,
    "timezone": 64,
    "utm": 120,
}
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MANAGE_SALT = "manage-booking"

# Sane bounds for the coach's settings.
SETTING_BOUNDS = {
    "call_minutes": (10, 120),
    "buffer_minutes": (0, 120),
    "min_notice_hours": (0, 24 * 14),
    "horizon_days": (1, 365),
}


class BookingError(Exception):
    """A domain error about a booking, with a message fit to show the visitor."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class BookingInvalid(BookingError):
    """Input the booking rules refuse: `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SlotTaken(BookingError):
    """Someone else holds that time (the database's unique slot refused the insert)."""

    field = "slot_start"

    def __init__(
        self, message: str = "Sorry, that time was just taken. Please pick another."
    ) -> None:
        super().__init__(message)


class InvalidToken(BookingError):
    """A manage link that is tampered with, unknown or expired."""


class AvailabilityError(Exception):
    """The coach's availability form breaks a rule: `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# --- the rules as the coach set them --------------------------------------------------------


def coach_settings(session: Session) -> CoachSettings:
    """The settings row; an unsaved default one (coach's configured zone) when there is none yet."""
    settings = session.scalar(select(CoachSettings).order_by(CoachSettings.id).limit(1))
    if settings is None:
        settings = CoachSettings(
            timezone=current_app.config.get("COACH_TIMEZONE", "America/Los_Angeles"),
            call_minutes=20,
            buffer_minutes=10,
            min_notice_hours=12,
            horizon_days=30,
        )
    return settings


def load_rules(session: Session) -> Rules:
    settings = coach_settings(session)
    windows = session.scalars(
        select(AvailabilityWindow).order_by(
            AvailabilityWindow.weekday, AvailabilityWindow.start_time
        )
    )
    return Rules(
        timezone=settings.timezone,
        windows=tuple(Window(w.weekday, w.start_time, w.end_time) for w in windows),
        days_off=frozenset(session.scalars(select(DayOff.day))),
        call_minutes=settings.call_minutes,
        buffer_minutes=settings.buffer_minutes,
        min_notice_hours=settings.min_notice_hours,
        horizon_days=settings.horizon_days,
    )


def _busy(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Intervals held by bookings that still have their slot, near [start, end)."""
    margin = timedelta(hours=4)  # wide enough for any buffer/call length the bounds allow
    rows = session.execute(
        select(Booking.start_at, Booking.end_at).where(
            Booking.slot_start.is_not(None),
            Booking.start_at < end + margin,
            Booking.end_at > start - margin,
        )
    )
    return [(s, e) for s, e in rows]


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
        busy=_busy(session, range_start, range_end),
    )


def _check_free(session: Session, rules: Rules, slot: Slot) -> None:
    buffer = timedelta(minutes=rules.buffer_minutes)
    if any(
        slot.start < b_end + buffer and b_start < slot.end + buffer
        for b_start, b_end in _busy(session, slot.start, slot.end)
    ):
        raise SlotTaken()


# --- booking ---------------------------------------------------------------------------------


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _validate_fields(
    *,
    name: str,
    email: str,
    phone: str,
    timezone: str,
    goal_race: str,
    goal_date: date | None,
    pain_level: int | None,
    pain_notes: str,
    heard_from: str,
    utm: dict[str, str],
    today: date,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Tell us your name."
    for field, value in (
        ("name", name),
        ("email", email),
        ("phone", phone),
        ("goal_race", goal_race),
        ("pain_notes", pain_notes),
        ("heard_from", heard_from),
    ):
        if len(value) > FIELD_LIMITS[field]:
            errors[field] = f"Keep this under {FIELD_LIMITS[field]} characters."
    if "email" not in errors:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            errors["email"] = "Enter a valid email address."
    if not is_valid_timezone(timezone):
        errors["timezone"] = "Pick a time zone from the list."
    if goal_date is not None and not (today <= goal_date <= today + timedelta(days=5 * 366)):
        errors["goal_date"] = "Pick a race date from today on."
    if pain_level is not None and not 0 <= pain_level <= 10:
        errors["pain_level"] = "Pick a number from 0 (no pain) to 10 (worst)."
    for key, value in utm.items():
        if key not in UTM_KEYS:
            errors["utm"] = f"Unknown campaign field {key!r}."
        elif len(value) > FIELD_LIMITS["utm"]:
            errors["utm"] = "Campaign fields are too long."
    return errors


def book_call(
    session: Session,
    *,
    name: str,
    email: str,
    slot_start: datetime,
    timezone: str,
    phone: str = "",
    goal_race: str = "",
    goal_date: date | None = None,
    pain_level: int | None = None,
    pain_notes: str = "",
    heard_from: str = "",
    marketing_consent: bool = False,
    utm: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Booking:
    """Book a free call: upsert the lead by email, hold the slot, move the lead to call booked,
    put it on the timeline and queue the confirmation with its .ics — one transaction, committed.

    Raises BookingInvalid (field errors), InvalidSlot (rules) or SlotTaken (someone holds it).
    """
    now = now or utcnow()
    name, email, phone = _clean(name), _clean(email), _clean(phone)
    goal_race, pain_notes, heard_from = _clean(goal_race), _clean(pain_notes), _clean(heard_from)
    utm = {k: _clean(v) for k, v in (utm or {}).items() if _clean(v)}
    timezone = _clean(timezone)
    errors = _validate_fields(
        name=name,
        email=email,
        phone=phone,
        timezone=timezone,
        goal_race=goal_race,
        goal_date=goal_date,
        pain_level=pain_level,
        pain_notes=pain_notes,
        heard_from=heard_from,
        utm=utm,
        today=now.astimezone(zone(timezone) if is_valid_timezone(timezone) else UTC).date(),
    )
    if errors:
        raise BookingInvalid(errors)
    rules = load_rules(session)
    slot = slot_rules.validate_slot(rules, slot_start, now=now)
    _check_free(session, rules, slot)

    fields: dict[str, Any] = {
        "phone": phone,
        "goal_race": goal_race,
        "goal_date": goal_date,
        "pain_level": pain_level,
        "pain_notes": pain_notes,
        "heard_from": heard_from,
        "timezone": timezone,
        "marketing_consent": marketing_consent,
        "source": utm.get("utm_source") or "direct",
        "utm": utm,
        "consent_at": now,
    }
    try:
        lead, created = upsert_lead(session, email=email, name=name, **fields)
        booking = Booking(
            lead=lead,
            start_at=slot.start,
            end_at=slot.end,
            slot_start=slot.start,
            status=BookingStatus.BOOKED,
            timezone=timezone,
            created_at=now,
        )
        session.add(booking)
        session.flush()  # the unique slot_start refuses a second holder here
        if lead.stage in (Stage.NEW, Stage.LOST, Stage.CALL_HELD):
            change_stage(session, lead, Stage.CALL_BOOKED, force=True)
        record_event(
            session,
            lead,
            "booked",
            f"Free call booked for {_coach_time(rules, slot.start)}",
            {"booking_id": booking.id, "start": slot.start.isoformat(), "utm": utm},
        )
        confirmation = _booking_email(session, booking, "booking_confirmation", rules)
        queue_emails(session, [confirmation, *sequences.booking_reminders(booking)])
        if not created:  # a new booking stops the nurture (a new lead has none)
            sequences.stop_call_followups(session, lead.id)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if _slot_held(session, slot.start):
            raise SlotTaken() from exc
        raise
    return booking


def _slot_held(session: Session, start: datetime) -> bool:
    return session.scalar(select(Booking.id).where(Booking.slot_start == start)) is not None


def _coach_time(rules: Rules, start: datetime) -> str:
    return format_when(start, rules.timezone, with_zone=True)


def format_when(start: datetime, tz: str, *, with_zone: bool = False) -> str:
    """'Monday 10 March 2025, 9:00 AM' in zone `tz` (plus ' (tz)' with_zone)."""
    local = start.astimezone(zone(tz))
    text = f"{local:%A} {local.day} {local:%B %Y}, {local:%I:%M %p}".replace(", 0", ", ")
    return f"{text} ({tz})" if with_zone else text


def active_booking(session: Session, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise BookingError("There is no such booking.")
    return booking


def reschedule_booking(
    session: Session,
    booking_id: int,
    new_slot_start: datetime,
    *,
    now: datetime | None = None,
    actor_id: int | None = None,
) -> Booking:
    """Move a booked call to another free slot: the old booking lets go of its slot (status
    rescheduled), a new one linked to it holds the new slot, the lead's timeline and an email say
    so. Commits. Raises BookingError, InvalidSlot or SlotTaken."""
    now = now or utcnow()
    old = active_booking(session, booking_id)
    if old.status != BookingStatus.BOOKED:
        raise BookingError("This call can no longer be changed.")
    if old.start_at <= now:
        raise BookingError("This call has already started, so it can't be moved.")
    rules = load_rules(session)
    slot = slot_rules.validate_slot(rules, new_slot_start, now=now)
    if slot.start == old.start_at:
        raise BookingError("That is the time you already have.", field="slot_start")
    try:
        old.status = BookingStatus.RESCHEDULED
        old.slot_start = None
        session.flush()  # free the old slot before checking and holding the new one
        _check_free(session, rules, slot)
        new = Booking(
            lead=old.lead,
            start_at=slot.start,
            end_at=slot.end,
            slot_start=slot.start,
            status=BookingStatus.BOOKED,
            timezone=old.timezone,
            rescheduled_from_id=old.id,
            created_at=now,
        )
        session.add(new)
        session.flush()
        record_event(
            session,
            old.lead,
            "rescheduled",
            f"Call moved from {_coach_time(rules, old.start_at)} "
            f"to {_coach_time(rules, slot.start)}",
            {"from_booking_id": old.id, "booking_id": new.id, "start": slot.start.isoformat()},
            actor_id,
        )
        sequences.cancel_booking_emails(session, old.id)
        moved = _booking_email(session, new, "booking_rescheduled", rules, previous=old)
        queue_emails(session, [moved, *sequences.booking_reminders(new)])
        session.commit()
    except SlotTaken:
        session.rollback()
        raise
    except IntegrityError as exc:
        session.rollback()
        if _slot_held(session, slot.start):
            raise SlotTaken() from exc
        raise
    return new


def cancel_booking(
    session: Session, booking_id: int, *, now: datetime | None = None, actor_id: int | None = None
) -> Booking:
    """Cancel a booked call: it lets go of its slot, the lead's timeline and an email say so, and a
    lead whose only call this was goes back to new. Commits. Raises BookingError."""
    now = now or utcnow()
    booking = active_booking(session, booking_id)
    if booking.status != BookingStatus.BOOKED:
        raise BookingError("This call is not booked any more.")
    if booking.start_at <= now:
        raise BookingError("This call has already started, so it can't be cancelled.")
    rules = load_rules(session)
    booking.status = BookingStatus.CANCELLED
    booking.slot_start = None
    booking.cancelled_at = now
    lead = booking.lead
    record_event(
        session,
        lead,
        "cancelled",
        f"Call on {_coach_time(rules, booking.start_at)} cancelled",
        {"booking_id": booking.id},
        actor_id,
    )
    session.flush()
    others = session.scalar(
        select(Booking.id).where(Booking.lead_id == lead.id, Booking.status == BookingStatus.BOOKED)
    )
    if lead.stage == Stage.CALL_BOOKED and others is None:
        change_stage(session, lead, Stage.NEW, force=True, actor_id=actor_id)
    queue_emails(session, [_booking_email(session, booking, "booking_cancelled", rules)])
    sequences.cancel_booking_emails(session, booking.id)
    session.commit()
    return booking


OUTCOMES = {"held": BookingStatus.HELD, "no_show": BookingStatus.NO_SHOW}


def mark_call_outcome(
    session: Session, booking_id: int, outcome: str, actor_id: int | None = None, *, now=None
) -> Booking:
    """Record that a call was held or the lead did not show ("held" | "no_show"); a held call
    moves the lead to call held. Commits. Raises BookingError."""
    now = now or utcnow()
    if outcome not in OUTCOMES:
        raise BookingError("Say whether the call was held or a no-show.")
    booking = active_booking(session, booking_id)
    if booking.status not in (BookingStatus.BOOKED, BookingStatus.HELD, BookingStatus.NO_SHOW):
        raise BookingError("This call was cancelled or moved; mark the new one instead.")
    if booking.start_at > now:
        raise BookingError("This call hasn't started yet.")
    status = OUTCOMES[outcome]
    if booking.status == status:
        return booking
    booking.status = status
    lead = booking.lead
    rules = load_rules(session)
    when = _coach_time(rules, booking.start_at)
    if status == BookingStatus.HELD:
        record_event(
            session, lead, "call_held", f"Call on {when} held", {"booking_id": booking.id}, actor_id
        )
        if lead.stage in (Stage.NEW, Stage.CALL_BOOKED, Stage.LOST):
            change_stage(session, lead, Stage.CALL_HELD, force=True, actor_id=actor_id)
    else:
        record_event(
            session,
            lead,
            "no_show",
            f"No-show for the call on {when}",
            {"booking_id": booking.id},
            actor_id,
        )
        sequences.queue_no_show_email(session, booking)
    session.commit()
    return booking


# --- the manage link -------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=MANAGE_SALT)


def make_manage_token(booking: Booking) -> str:
    """A signed link token for one booking; it stops working once the call has ended."""
    return _serializer().dumps({"b": booking.id, "exp": int(booking.end_at.timestamp())})


def manage_url(booking: Booking) -> str:
    return f"{current_app.config['BASE_URL']}/manage/{make_manage_token(booking)}"


def booking_from_token(session: Session, token: str, *, now: datetime | None = None) -> Booking:
    """The booking a manage token is for — or, when it was moved, the booking it became.
    Raises InvalidToken for a tampered, unknown or expired token."""
    now = now or utcnow()
    try:
        data = _serializer().loads(token)
        booking_id, expires = int(data["b"]), int(data["exp"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("This link is not valid. Use the link in your latest email.") from exc
    if now.timestamp() > expires:
        raise InvalidToken("This link has expired: the call is over.")
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise InvalidToken("This booking no longer exists.")
    for _ in range(50):  # follow reschedules to the booking that holds the call now
        successor = session.scalar(select(Booking).where(Booking.rescheduled_from_id == booking.id))
        if successor is None:
            break
        booking = successor
    return booking


# --- the email and its .ics ------------------------------------------------------------------


def _root_id(session: Session, booking: Booking) -> tuple[int, int]:
    """(id of the first booking in a reschedule chain, how many moves since) — the calendar UID
    stays the same across moves so the invite updates instead of duplicating."""
    root, moves = booking, 0
    while root.rescheduled_from_id is not None and moves < 50:
        root = session.get(Booking, root.rescheduled_from_id)
        moves += 1
    return root.id, moves


def build_ics(
    booking: Booking,
    *,
    uid: str,
    sequence: int,
    method: str,
    organizer_email: str,
    url: str,
    now: datetime | None = None,
) -> bytes:
    """An iCalendar invite (METHOD:REQUEST, or CANCEL) with DTSTART/DTEND in the visitor's zone
    (TZID + VTIMEZONE), a UTC DTSTAMP and a UID that is stable for the booking."""
    tz = zone(booking.timezone)
    cal = Calendar()
    cal.add("prodid", "-//0 to 5K Hero//Free call//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", (now or utcnow()).astimezone(UTC))
    event.add("dtstart", booking.start_at.astimezone(tz))
    event.add("dtend", booking.end_at.astimezone(tz))
    event.add("summary", "Free call with Coach Ali (0 to 5K Hero)")
    event.add("description", f"Your free call. To reschedule or cancel: {url}")
    event.add("url", url)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText("0 to 5K Hero")
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{booking.lead.email}")
    attendee.params["cn"] = vText(booking.lead.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    cal.add_component(event)
    for position, tzid in enumerate(sorted(cal.get_missing_tzids())):
        vtimezone = _vtimezone(tzid, booking.start_at.year)
        if vtimezone is not None:
            cal.subcomponents.insert(position, vtimezone)
    return cal.to_ical()


@lru_cache(maxsize=128)
def _vtimezone(tzid: str, year: int) -> Timezone | None:
    """The VTIMEZONE of an IANA zone from the year before the call (its UTC year can be the
    next local one) to the end of the next, built once per process: icalendar derives it from
    the zone's transitions (~10 ms and 2.7 kB in every invite for its default 1970-2038)."""
    first, last = date(year - 1, 1, 1), date(year + 2, 1, 1)
    try:
        return Timezone.from_tzid(tzid, first_date=first, last_date=last)
    except ValueError:
        return None


def _organizer_email() -> str:
    sender = current_app.config.get("MAIL_FROM", "coach@hero.local")
    return sender.rsplit("<", 1)[-1].rstrip(">").strip()


def booking_ics(session: Session, booking: Booking, *, method: str = "REQUEST") -> bytes:
    root, moves = _root_id(session, booking)
    host = current_app.config["BASE_URL"].split("//", 1)[-1].split("/", 1)[0] or "hero.local"
    return build_ics(
        booking,
        uid=f"booking-{root}@{host}",
        sequence=moves + (1 if method == "CANCEL" else 0),
        method=method,
        organizer_email=_organizer_email(),
        url=manage_url(booking),
    )


def email_context(
    booking: Booking, rules: Rules, previous: Booking | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "name": booking.lead.name,
        "first_name": booking.lead.first_name,
        "booking_id": booking.id,
        "start": booking.start_at.isoformat(),
        "start_local": format_when(booking.start_at, booking.timezone),
        "coach_time": format_when(booking.start_at, rules.timezone),
        "timezone": booking.timezone,
        "call_minutes": round((booking.end_at - booking.start_at).total_seconds() / 60),
        "manage_url": manage_url(booking),
        "book_url": f"{current_app.config['BASE_URL']}/book",
    }
    if previous is not None:
        context["previous_start_local"] = format_when(previous.start_at, booking.timezone)
    return context


def _booking_email(
    session: Session, booking: Booking, template: str, rules: Rules, previous: Booking | None = None
) -> dict[str, Any]:
    """The confirmation, rescheduling or cancellation of a booking, its .ics attached: an item
    for `queue_emails`, so a booking's emails are queued together in one batch."""
    method = "CANCEL" if template == "booking_cancelled" else "REQUEST"
    ics = booking_ics(session, booking, method=method)
    kind = template.removeprefix("booking_")
    return {
        "to": booking.lead.email,
        "template": template,
        "context": email_context(booking, rules, previous),
        "idempotency_key": f"booking:{booking.id}:{kind}",
        "lead_id": booking.lead_id,
        "category": "transactional",
        "attachments": [("invite.ics", ics, f"text/calendar; method={method}; charset=utf-8")],
    }


# --- the coach's availability ----------------------------------------------------------------


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


def lead_bookings(session: Session, lead: Lead) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking).where(Booking.lead_id == lead.id).order_by(Booking.start_at.desc())
        )
    )

"""A booking's emails: the confirmation, rescheduling and cancellation with their .ics invite,
the two reminders, the no-show note, the signed manage link they carry, and what the outbox needs
to know of them (send-time conditions, the Sequences page, previews)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import Flask, current_app
from icalendar import Calendar, Event, Timezone, vCalAddress, vText
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.booking.models import Booking, BookingStatus
from crm.booking.slots import Rules
from crm.time import format_when, utcnow, zone
from tasks.outbox import queue_email
from tasks.registry import (
    Contact,
    Step,
    register_attachment,
    register_condition,
    register_preview,
    register_step,
)
from tasks.services import cancel_queued

MANAGE_SALT = "manage-booking"


def manage_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=MANAGE_SALT)


def make_manage_token(booking: Booking) -> str:
    """A signed link token for one booking; it stops working once the call has ended."""
    return manage_serializer().dumps({"b": booking.id, "exp": int(booking.end_at.timestamp())})


def manage_url(booking: Booking) -> str:
    return f"{current_app.config['BASE_URL']}/manage/{make_manage_token(booking)}"


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
    if booking.meeting_url:
        how = f"Video call: {booking.meeting_url}"
        event.add("location", booking.meeting_url)
    else:
        number = booking.lead.phone
        how = f"Coach Ali will call you{f' on {number}' if number else ''}."
        event.add("location", f"Phone call to {number}" if number else "Phone call")
    event.add("description", f"Your free call. {how} To reschedule or cancel: {url}")
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
    booking: Booking, coach_tz: str | None = None, previous: Booking | None = None
) -> dict[str, Any]:
    """What every email about a booking can say: her name, the call in her zone (and in the
    coach's, given `coach_tz`), its length, the manage link; the old time of a moved call."""
    context: dict[str, Any] = {
        "name": booking.lead.name,
        "first_name": booking.lead.first_name,
        "booking_id": booking.id,
        "start": booking.start_at.isoformat(),
        "start_local": format_when(booking.start_at, booking.timezone),
        "timezone": booking.timezone,
        "call_minutes": round((booking.end_at - booking.start_at).total_seconds() / 60),
        "manage_url": manage_url(booking),
        "book_url": f"{current_app.config['BASE_URL']}/book",
        "call_kind": booking.call_kind or "phone",
        "meeting_url": booking.meeting_url or "",
        "phone": booking.lead.phone or "",
    }
    if coach_tz is not None:
        context["coach_time"] = format_when(booking.start_at, coach_tz)
    if previous is not None:
        context["previous_start_local"] = format_when(previous.start_at, booking.timezone)
    return context


def booking_email(
    session: Session, booking: Booking, template: str, rules: Rules, previous: Booking | None = None
) -> dict[str, Any]:
    """The confirmation, rescheduling or cancellation of a booking, its .ics attached: an item
    for `queue_emails`, so a booking's emails are queued together in one batch. The worker
    renders it and builds the .ics when it sends (`render_later`): the request only stores the
    context and the booking's id."""
    method = "CANCEL" if template == "booking_cancelled" else "REQUEST"
    kind = template.removeprefix("booking_")
    return {
        "to": booking.lead.email,
        "template": template,
        "context": email_context(booking, rules.timezone, previous),
        "idempotency_key": f"booking:{booking.id}:{kind}",
        "lead_id": booking.lead_id,
        "category": "transactional",
        "render_later": True,
        "attach": [{"builder": ICS_BUILDER, "args": {"booking_id": booking.id, "method": method}}],
    }


ICS_BUILDER = "booking_ics"


def _ics_attachment(session: Session, booking_id: int, method: str) -> tuple[str, bytes, str]:
    """The invite of a booking as the worker attaches it at send time."""
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise LookupError(f"booking {booking_id} no longer exists")
    ics = booking_ics(session, booking, method=method)
    return "invite.ics", ics, f"text/calendar; method={method}; charset=utf-8"


# --- reminders and the no-show note --------------------------------------------------------


def day_before_same_local_time(start: datetime, tz: str) -> datetime:
    """The same wall-clock time one calendar day earlier in `tz` (23 or 25 h across DST)."""
    local = start.astimezone(zone(tz))
    return (
        (local.replace(tzinfo=None) - timedelta(days=1))
        .replace(tzinfo=zone(tz))
        .astimezone(start.tzinfo)
    )


def booking_reminders(booking: Booking) -> list[dict]:
    """The reminders of a booking as `queue_emails` items: the day before at the same local time,
    and 1 h before. A reminder whose time has already passed is left out; both skip themselves at
    send time if the booking is no longer active."""
    now = utcnow()
    steps = (
        ("reminder-24h", 24, day_before_same_local_time(booking.start_at, booking.timezone)),
        ("reminder-1h", 1, booking.start_at - timedelta(hours=1)),
    )
    context = email_context(booking)
    return [
        {
            "to": booking.lead.email,
            "template": "booking_reminder",
            "context": {**context, "hours_before": hours},
            "idempotency_key": f"booking:{booking.id}:{kind}",
            "lead_id": booking.lead_id,
            "due_at": due,
            "condition": f"booking_active:{booking.id}",
            "render_later": True,
        }
        for kind, hours, due in steps
        if due > now
    ]


def cancel_booking_emails(session: Session, booking_id: int) -> int:
    """Cancel the booking's queued reminders (cancelled or rescheduled). Does not commit."""
    return cancel_queued(
        session, key_prefix=f"booking:{booking_id}:reminder-", reason="the booking changed"
    )


def queue_no_show_email(session: Session, booking: Booking) -> None:
    """The kind "let's find another time" email after a missed call. Does not commit."""
    queue_email(
        session,
        to=booking.lead.email,
        template="no_show",
        context=email_context(booking),
        idempotency_key=f"booking:{booking.id}:no-show",
        lead_id=booking.lead_id,
        condition=f"booking_no_show:{booking.id}",
    )


# --- what the outbox needs to know -----------------------------------------------------------


def _has_status(status: BookingStatus):
    def check(session: Session, booking_id: int) -> bool:
        booking = session.get(Booking, booking_id)
        return booking is not None and booking.status == status

    return check


def _preview(session: Session, template: str, contact: Contact) -> dict[str, Any]:
    base = current_app.config["BASE_URL"]
    ctx: dict[str, Any] = {
        "book_url": f"{base}/book",
        "manage_url": f"{base}/booking/manage/preview",
        "start_local": "Tuesday 12 May 2030, 9:00 AM",
        "timezone": "America/Los_Angeles",
        "call_minutes": 20,
        "hours_before": 24,
    }
    if contact.lead is not None:
        booking = session.scalar(
            select(Booking)
            .where(Booking.lead_id == contact.lead.id)
            .order_by(Booking.start_at.desc())
            .limit(1)
        )
        if booking is not None:
            ctx.update(email_context(booking))
    return ctx


STEPS = (
    Step("booking_confirmation", "Booking confirmation",
         "As soon as she books (with the .ics invite)"),
    Step("booking_reminder", "Reminders",
         "The day before at the same local time, and 1 hour before"),
    Step("booking_rescheduled", "Rescheduled", "When she or you move the call"),
    Step("booking_cancelled", "Cancelled", "When the call is cancelled"),
    Step("no_show", "No-show", "When you mark the call as a no-show"),
)  # fmt: skip


def init_app(app: Flask) -> None:
    """Tell the outbox about the booking's emails."""
    register_condition(app, "booking_active", _has_status(BookingStatus.BOOKED))
    register_condition(app, "booking_no_show", _has_status(BookingStatus.NO_SHOW))
    for position, step in enumerate(STEPS):
        register_step(app, "lead", 10 + position, step)
    register_preview(app, _preview)
    register_attachment(app, ICS_BUILDER, _ics_attachment)

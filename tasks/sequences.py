"""Time-based emails: rows with a `due_at` that the beat's `dispatch_due` sends when due.

Each step carries a `condition` re-checked at send time, so a reminder of a cancelled booking or
a follow-up to someone who has enrolled skips itself. None of these functions commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from crm.time import utcnow, zone
from tasks.outbox import queue_email
from tasks.services import cancel_queued

FOLLOWUP_DAYS = (0, 2, 5)


def day_before_same_local_time(start: datetime, tz: str) -> datetime:
    """The same wall-clock time one calendar day earlier in `tz` (23 or 25 h across DST)."""
    local = start.astimezone(zone(tz))
    return (
        (local.replace(tzinfo=None) - timedelta(days=1))
        .replace(tzinfo=zone(tz))
        .astimezone(start.tzinfo)
    )


def _booking_context(booking) -> dict:
    from crm.booking.services import format_when, manage_url

    return {
        "first_name": booking.lead.first_name,
        "start_local": format_when(booking.start_at, booking.timezone),
        "timezone": booking.timezone,
        "manage_url": manage_url(booking),
        "call_minutes": round((booking.end_at - booking.start_at).total_seconds() / 60),
        "book_url": f"{current_app.config['BASE_URL']}/book",
    }


def booking_reminders(booking) -> list[dict]:
    """The reminders of a booking as `queue_emails` items: the day before at the same local time,
    and 1 h before. A reminder whose time has already passed is left out; both skip themselves at
    send time if the booking is no longer active."""
    now = utcnow()
    steps = (
        ("reminder-24h", 24, day_before_same_local_time(booking.start_at, booking.timezone)),
        ("reminder-1h", 1, booking.start_at - timedelta(hours=1)),
    )
    context = _booking_context(booking)
    return [
        {
            "to": booking.lead.email,
            "template": "booking_reminder",
            "context": {**context, "hours_before": hours},
            "idempotency_key": f"booking:{booking.id}:{kind}",
            "lead_id": booking.lead_id,
            "due_at": due,
            "condition": f"booking_active:{booking.id}",
        }
        for kind, hours, due in steps
        if due > now
    ]


def cancel_booking_emails(session: Session, booking_id: int) -> int:
    """Cancel the booking's queued reminders (cancelled or rescheduled). Does not commit."""
    return cancel_queued(
        session, key_prefix=f"booking:{booking_id}:reminder-", reason="the booking changed"
    )


def queue_no_show_email(session: Session, booking) -> None:
    """The kind "let's find another time" email after a missed call. Does not commit."""
    queue_email(
        session,
        to=booking.lead.email,
        template="no_show",
        context=_booking_context(booking),
        idempotency_key=f"booking:{booking.id}:no-show",
        lead_id=booking.lead_id,
        condition=f"booking_no_show:{booking.id}",
    )


def schedule_call_followups(
    session: Session, lead, offer_url: str, days: tuple[int, ...] = FOLLOWUP_DAYS
) -> int:
    """The post-call follow-up with the offer link on day 0, 2 and 5 — or after the coach's delays
    for those steps (marketing: needs consent).

    Each stops itself once the lead enrols or is lost; `stop_call_followups` stops them too."""
    from tasks.editor import step_delays

    now = utcnow()
    # The coach's delays (hours) per built-in step; keys keep the built-in day numbers, so a
    # changed delay never sends a step twice.
    delays = step_delays(session, "call_followup", [d * 24 for d in FOLLOWUP_DAYS])
    hours = dict(zip(FOLLOWUP_DAYS, delays, strict=True))
    queued = 0
    for day in days:
        row = queue_email(
            session,
            to=lead.email,
            template="call_followup",
            context={"first_name": lead.first_name, "offer_url": offer_url, "step": day},
            idempotency_key=f"lead:{lead.id}:call-followup:day-{day}",
            lead_id=lead.id,
            category="marketing",
            due_at=now + timedelta(hours=hours.get(day, day * 24)),
            condition=f"lead_not_enrolled:{lead.id}",
        )
        queued += row is not None
    return queued


def stop_call_followups(session: Session, lead_id: int) -> int:
    """Cancel the queued follow-ups (enrolled, a new booking, or the coach says stop)."""
    return cancel_queued(
        session, key_prefix=f"lead:{lead_id}:call-followup:", reason="follow-up stopped"
    )

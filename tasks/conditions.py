"""Checks re-run at send time, so a step skips itself once it no longer applies.

A row's `condition` is "<name>:<id>", e.g. "booking_active:12" for the reminders of booking 12
(cancelled or rescheduled → the reminder is cancelled, not sent).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session


def _booking_active(session: Session, booking_id: int) -> bool:
    from crm.booking.models import Booking, BookingStatus

    booking = session.get(Booking, booking_id)
    return booking is not None and booking.status == BookingStatus.BOOKED


def _lead_not_enrolled(session: Session, lead_id: int) -> bool:
    from crm.leads.models import Lead, Stage

    lead = session.get(Lead, lead_id)
    return lead is not None and lead.stage not in (Stage.ENROLLED, Stage.LOST)


def _booking_no_show(session: Session, booking_id: int) -> bool:
    from crm.booking.models import Booking, BookingStatus

    booking = session.get(Booking, booking_id)
    return booking is not None and booking.status == BookingStatus.NO_SHOW


CONDITIONS: dict[str, Callable[[Session, int], bool]] = {
    "booking_active": _booking_active,
    "booking_no_show": _booking_no_show,
    "lead_not_enrolled": _lead_not_enrolled,
}


def condition_holds(session: Session, condition: str) -> bool:
    """True when the condition still holds; an unknown condition fails closed (nothing sent)."""
    name, _, arg = condition.partition(":")
    check = CONDITIONS.get(name)
    if check is None or not arg.isdigit():
        return False
    return check(session, int(arg))

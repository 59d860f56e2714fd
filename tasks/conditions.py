"""Checks re-run at send time, so a step skips itself once it no longer applies.

A row's `condition` is "<name>:<id>", e.g. "booking_active:12" for the reminders of booking 12
(cancelled or rescheduled → the reminder is cancelled, not sent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select
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


def _client_automation(session: Session, user_id: int) -> bool:
    from crm.accounts.models import User
    from tasks.clients import automation_paused, is_active_client

    user = session.get(User, user_id)
    return (
        user is not None
        and user.coaching_emails
        and is_active_client(session, user_id)
        and not automation_paused(session, user)
    )


def _missed_workouts(session: Session, user_id: int) -> bool:
    from tasks.client_sequences import needs_nudge

    return _client_automation(session, user_id) and needs_nudge(session, user_id) is not None


def _race_ahead(session: Session, user_id: int) -> bool:
    from tasks.client_sequences import race_week_date

    return _client_automation(session, user_id) and race_week_date(session, user_id) is not None


CONDITIONS: dict[str, Callable[[Session, int], bool]] = {
    "booking_active": _booking_active,
    "booking_no_show": _booking_no_show,
    "lead_not_enrolled": _lead_not_enrolled,
    # client emails: an active client who wants them, whose automation the coach has not paused,
    # and …
    "client_automation": _client_automation,
    "missed_workouts": _missed_workouts,  # … still no log for NUDGE_AFTER_DAYS
    "race_ahead": _race_ahead,  # … her race is still in the coming week
}


def condition_holds(session: Session, condition: str) -> bool:
    """True when the condition still holds; an unknown condition fails closed (nothing sent)."""
    name, _, arg = condition.partition(":")
    check = CONDITIONS.get(name)
    if check is None or not arg.isdigit():
        return False
    return check(session, int(arg))


def _client_automation_many(session: Session, user_ids: set[int]) -> set[int]:
    """The users among `user_ids` for whom `_client_automation` holds, in three queries."""
    from crm.accounts.models import User
    from crm.leads.models import Lead
    from tasks.clients import _active_conditions, client_leads

    users = list(
        session.scalars(
            select(User).where(
                User.id.in_(user_ids), User.coaching_emails.is_(True), _active_conditions()
            )
        )
    )
    leads = client_leads(session, users)
    paused: set[int] = set()
    if leads:
        paused = set(
            session.scalars(
                select(Lead.id).where(
                    Lead.id.in_(set(leads.values())), Lead.automation_paused.is_(True)
                )
            )
        )
    return {u.id for u in users if leads.get(u.id) not in paused}


# Conditions that many rows of one batch share (the check-ins): checked for all ids at once.
BATCH_CONDITIONS: dict[str, Callable[[Session, set[int]], set[int]]] = {
    "client_automation": _client_automation_many,
}


def conditions_hold(session: Session, conditions: Iterable[str]) -> dict[str, bool]:
    """`condition_holds` for many conditions: {condition: holds}. Those of a kind in
    BATCH_CONDITIONS cost a few queries together rather than a few each."""
    out: dict[str, bool] = {}
    grouped: dict[str, set[int]] = {}
    for condition in set(conditions):
        name, _, arg = condition.partition(":")
        if name in BATCH_CONDITIONS and arg.isdigit():
            grouped.setdefault(name, set()).add(int(arg))
        else:
            out[condition] = condition_holds(session, condition)
    for name, ids in grouped.items():
        holding = BATCH_CONDITIONS[name](session, ids)
        out.update({f"{name}:{i}": i in holding for i in ids})
    return out

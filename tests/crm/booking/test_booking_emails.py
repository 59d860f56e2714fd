"""Booking drives the email sequences: reminders queued, withdrawn when the call changes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm.booking import services
from crm.booking.models import Booking, BookingStatus
from crm.leads.models import Stage
from crm.time import utcnow
from tasks.models import EmailStatus, OutboxEmail


def _emails(db_session) -> dict[str, OutboxEmail]:
    return {row.idempotency_key: row for row in db_session.scalars(select(OutboxEmail))}


def test_booking_queues_the_confirmation_and_both_reminders(db_session, book):
    booking = book()
    emails = _emails(db_session)
    assert f"booking:{booking.id}:reminder-1h" in emails
    reminder = emails[f"booking:{booking.id}:reminder-1h"]
    assert reminder.due_at == booking.start_at - timedelta(hours=1)
    assert reminder.status == EmailStatus.QUEUED
    assert any(row.template == "booking_confirmation" for row in emails.values())


def test_cancelling_withdraws_the_reminders(db_session, book):
    booking = book()
    services.cancel_booking(db_session, booking.id)
    emails = _emails(db_session)
    assert emails[f"booking:{booking.id}:reminder-1h"].status == EmailStatus.CANCELLED


def test_rescheduling_moves_the_reminders_to_the_new_call(db_session, book, free_slot):
    booking = book()
    new = services.reschedule_booking(db_session, booking.id, free_slot(3).start)
    emails = _emails(db_session)
    assert emails[f"booking:{booking.id}:reminder-1h"].status == EmailStatus.CANCELLED
    assert emails[f"booking:{new.id}:reminder-1h"].due_at == new.start_at - timedelta(hours=1)


def test_a_no_show_gets_the_lets_find_another_time_email(db_session, make_lead, coach):
    lead = make_lead(stage=Stage.CALL_BOOKED)
    start = utcnow() - timedelta(hours=2)
    booking = Booking(
        lead=lead,
        start_at=start,
        end_at=start + timedelta(minutes=20),
        slot_start=start,
        status=BookingStatus.BOOKED,
        timezone="America/Chicago",
    )
    db_session.add(booking)
    db_session.commit()
    services.mark_call_outcome(db_session, booking.id, "no_show", coach.id)
    assert _emails(db_session)[f"booking:{booking.id}:no-show"].template == "no_show"

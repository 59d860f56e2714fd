"""Time-based emails: booking reminders across DST, skipping at send time, follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.booking.emails import booking_reminders, cancel_booking_emails
from crm.booking.models import Booking, BookingStatus
from crm.leads.followups import schedule_call_followups, stop_call_followups
from crm.leads.models import Stage
from tasks.models import EmailStatus, OutboxEmail
from tasks.outbox import queue_emails


@pytest.fixture
def tasks(app):
    celery = app.extensions["celery"]
    return lambda name, *args: celery.tasks[name].apply(args=args).get()


def _booking(session, lead, start: datetime, tz: str = "America/Los_Angeles") -> Booking:
    booking = Booking(
        lead=lead,
        start_at=start,
        end_at=start + timedelta(minutes=20),
        slot_start=start,
        timezone=tz,
    )
    session.add(booking)
    session.flush()
    return booking


def _reminders(session) -> dict[str, OutboxEmail]:
    rows = session.scalars(select(OutboxEmail).where(OutboxEmail.template == "booking_reminder"))
    return {row.idempotency_key.rsplit(":", 1)[1]: row for row in rows}


# 10 March 2030: clocks in Los Angeles spring forward at 02:00 (PST UTC-8 → PDT UTC-7).
CALL = datetime(2030, 3, 10, 17, 0, tzinfo=UTC)  # 10:00 PDT


def test_reminders_go_out_at_the_right_local_time_across_dst(db_session, make_lead, tasks):
    lead = make_lead(name="Ana Runner")
    with time_machine.travel(datetime(2030, 3, 1, tzinfo=UTC), tick=False):
        booking = _booking(db_session, lead, CALL)
        assert len(queue_emails(db_session, booking_reminders(booking))) == 2
        db_session.commit()
    rows = _reminders(db_session)
    # The day before at the same wall-clock time: 10:00 PST, only 23 hours earlier.
    assert rows["reminder-24h"].due_at == datetime(2030, 3, 9, 18, 0, tzinfo=UTC)
    assert rows["reminder-1h"].due_at == datetime(2030, 3, 10, 16, 0, tzinfo=UTC)
    assert "Tomorrow" in rows["reminder-24h"].subject
    assert rows["reminder-24h"].text == ""  # the worker writes it when it sends

    with time_machine.travel(datetime(2030, 3, 9, 17, 59, tzinfo=UTC), tick=False):
        assert tasks("tasks.dispatch_due") == 0
    with time_machine.travel(datetime(2030, 3, 9, 18, 0, 30, tzinfo=UTC), tick=False):
        assert tasks("tasks.dispatch_due") == 1
        assert tasks("tasks.send_email", rows["reminder-24h"].id) == "sent"
        assert tasks("tasks.send_email", rows["reminder-1h"].id) == "skipped"  # not yet due
    db_session.refresh(rows["reminder-24h"])
    assert "Sunday 10 March 2030, 10:00 AM" in rows["reminder-24h"].text
    with time_machine.travel(datetime(2030, 3, 10, 16, 0, 30, tzinfo=UTC), tick=False):
        assert tasks("tasks.dispatch_due") == 1
        assert tasks("tasks.send_email", rows["reminder-1h"].id) == "sent"


def test_reminders_in_the_past_are_not_queued(db_session, make_lead):
    lead = make_lead()
    with time_machine.travel(CALL - timedelta(hours=5), tick=False):
        booking = _booking(db_session, lead, CALL)
        assert len(queue_emails(db_session, booking_reminders(booking))) == 1
        db_session.commit()
    assert set(_reminders(db_session)) == {"reminder-1h"}


def test_reminder_of_a_cancelled_booking_skips_itself_at_send_time(db_session, make_lead, tasks):
    lead = make_lead()
    with time_machine.travel(datetime(2030, 3, 1, tzinfo=UTC), tick=False):
        booking = _booking(db_session, lead, CALL)
        len(queue_emails(db_session, booking_reminders(booking)))
        db_session.commit()
        booking.status = BookingStatus.CANCELLED
        booking.slot_start = None
        db_session.commit()
    row = _reminders(db_session)["reminder-1h"]
    with time_machine.travel(datetime(2030, 3, 10, 16, 1, tzinfo=UTC), tick=False):
        assert tasks("tasks.send_email", row.id) == "cancelled"
    db_session.refresh(row)
    assert row.status == EmailStatus.CANCELLED and row.sent_at is None


def test_cancel_booking_emails_cancels_queued_reminders(db_session, make_lead):
    lead = make_lead()
    with time_machine.travel(datetime(2030, 3, 1, tzinfo=UTC), tick=False):
        booking = _booking(db_session, lead, CALL)
        len(queue_emails(db_session, booking_reminders(booking)))
        db_session.commit()
        assert cancel_booking_emails(db_session, booking.id) == 2
        db_session.commit()
    assert {r.status for r in _reminders(db_session).values()} == {EmailStatus.CANCELLED}


def test_follow_ups_stop_once_the_lead_enrols(db_session, make_lead, tasks):
    lead = make_lead(marketing_consent=True, stage=Stage.CALL_HELD)
    with time_machine.travel(datetime(2030, 4, 1, tzinfo=UTC), tick=False):
        assert schedule_call_followups(db_session, lead, "http://localhost/offer/1") == 3
        db_session.commit()
        rows = db_session.scalars(select(OutboxEmail).order_by(OutboxEmail.due_at)).all()
        assert tasks("tasks.send_email", rows[0].id) == "sent"
    lead.stage = Stage.ENROLLED
    db_session.commit()
    with time_machine.travel(datetime(2030, 4, 3, 0, 1, tzinfo=UTC), tick=False):
        assert tasks("tasks.send_email", rows[1].id) == "cancelled"
    assert stop_call_followups(db_session, lead.id) == 1
    db_session.commit()
    for row in rows:
        db_session.refresh(row)
    assert [r.status for r in rows] == [
        EmailStatus.SENT,
        EmailStatus.CANCELLED,
        EmailStatus.CANCELLED,
    ]


def test_follow_ups_without_consent_are_suppressed(db_session, make_lead):
    lead = make_lead(marketing_consent=False)
    schedule_call_followups(db_session, lead, "http://localhost/offer/1")
    db_session.commit()
    statuses = db_session.scalars(select(OutboxEmail.status)).all()
    assert statuses == [EmailStatus.SUPPRESSED] * 3

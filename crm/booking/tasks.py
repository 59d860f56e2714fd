"""Celery tasks of booking: the emails of the bookings made so far, published after they
commit (once a window by each web process), and beat's sweep for those whose task was lost."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from crm.booking.services import (
    QUEUE_EMAILS_TASK,
    queue_booking_emails,
    queue_pending_booking_emails,
)
from extensions import db


@shared_task(name=QUEUE_EMAILS_TASK, ignore_result=True)
def queue_emails_task(booking_id: int | None = None) -> int:
    """Her confirmation and reminders, for every booking still without them (safe to run
    twice). `booking_id`: one booking's, as the web published it before windows."""
    if booking_id is not None:
        return int(queue_booking_emails(db.session, booking_id))
    return queue_pending_booking_emails(db.session, grace=timedelta(0))


@shared_task(name="crm.booking.sweep_emails", ignore_result=True)
def sweep_emails_task() -> int:
    """Beat's job: the bookings whose task never came (safe to run twice)."""
    return queue_pending_booking_emails(db.session)

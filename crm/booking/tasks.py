"""Celery tasks of booking: a booking's emails, queued once its request has committed, and the
sweep for those whose task was lost."""

from __future__ import annotations

from celery import shared_task

from crm.booking.services import (
    QUEUE_EMAILS_TASK,
    queue_booking_emails,
    queue_pending_booking_emails,
)
from extensions import db


@shared_task(name=QUEUE_EMAILS_TASK, ignore_result=True)
def queue_emails_task(booking_id: int) -> bool:
    """Her confirmation and reminders, published by the booking's commit (safe to run twice)."""
    return queue_booking_emails(db.session, booking_id)


@shared_task(name="crm.booking.sweep_emails", ignore_result=True)
def sweep_emails_task() -> int:
    """Beat's job: the bookings whose task never came (safe to run twice)."""
    return queue_pending_booking_emails(db.session)

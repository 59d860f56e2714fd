"""The coach's actions on the outbox: retry a failed email, cancel a queued one, list them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.time import utcnow
from tasks.models import COACH_CANCELLED, EmailStatus, OutboxEmail
from tasks.outbox import OutboxError, email_event, enqueue_send, record_events

PAGE_SIZE = 50


def list_emails(
    session: Session, *, status: str | None = None, before_id: int | None = None
) -> list[OutboxEmail]:
    """Newest first, one page, keyset-paginated by id; `status` filters when given."""
    stmt = select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(PAGE_SIZE)
    if status:
        stmt = stmt.where(OutboxEmail.status == EmailStatus(status))
    if before_id:
        stmt = stmt.where(OutboxEmail.id < before_id)
    return list(session.scalars(stmt))


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)
    ).all()
    return {str(status): count for status, count in rows}


def retry_email(session: Session, email_id: int) -> OutboxEmail:
    """Put a failed (or suppressed/cancelled) email back in the queue and enqueue it. Commits.

    The address is checked again at send time, so retrying a suppressed address stays
    suppressed. Raises OutboxError for an email that is queued, sending or already sent."""
    row = session.get(OutboxEmail, email_id)
    if row is None:
        raise OutboxError("No such email.")
    if row.status not in (EmailStatus.FAILED, EmailStatus.CANCELLED, EmailStatus.SUPPRESSED):
        raise OutboxError(
            f"Only a failed or cancelled email can be retried (this one is {row.status})."
        )
    now = utcnow()
    row.status = EmailStatus.QUEUED
    row.attempts = 0
    row.due_at = now
    row.enqueued_at = now
    row.last_error = ""
    if row.lead_id:
        record_events(session, [email_event(row, "email_queued")])
    session.commit()
    enqueue_send(row.id)
    return row


def cancel_email(session: Session, email_id: int) -> OutboxEmail:
    """Cancel a queued email so it is never sent. Commits. Raises OutboxError otherwise."""
    row = session.get(OutboxEmail, email_id)
    if row is None:
        raise OutboxError("No such email.")
    if row.status != EmailStatus.QUEUED:
        raise OutboxError(f"Only a queued email can be cancelled (this one is {row.status}).")
    row.status = EmailStatus.CANCELLED
    row.last_error = COACH_CANCELLED
    if row.lead_id:
        record_events(session, [email_event(row, "email_cancelled")])
    session.commit()
    return row


def cancel_queued(
    session: Session, *, key_prefix: str = "", condition: str = "", reason: str
) -> int:
    """Cancel every queued email whose idempotency key starts with `key_prefix`, or whose
    send-time condition is `condition` (no commit). Returns how many."""
    if not key_prefix and not condition:
        raise ValueError("name the emails to cancel")
    match = (
        OutboxEmail.idempotency_key.startswith(key_prefix, autoescape=True)
        if key_prefix
        else OutboxEmail.condition == condition
    )
    rows = session.scalars(
        select(OutboxEmail).where(OutboxEmail.status == EmailStatus.QUEUED, match)
    ).all()
    for row in rows:
        row.status = EmailStatus.CANCELLED
        row.last_error = reason
    record_events(session, [email_event(row, "email_cancelled") for row in rows if row.lead_id])
    return len(rows)

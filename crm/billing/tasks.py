"""Celery tasks for billing: process a webhook event, enforce grace periods, reconcile daily."""

from __future__ import annotations

import logging

from crm.billing import access, reconcile, stripe_events
from extensions import db
from tasks import shared_task_with_aliases

log = logging.getLogger(__name__)


@shared_task_with_aliases(
    name="crm.billing.process_stripe_event",
    aliases=("crm.billing.tasks.process_stripe_event",),
    bind=True,
    max_retries=8,
    default_retry_delay=30,
    acks_late=True,
)
def process_stripe_event(self, event_row_id: int) -> str:
    """Apply a recorded webhook event; safe to run twice (the ledger row says when it is done)."""
    try:
        return stripe_events.process_stripe_event(db.session, event_row_id)
    except Exception as exc:
        # Back off: most failures are Stripe or the database being briefly away.
        raise self.retry(exc=exc, countdown=min(30 * 2**self.request.retries, 3600)) from exc


@shared_task_with_aliases(
    name="crm.billing.enforce_grace_periods", aliases=("crm.billing.tasks.enforce_grace_periods",)
)
def enforce_grace_periods() -> int:
    paused = access.enforce_grace_periods(db.session)
    if paused:
        log.info("paused access for %d clients past their grace period", paused)
    return paused


@shared_task_with_aliases(name="crm.billing.retry_waiting_events")
def retry_waiting_events() -> list[str]:
    """Hourly: events kept for an object Hero doesn't know ask Stripe again."""
    return reconcile.retry_waiting_events(db.session)


@shared_task_with_aliases(
    name="crm.billing.reconcile_stripe", aliases=("crm.billing.tasks.reconcile_stripe",)
)
def reconcile_stripe() -> list[str]:
    """Daily: repair what webhooks missed and tell the coach what was fixed."""
    fixed = reconcile.reconcile(db.session)
    reconcile.report_reconciliation(db.session, fixed)
    return fixed

"""Daily reconciliation: repair what webhooks missed and tell the coach what was fixed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.billing import stripe_gateway as gateway
from crm.billing.catalogue import get_settings
from crm.billing.checkout import enrolment_for_session, fulfil_checkout, is_paid
from crm.billing.errors import BillingError
from crm.billing.models import StripeEvent
from crm.billing.stripe_events import process_stripe_event
from crm.time import utcnow


def reconcile(session: Session, *, now: datetime | None = None, days: int = 3) -> list[str]:
    """Repair what webhooks missed: fulfil paid sessions without an enrolment, and run ledger
    events left unprocessed. Returns lines saying what was fixed."""
    now = now or utcnow()
    fixed: list[str] = []
    stale = now - timedelta(minutes=10)
    for row_id in list(
        session.scalars(
            select(StripeEvent.id).where(
                StripeEvent.processed_at.is_(None), StripeEvent.received_at < stale
            )
        )
    ):
        try:
            process_stripe_event(session, row_id)
            fixed.append(f"processed stuck event #{row_id}")
        except Exception as exc:  # noqa: BLE001 - report and carry on with the rest
            fixed.append(f"event #{row_id} still failing: {exc}")
    if gateway.is_offline():
        return fixed
    since = int((now - timedelta(days=days)).timestamp())
    for checkout in gateway.list_checkout_sessions(created={"gte": since}):
        if not is_paid(checkout) or enrolment_for_session(session, checkout["id"]):
            continue
        try:
            enrolment = fulfil_checkout(session, checkout["id"])
        except BillingError as exc:
            fixed.append(f"skipped {checkout['id']}: {exc}")
            continue
        if enrolment is not None:
            fixed.append(f"enrolled {enrolment.user.email} from paid session {checkout['id']}")
    return fixed


def report_reconciliation(session: Session, fixed: list[str]) -> None:
    """Keep what reconciliation fixed where the coach sees it (the Payments page)."""
    settings = get_settings(session)
    settings.last_reconciled_at = utcnow()
    settings.last_reconcile_report = fixed[:200]
    session.commit()

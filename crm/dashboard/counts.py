"""The dashboard's funnel and revenue, counted by beat every few minutes instead of per visit.

The 90-day funnel and the revenue summary are aggregates over every lead, booking and payment
(tens of milliseconds at 100,000 leads); the coach reads them, she does not need them to the
second. Beat recounts them every REFRESH_MINUTES into one row, which the dashboard reads with
its "as of" time; when beat is not running (or the row is older than STALE_AFTER) the visit
recounts them itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from celery.schedules import crontab
from flask import Flask
from sqlalchemy import JSON, Select, String, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column

from crm.billing.reports import revenue_summary
from crm.booking.busy_feed import FeedStatus, feed_status, feed_status_subquery, status_from_row
from crm.dashboard.services import FunnelStep, funnel
from crm.leads.services import coach_timezone, coach_timezone_subquery, timezone_or_default
from crm.time import UTCDateTime, utcnow
from extensions import db
from tasks import add_periodic_task, shared_task_with_aliases

REFRESH_MINUTES = 5
STALE_AFTER = timedelta(minutes=3 * REFRESH_MINUTES)
HOME = "home"


class DashboardCounts(db.Model):
    """One set of counts the dashboard shows (by `name`), as of `computed_at`."""

    __tablename__ = "dashboard_counts"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Counts:
    funnel: list[FunnelStep]
    revenue: dict[str, Any]
    as_of: datetime


def refresh_counts(session: Session, now: datetime | None = None) -> Counts:
    """Count the funnel and the revenue now and keep them; commits."""
    now = now or utcnow()
    counts = Counts(funnel(session, now), revenue_summary(session, now), now)
    data = {"funnel": [asdict(step) for step in counts.funnel], "revenue": counts.revenue}
    row = session.get(DashboardCounts, HOME)
    if row is None:
        session.add(DashboardCounts(name=HOME, data=data, computed_at=now))
    else:
        row.data, row.computed_at = data, now
    session.commit()
    return counts


def current_counts(session: Session, now: datetime | None = None) -> Counts:
    """The kept counts, or fresh ones when there are none or they are older than STALE_AFTER."""
    now = now or utcnow()
    return _kept_or_fresh(session, session.get(DashboardCounts, HOME), now)


@cache  # built once per process: building it costs about as much as running it
def _timezone_counts_and_feed_statement() -> Select:
    feed = feed_status_subquery()
    return (
        select(DashboardCounts, coach_timezone_subquery(), *feed.c)
        .outerjoin(feed, true())
        .where(DashboardCounts.name == HOME)
    )


def timezone_counts_and_feed(
    session: Session, now: datetime | None = None
) -> tuple[str, Counts, FeedStatus | None]:
    """`coach_timezone`, `current_counts` and the busy feed's `feed_status`, in one statement
    (the dashboard shows all three)."""
    now = now or utcnow()
    row = session.execute(_timezone_counts_and_feed_statement()).first()
    if row is None:  # never counted yet: the first visit counts
        return coach_timezone(session), refresh_counts(session, now), feed_status(session, now)
    kept, tz_name, *feed_row = row
    return (
        timezone_or_default(tz_name),
        _kept_or_fresh(session, kept, now),
        status_from_row(*feed_row, now=now),
    )


def _kept_or_fresh(session: Session, row: DashboardCounts | None, now: datetime) -> Counts:
    if row is None or row.computed_at < now - STALE_AFTER:
        return refresh_counts(session, now)
    return Counts(
        funnel=[FunnelStep(**step) for step in row.data["funnel"]],
        revenue=row.data["revenue"],
        as_of=row.computed_at,
    )


@shared_task_with_aliases(name="crm.dashboard.refresh_counts", ignore_result=True)
def refresh_dashboard_counts() -> str:
    """Beat, every REFRESH_MINUTES: recount the dashboard's funnel and revenue."""
    return refresh_counts(db.session).as_of.isoformat()


def init_app(app: Flask) -> None:
    add_periodic_task(
        app,
        "dashboard-counts",
        "crm.dashboard.refresh_counts",
        crontab(minute=f"*/{REFRESH_MINUTES}"),
    )

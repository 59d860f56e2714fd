"""What the coach's dashboard shows: today's and upcoming calls, new leads, the funnel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache

from sqlalchemy import Row, Select, bindparam, case, exists, func, select, union_all
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.alerts.models import CoachFlag
from crm.booking.models import Booking, BookingStatus
from crm.leads.models import Lead, Stage
from crm.time import zone

FUNNEL_DAYS = 90
UPCOMING_DAYS = 14
CALLS_SHOWN = 20  # today's and upcoming calls on the dashboard, each


@dataclass(frozen=True)
class FunnelStep:
    label: str
    count: int
    share: float  # of the first step, 0..1
    conversion: float | None  # of the previous step, 0..1


def _local_midnight(now: datetime, tz_name: str, days: int = 0) -> datetime:
    local = now.astimezone(zone(tz_name)).date() + timedelta(days=days)
    return datetime.combine(local, time.min, tzinfo=zone(tz_name)).astimezone(UTC)


@cache  # built once per process (its times are parameters): building it costs as much as running it
def _calls_statement() -> Select:
    live = (BookingStatus.BOOKED, BookingStatus.HELD, BookingStatus.NO_SHOW)
    today_start, tomorrow = bindparam("today_start"), bindparam("tomorrow")
    base = select(
        Booking.lead_id, Booking.start_at, Booking.timezone, Booking.status,
        Lead.name.label("lead_name"),
    ).join(Lead, Lead.id == Booking.lead_id)  # fmt: skip
    today = (
        base.where(
            Booking.start_at >= today_start, Booking.start_at < tomorrow, Booking.status.in_(live)
        )
        # Her own rules leave room for fewer calls than this in a day; should a day hold more,
        # the latest are shown (those still to come among them), not the morning's.
        .order_by(Booking.start_at.desc())
        .limit(CALLS_SHOWN)
        .subquery()
    )
    upcoming = (
        base.where(
            Booking.start_at >= tomorrow,
            Booking.start_at < bindparam("horizon"),
            Booking.status == BookingStatus.BOOKED,
        )
        .order_by(Booking.start_at)
        .limit(CALLS_SHOWN)
        .subquery()
    )
    both = union_all(select(today), select(upcoming)).subquery()
    return select(both).order_by(both.c.start_at)


def calls(session: Session, tz_name: str, now: datetime) -> tuple[list[Row], list[Row]]:
    """(today's calls, upcoming calls in the next two weeks; CALLS_SHOWN of each at most), in one
    statement.

    Each row is what the pages show of a call: its lead_id, start_at, timezone and status, and
    the lead's name as `lead_name` (not ORM objects: the rest of the rows stays in the tables)."""
    today_start = _local_midnight(now, tz_name)
    tomorrow = _local_midnight(now, tz_name, 1)
    horizon = tomorrow + timedelta(days=UPCOMING_DAYS)
    rows = session.execute(
        _calls_statement(), {"today_start": today_start, "tomorrow": tomorrow, "horizon": horizon}
    ).all()
    return [r for r in rows if r.start_at < tomorrow], [r for r in rows if r.start_at >= tomorrow]


@cache
def _new_leads_statement() -> Select:
    since = Lead.created_at >= bindparam("monday")
    # Counted apart from the rows (an index-only scan of ix_leads_created_id): a window count
    # would read every row of the week from the table to return six of them.
    total = select(func.count()).where(since).scalar_subquery().label("total")
    return (
        select(Lead.id, Lead.name, Lead.created_at, total)
        .where(since)
        .order_by(Lead.created_at.desc(), Lead.id.desc())
        .limit(bindparam("limit"))
    )


def new_leads_this_week(
    session: Session, tz_name: str, now: datetime, limit: int = 6
) -> tuple[int, list[Row]]:
    """How many leads arrived since Monday (the coach's time zone), and the latest few (their
    id, name and created_at)."""
    local_today = now.astimezone(zone(tz_name))
    monday = _local_midnight(now, tz_name, -local_today.weekday())
    # One query: each row carries the week's total.
    rows = session.execute(_new_leads_statement(), {"monday": monday, "limit": limit}).all()
    return (rows[0].total if rows else 0), rows


def funnel(session: Session, now: datetime, days: int = FUNNEL_DAYS) -> list[FunnelStep]:
    """Leads created in the last `days` → calls booked → calls held → enrolled, in one query.

    A later stage implies the earlier ones (an enrolled lead had her call), so the steps never
    grow from left to right even when a lead skipped a booking (imported, or enrolled directly).
    The stage test comes first so the bookings are probed only for new and lost leads, and the
    leads' part is an index-only scan of ix_leads_created_id, which carries the stage.
    """
    since = now - timedelta(days=days)
    booked_stages = (Stage.CALL_BOOKED, Stage.CALL_HELD, Stage.OFFER_SENT, Stage.ENROLLED)
    held_stages = (Stage.CALL_HELD, Stage.OFFER_SENT, Stage.ENROLLED)
    has_booking = exists().where(Booking.lead_id == Lead.id)
    has_held = exists().where(Booking.lead_id == Lead.id, Booking.status == BookingStatus.HELD)

    def total(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            func.count(Lead.id),
            total(Lead.stage.in_(booked_stages) | has_booking),
            total(Lead.stage.in_(held_stages) | has_held),
            total(Lead.stage == Stage.ENROLLED),
        ).where(Lead.created_at >= since)
    ).one()
    labels = ("Leads", "Calls booked", "Calls held", "Enrolled")
    steps: list[FunnelStep] = []
    first = row[0] or 0
    for index, (label, count) in enumerate(zip(labels, row, strict=True)):
        previous = steps[index - 1].count if index else None
        steps.append(
            FunnelStep(
                label=label,
                count=int(count),
                share=(count / first) if first else 0.0,
                conversion=(count / previous) if previous else None,
            )
        )
    return steps


@dataclass(frozen=True)
class Attention:
    user: User
    flag: CoachFlag  # the newest open flag
    open_flags: int


@cache
def _attention_statement() -> Select:
    counts = (
        select(CoachFlag.user_id, func.count().label("n"), func.max(CoachFlag.id).label("newest"))
        .where(CoachFlag.resolved_at.is_(None))
        .group_by(CoachFlag.user_id)
        .subquery()
    )
    return (
        select(CoachFlag, User, counts.c.n)
        .join(counts, counts.c.newest == CoachFlag.id)
        .join(User, User.id == CoachFlag.user_id)
        .order_by(CoachFlag.id.desc())
        .limit(bindparam("limit"))
    )


def clients_needing_attention(session: Session, limit: int = 8) -> list[Attention]:
    """Clients with open flags (pain over threshold, missed sessions, silence), one row each,
    newest flag first."""
    rows = session.execute(_attention_statement(), {"limit": limit})
    return [Attention(user=user, flag=flag, open_flags=n) for flag, user, n in rows]

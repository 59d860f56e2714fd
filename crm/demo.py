"""`flask --app app seed-demo [--if-empty]`: a coach, her availability and ~200 believable leads.

Deterministic (a seeded random generator) so screenshots and demos look the same every time,
and safe to run twice: the demo leads are only created when none exist yet.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.accounts.services import create_user, find_user
from crm.articles.models import Article, ArticleStatus, BookingAttribution
from crm.articles.services import TOUCH_PREFIX, record_booking_attribution
from crm.booking.models import AvailabilityWindow, Booking, BookingStatus, CoachSettings
from crm.leads.models import Lead, LeadEvent, Note, Stage
from crm.time import utcnow, zone

try:
    # Optional: without it, ensure_settings adds the default hours itself.
    from crm.booking.availability import ensure_default_availability
except ImportError:
    ensure_default_availability = None

DEMO_EMAIL = "coach@example.com"
DEMO_PASSWORD = "hero-demo-coach"
DEMO_LEAD_DOMAIN = "demo.hero.example"
LEADS = 200

FIRST = ["Maria", "Jessica", "Ashley", "Sarah", "Emily", "Lauren", "Megan", "Rachel", "Amanda",
         "Nicole", "Heather", "Brittany", "Danielle", "Laura", "Kayla", "Stephanie", "Tiffany",
         "Carmen", "Priya", "Keiko", "Aisha", "Rosa", "Hannah", "Olivia", "Grace",
         "Chloe"]  # fmt: skip
LAST = ["Garcia", "Smith", "Johnson", "Nguyen", "Lopez", "Brown", "Kim", "Patel", "Davis",
        "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Lee",
        "Walker", "Hall", "Young", "Rivera", "Campbell"]  # fmt: skip
RACES = ["runDisney Princess 5K", "runDisney Wine & Dine 5K", "Disneyland Halloween 5K",
         "Local Turkey Trot", "Color Run 5K", "Couch to first parkrun", ""]  # fmt: skip
PAIN = ["Knee pain on stairs since last spring", "Shin splints after two weeks of running",
        "IT band tightness on the outside of the knee", "Sore hips after long walks",
        "Plantar fasciitis, better now", "No pain, just nervous about starting", ""]  # fmt: skip
SOURCES = [("direct", {}), ("instagram", {"utm_source": "instagram", "utm_medium": "social"}),
           ("facebook", {"utm_source": "facebook", "utm_medium": "social"}),
           ("google", {"utm_source": "google", "utm_medium": "organic"}),
           ("article", {"utm_source": "blog", "utm_campaign": "knee-pain-hips"}),
           ("podcast", {"utm_source": "podcast", "utm_campaign": "runner-moms"})]  # fmt: skip
LOST_REASONS = ["Not the right time", "Price", "Went with a local PT", "No reply after the call",
                "Injury needs a doctor first"]  # fmt: skip
NOTES = ["Wants to walk the Princess 5K with her daughter.", "Prefers morning check-ins.",
         "Sent her the hip routine video after the call.", "Asked about instalments.",
         "Knee feels better after two weeks of side-lying leg lifts.",
         "Follow up after her doctor's appointment."]  # fmt: skip
# Stage mix of the demo pipeline (weights add up to 100). No lead is enrolled here: the demo's
# clients are enrolled from the offer-sent leads by programs.demo, through checkout and
# fulfilment, so the funnel's "Enrolled" is exactly the client list.
STAGE_WEIGHTS = [(Stage.NEW, 24), (Stage.CALL_BOOKED, 12), (Stage.CALL_HELD, 14),
                 (Stage.OFFER_SENT, 26), (Stage.LOST, 24)]  # fmt: skip


def ensure_coach(session: Session) -> tuple[User, bool]:
    user = find_user(session, DEMO_EMAIL)
    if user is not None:
        return user, False
    user = create_user(
        session,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        role=Role.COACH,
        first_name="Ali",
        last_name="Demo",
        timezone=current_app.config.get("COACH_TIMEZONE", "America/Los_Angeles"),
    )
    return user, True


def ensure_settings(session: Session) -> CoachSettings:
    settings = session.scalar(select(CoachSettings).limit(1))
    if settings is None:
        settings = CoachSettings(timezone=current_app.config.get("COACH_TIMEZONE", "UTC"))
        session.add(settings)
    if ensure_default_availability is not None:
        ensure_default_availability(session)
    elif session.scalar(select(func.count()).select_from(AvailabilityWindow)) == 0:
        for weekday in range(5):  # Monday to Friday, 9–12 and 13–17 in her time zone
            session.add(AvailabilityWindow(weekday=weekday, start_time=time(9), end_time=time(12)))
            session.add(AvailabilityWindow(weekday=weekday, start_time=time(13), end_time=time(17)))
    session.commit()
    return settings


class _SlotPicker:
    """Distinct call times on the coach's working grid (weekdays, half-hours, 9–12 and 13–17)."""

    def __init__(self, rng: random.Random, tz_name: str) -> None:
        self.rng, self.tz, self.used = rng, zone(tz_name), set()

    def near(self, day: date, *, after: datetime | None = None) -> datetime:
        for offset in range(0, 60):
            candidate_day = day + timedelta(days=offset)
            if candidate_day.weekday() >= 5:
                continue
            hours = [h + m / 60 for h in (9, 10, 11, 13, 14, 15, 16) for m in (0, 30)]
            self.rng.shuffle(hours)
            for hour in hours:
                local = datetime.combine(
                    candidate_day, time(int(hour), int(round((hour % 1) * 60))), tzinfo=self.tz
                )
                start = local.astimezone(UTC)
                if start in self.used or (after is not None and start <= after):
                    continue
                self.used.add(start)
                return start
        raise RuntimeError("no free demo slot")  # pragma: no cover - 60 days of grid


def _event(session, lead, kind, summary, at, data=None, actor_id=None) -> None:
    session.add(
        LeadEvent(
            lead=lead, kind=kind, summary=summary, data=data or {}, created_at=at, actor_id=actor_id
        )  # fmt: skip
    )


def seed_leads(session: Session, coach: User, tz_name: str, *, now: datetime | None = None) -> int:
    """Create the demo leads with bookings, notes and timelines (commits); returns how many."""
    now = now or utcnow()
    rng = random.Random(20240917)
    slots = _SlotPicker(rng, tz_name)
    local_today = now.astimezone(zone(tz_name)).date()
    stages = [s for s, w in STAGE_WEIGHTS for _ in range(w)]
    upcoming_left = 10
    for n in range(LEADS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        source, utm = rng.choice(SOURCES)
        created = now - timedelta(days=rng.uniform(0, 89.5), minutes=rng.randint(0, 600))
        stage = rng.choice(stages)
        # Leads from the last few days are mostly still new or waiting for their call.
        if created > now - timedelta(days=4) and stage not in (Stage.NEW, Stage.CALL_BOOKED):
            stage = rng.choice([Stage.NEW, Stage.CALL_BOOKED])
        lead = Lead(
            email=f"{first}.{last}.{n}@{DEMO_LEAD_DOMAIN}".lower(),
            name=f"{first} {last}",
            phone=f"+1 702 555 {rng.randint(1000, 9999)}" if rng.random() < 0.7 else "",
            goal_race=rng.choice(RACES),
            goal_date=(local_today + timedelta(days=rng.randint(30, 240)))
            if rng.random() < 0.6
            else None,
            pain_level=rng.randint(0, 8),
            pain_notes=rng.choice(PAIN),
            heard_from=source if source != "direct" else "",
            marketing_consent=rng.random() < 0.5,
            source=source,
            utm=utm,
            stage=stage,
            lost_reason=rng.choice(LOST_REASONS) if stage == Stage.LOST else "",
            created_at=created,
            updated_at=created,
        )
        session.add(lead)
        _event(session, lead, "created", f"Lead created ({source})", created)
        at = created
        skip_call = stage == Stage.LOST and rng.random() < 0.3
        if stage != Stage.NEW and not skip_call:
            at, start = _book(session, rng, slots, lead, stage, created, now, upcoming_left > 0)
            if start > now:
                upcoming_left -= 1
        path = {
            Stage.CALL_HELD: [Stage.CALL_HELD],
            Stage.OFFER_SENT: [Stage.CALL_HELD, Stage.OFFER_SENT],
            Stage.ENROLLED: [Stage.CALL_HELD, Stage.OFFER_SENT, Stage.ENROLLED],
            Stage.LOST: [Stage.LOST],
        }.get(stage, [])
        previous = Stage.CALL_BOOKED if lead.stage != Stage.NEW and at != created else Stage.NEW
        step_at = min(max(at, created), now)
        for target in path:
            step_at = min(step_at + timedelta(hours=rng.randint(1, 72)), now)
            summary = f"Stage: {previous.label} → {target.label}"
            if target == Stage.LOST:
                summary += f" ({lead.lost_reason})"
            _event(session, lead, "stage_changed", summary, step_at,
                   {"from": previous.value, "to": target.value, "lost_reason": lead.lost_reason},
                   coach.id)  # fmt: skip
            previous = target
        lead.updated_at = step_at
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 2)):
                note_at = min(step_at + timedelta(hours=rng.randint(1, 48)), now)
                body = rng.choice(NOTES)
                session.add(Note(lead=lead, body=body, author_id=coach.id, created_at=note_at,
                                 updated_at=note_at))  # fmt: skip
                _event(session, lead, "note_added", f"Note: {body[:120]}", note_at,
                       actor_id=coach.id)  # fmt: skip
    session.commit()
    return LEADS


def _book(session, rng, slots, lead, stage, created, now, may_be_upcoming):
    """A booking that fits the lead's stage; returns (when it was booked, when the call is)."""
    tz_today = now.date()
    if stage == Stage.CALL_BOOKED and may_be_upcoming:
        start = slots.near(tz_today + timedelta(days=rng.randint(0, 9)), after=now)
    else:
        start = slots.near((created + timedelta(days=rng.randint(1, 4))).date(), after=created)
        if start > now - timedelta(hours=1) and stage != Stage.CALL_BOOKED:
            # A call that should be over already: put it just after the lead arrived.
            start = slots.near(created.date(), after=created - timedelta(days=3))
    if stage == Stage.CALL_BOOKED:
        status = BookingStatus.BOOKED
    elif stage == Stage.LOST and rng.random() < 0.5:
        status = BookingStatus.NO_SHOW
    else:
        status = BookingStatus.HELD
    booked_at = min(created + timedelta(minutes=rng.randint(2, 30)), now)
    session.add(
        Booking(
            lead=lead,
            start_at=start,
            end_at=start + timedelta(minutes=20),
            slot_start=start,
            status=status,
            timezone=lead.timezone or "America/Los_Angeles",
            created_at=booked_at,
        )
    )
    _event(session, lead, "booked", f"Free call booked for {start:%Y-%m-%d %H:%M} UTC", booked_at)
    if status in (BookingStatus.HELD, BookingStatus.NO_SHOW) and start < now:
        label = "Call held" if status == BookingStatus.HELD else "No-show"
        _event(session, lead, f"call_{status.value}", label, start + timedelta(minutes=25))
    return booked_at, start


def attribute_bookings_to_articles(session: Session, *, now: datetime | None = None) -> int:
    """Say which article a share of the calls booked after it was published came from (the
    newest one then out as the last touch, the oldest as the first), as the booking page records
    it. Every client who booked after an article came out read it: the articles bring clients.
    Returns how many."""
    now = now or utcnow()
    if session.scalar(select(func.count()).select_from(BookingAttribution)):
        return 0
    articles = session.scalars(
        select(Article)
        .where(Article.status == ArticleStatus.PUBLISHED, Article.published_at <= now)
        .order_by(Article.published_at)
    ).all()
    if not articles:
        return 0
    rng = random.Random(4242)
    bookings = session.execute(
        select(Booking.id, Booking.created_at, Lead.stage)
        .join(Lead, Lead.id == Booking.lead_id)
        .where(Booking.created_at >= articles[0].published_at)
        .order_by(Booking.created_at, Booking.id)
    ).all()
    made = 0
    for booking_id, booked_at, stage in bookings:
        if stage != Stage.ENROLLED and rng.random() > 0.35:
            continue
        read = [a for a in articles if a.published_at <= booked_at]
        row = record_booking_attribution(
            session,
            booking_id,
            first_touch=f"{TOUCH_PREFIX}{read[0].slug}",
            last_touch=f"{TOUCH_PREFIX}{read[-1].slug}",
        )
        if row is not None:
            row.created_at = booked_at
            for event in session.scalars(
                select(LeadEvent).where(
                    LeadEvent.lead_id == row.lead_id, LeadEvent.kind == "attribution"
                )
            ):
                event.created_at = booked_at
            made += 1
    session.commit()
    return made

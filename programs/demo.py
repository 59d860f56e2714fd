"""`flask seed-demo`: the whole demo story — the coach, her availability, ~200 leads with calls
(crm.demo), her articles, and paying runners with plans and logs, through the real services.

Each demo client goes the way a real one does — an offer, the offline test checkout, fulfilment,
an intake and a few weeks of logs — so the payments ledger, the revenue card, the client list and
the coach's flags all show something true on first run.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.accounts.services import count_coaches
from crm.alerts.models import CoachFlag, FlagKind
from crm.articles.cli import seed_demo_articles
from crm.billing import catalogue, checkout, offers
from crm.billing.models import CheckoutAttempt, Enrolment, Offer, Programme
from crm.billing.stripe_events import invoice_paid
from crm.demo import (
    DEMO_EMAIL,
    DEMO_LEAD_DOMAIN,
    DEMO_PASSWORD,
    LEADS,
    attribute_bookings_to_articles,
    ensure_coach,
    ensure_settings,
    seed_leads,
)
from crm.leads.models import Lead, LeadEvent, Stage
from crm.time import utcnow, zone
from extensions import db
from programs.community.members import save_settings
from programs.community.models import Post
from programs.community.moderation import set_pinned
from programs.community.posts import create_post, share_milestone, toggle_reaction
from programs.intake import submit_intake
from programs.logs import record_workout
from programs.plans import load_plan

CLIENTS = 10
DEMO_PROFILES = (
    {
        "ability": "run_minutes",
        "run_minutes": 1,
        "days": [0, 2, 4, 5],
        "equipment": ["band"],
        "pain_area": "knee",
        "pain_level": 4,
        "race_type": "rundisney",
        "race_weeks": 10,
    },
    {
        "ability": "walk_only",
        "days": [1, 3, 5],
        "equipment": [],
        "pain_area": "none",
        "pain_level": 0,
    },
    {
        "ability": "run_minutes",
        "run_minutes": 15,
        "days": [0, 1, 3, 4, 6],
        "equipment": ["dumbbell", "machine"],
        "pain_area": "shin",
        "pain_level": 2,
        "race_type": "5k",
        "race_weeks": 6,
    },
    {
        "ability": "run_minutes",
        "run_minutes": 3,
        "days": [0, 2, 5],
        "equipment": ["band"],
        "pain_area": "it_band",
        "pain_level": 3,
    },
)


def ensure_programme(session: Session) -> Programme:
    """The coach's flagship programme with a pay-in-full and an instalment price."""
    programme = session.scalar(select(Programme).order_by(Programme.id))
    if programme is not None:
        return programme
    programme = catalogue.save_programme(
        session,
        name="0 to 5K Hero — 12 weeks",
        description=(
            "A personal run/walk plan from your first minute of running to 5K without walking, "
            "hip strength in every direction, injury coaching from a physical therapist and "
            "weekly check-ins."
        ),
        weeks=12,
    )
    catalogue.add_price(session, programme.id, kind="one_time", amount_cents=29900)
    catalogue.add_price(
        session, programme.id, kind="instalments", amount_cents=11000, instalments=3
    )
    return programme


def seed_clients(
    session: Session, *, today: date, now: datetime | None = None, seed: int = 7
) -> int:
    """Enrol CLIENTS of the offer-sent leads, spread over the last ~11 weeks, each through the
    offline checkout and fulfilment; backdate what those services stamped "now" to the day she
    paid, add the instalments paid since, and give each a plan she has been following."""
    if session.scalar(select(func.count()).select_from(Enrolment)):
        return 0
    now = now or utcnow()
    rng = random.Random(seed)
    programme = ensure_programme(session)
    candidates = session.scalars(
        select(Lead)
        .where(
            Lead.stage == Stage.OFFER_SENT,
            Lead.created_at >= now - timedelta(days=80),
            Lead.created_at <= now - timedelta(days=12),
        )
        .order_by(Lead.created_at, Lead.id)
    ).all()
    # Evenly spread from the oldest to the newest, so some paid last month and one this month.
    picks = sorted({round(i * (len(candidates) - 1) / (CLIENTS - 1)) for i in range(CLIENTS)})
    leads = [candidates[i] for i in picks] if candidates else []
    for n, lead in enumerate(leads):
        paid_at = min(
            max(lead.updated_at, lead.created_at) + timedelta(days=rng.uniform(1, 3)),
            now - timedelta(days=9),
        )
        stamped_from = utcnow()
        offer = offers.send_offer(session, lead.id, programme.id)
        price = programme.active_prices[n % len(programme.active_prices)]
        checkout_url = checkout.start_checkout(session, offers.offer_token(offer), price.id)
        session_id = urlsplit(checkout_url).path.rstrip("/").rsplit("/", 1)[-1]
        checkout.complete_offline_checkout(session, session_id)
        enrolment = checkout.fulfil_checkout(session, session_id)
        _backdate_enrolment(session, enrolment, offer, stamped_from, paid_at, programme.weeks)
        if enrolment.stripe_subscription_id:
            _pay_instalments(session, enrolment, paid_at, now)
        start = _plan_start(paid_at, zone("America/New_York"))
        shape = DEMO_PROFILES[n % len(DEMO_PROFILES)]
        _start_plan(
            session, enrolment.user_id, shape, start, today, rng, hurting=n == len(leads) - 1
        )
    _settle_old_flags(session, today)
    return len(leads)


def _settle_old_flags(session: Session, today: date) -> None:
    """Date each pain flag on the day of the pain, and resolve those over a week old, as the
    coach would have: what stays open is this week's."""
    for flag in session.scalars(select(CoachFlag).where(CoachFlag.kind == FlagKind.PAIN)):
        found = re.search(r"\d{4}-\d{2}-\d{2}", flag.key)
        if found is None:
            continue
        day = date.fromisoformat(found.group())
        flag.created_at = datetime.combine(day + timedelta(days=1), time(1), tzinfo=UTC)
        if day < today - timedelta(days=7):
            flag.resolved_at = flag.created_at + timedelta(hours=15)
    session.commit()


def _backdate_enrolment(
    session: Session,
    enrolment: Enrolment,
    offer: Offer,
    stamped_from: datetime,
    paid_at: datetime,
    weeks: int,
) -> None:
    """Move what the offer, checkout and fulfilment stamped at `stamped_from` or later to the
    day the client paid: the ledger, the revenue card and her timeline then tell one story."""
    sent_at = paid_at - timedelta(hours=6)
    offer.created_at = sent_at
    offer.expires_at = sent_at + (offer.expires_at - stamped_from)
    enrolment.started_at = paid_at
    enrolment.access_until = paid_at + timedelta(weeks=weeks)
    for payment in enrolment.payments:
        payment.paid_at = payment.created_at = paid_at
    for attempt in session.scalars(
        select(CheckoutAttempt).where(CheckoutAttempt.offer_id == offer.id)
    ):
        attempt.created_at = sent_at
    for event in session.scalars(
        select(LeadEvent).where(
            LeadEvent.lead_id == enrolment.lead_id, LeadEvent.created_at >= stamped_from
        )
    ):
        to_offer = event.kind == "offer_sent" or (event.data or {}).get("to") == "offer_sent"
        event.created_at = sent_at if to_offer else paid_at
    lead = session.get(Lead, enrolment.lead_id)
    lead.updated_at = paid_at
    user = session.get(User, enrolment.user_id)
    user.created_at = paid_at
    session.commit()


def _pay_instalments(
    session: Session, enrolment: Enrolment, first: datetime, now: datetime
) -> None:
    """The monthly instalments paid since the first, as Stripe's invoice.paid would record them."""
    for month in range(1, enrolment.price.instalments):
        due = first + timedelta(days=30 * month)
        if due > now:
            return
        stamped_from = utcnow()
        invoice_paid(
            session,
            {
                "id": f"in_offline_demo_{enrolment.id}_{month}",
                "subscription": enrolment.stripe_subscription_id,
                "amount_paid": enrolment.price.amount_cents,
                "currency": enrolment.price.currency,
                "status_transitions": {"paid_at": int(due.timestamp())},
            },
        )
        for event in session.scalars(
            select(LeadEvent).where(
                LeadEvent.lead_id == enrolment.lead_id,
                LeadEvent.kind.in_(("payment", "plan_completed")),
                LeadEvent.created_at >= stamped_from,
            )
        ):
            event.created_at = due
        session.commit()


def _plan_start(paid_at: datetime, tz) -> date:
    """The Monday after she paid (her intake takes a day or two)."""
    day = paid_at.astimezone(tz).date() + timedelta(days=2)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _start_plan(
    session: Session, user_id: int, shape: dict, start: date, today: date, rng, *, hurting: bool
) -> None:
    values = {k: v for k, v in shape.items() if k != "race_weeks"}
    values["start_date"] = start
    if "race_weeks" in shape:
        values["race_date"] = today + timedelta(weeks=shape["race_weeks"])
    values["timezone"] = "America/New_York"
    record = submit_intake(session, user_id, values)
    # Made when she filled in the intake, so the coach's flags watch her logs from then.
    record.created_at = datetime.combine(start - timedelta(days=2), time(18), tzinfo=UTC)
    session.commit()
    plan = load_plan(record)
    quiet_from = today - timedelta(days=rng.choice((2, 3, 9)))  # some clients go silent
    if hurting:
        quiet_from = today
    logged = [s for w in plan.weeks for s in w.sessions if s.date < min(today, quiet_from)]
    for day in logged:
        roll = rng.random()
        status = "skipped" if roll < 0.12 else ("partial" if roll < 0.25 else "done")
        pain = None if status == "skipped" else _pain(rng)
        if hurting and day is logged[-1]:
            # Mid-plan and a bad day yesterday: the flag the coach has to look at.
            status, pain = "partial", 6
        effort = None if status == "skipped" else rng.randint(3, 8)
        record_workout(session, user_id, day.date, status, effort, pain, kind=day.kind, today=today)


WELCOME = (
    "Welcome to the 0 to 5K Hero community! This is our corner for sharing wins, asking "
    "questions and cheering each other on. Post your first run, your sore-hip days and your "
    "race photos. Tip of the week: your hips decide where your knee lands, so keep up the "
    "side-lying leg lifts even on run days. - Coach Ali"
)
RUNNER_POSTS = (
    "Week 3 done! The run/walk felt easier today and my knee stayed quiet on the stairs after.",
    "Anyone else doing the clamshells with the band while the kids watch TV? It counts, right?",
    "Signed up for the Princess 5K in February. Terrified and excited.",
)
MILESTONE_SHARES = ("first_run", "first_run", "continuous_10", "first_run")


def seed_community(session: Session, coach_id: int, now: datetime) -> int:
    """The coach's pinned welcome post, a few clients' posts, milestones and cheers, dated
    after each client started. Returns how many posts were made (none when posts exist)."""
    if session.scalar(select(func.count()).select_from(Post)):
        return 0
    enrolments = session.scalars(select(Enrolment).order_by(Enrolment.started_at)).all()
    if not enrolments:
        return 0
    welcome = create_post(session, coach_id, WELCOME)
    set_pinned(session, coach_id, welcome.id, True)
    welcome.created_at = enrolments[0].started_at - timedelta(days=1)
    posts = [welcome]
    for n, enrolment in enumerate(enrolments):
        user_id = enrolment.user_id
        age = now - enrolment.started_at
        user = session.get(User, user_id)
        save_settings(session, user_id, display_name=f"{user.first_name} {user.last_name[:1]}.")
        if n < len(MILESTONE_SHARES):
            post = share_milestone(session, user_id, MILESTONE_SHARES[n])
            post.created_at = enrolment.started_at + age * 0.4
            posts.append(post)
        if n % 3 == 1:
            post = create_post(session, user_id, RUNNER_POSTS[(n // 3) % len(RUNNER_POSTS)])
            post.created_at = enrolment.started_at + age * 0.7
            posts.append(post)
        for target in posts[-3:]:
            if target.author_id != user_id:
                toggle_reaction(session, user_id, target.id, ("cheer", "heart", "strong")[n % 3])
    for post in posts[1:]:
        toggle_reaction(session, coach_id, post.id, "strong")
    session.commit()
    return len(posts)


def _pain(rng: random.Random) -> int:
    # Mostly comfortable, now and then a bad day that the plan and the coach must react to.
    return 6 if rng.random() < 0.03 else rng.choice((0, 0, 1, 1, 2, 2, 3, 3, 4))


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when a coach account exists.")
@with_appcontext
def seed_demo(if_empty: bool) -> None:
    """Create the demo coach, her availability and ~200 leads with calls, notes and timelines."""
    session = db.session
    if if_empty and count_coaches(session):
        click.echo("A coach account exists: demo data not added.")
        return
    coach, created = ensure_coach(session)
    settings = ensure_settings(session)
    demo_leads = session.scalar(
        select(func.count()).select_from(Lead).where(Lead.email.like(f"%@{DEMO_LEAD_DOMAIN}"))
    )
    if demo_leads:
        click.echo(f"{demo_leads} demo leads exist already: none added.")
    else:
        with click.progressbar(length=1, label="Creating demo leads") as bar:
            seed_leads(session, coach, settings.timezone)
            bar.update(1)
        click.echo(f"{LEADS} demo leads created.")
    now = utcnow()
    today = now.astimezone(zone(settings.timezone)).date()
    articles = seed_demo_articles(session)
    clients = seed_clients(session, today=today, now=now)
    attributed = attribute_bookings_to_articles(session, now=now) if clients else 0
    posts = seed_community(session, coach.id, now) if clients else 0
    click.echo(
        f"{clients} demo clients enrolled with plans; {articles} demo articles written; "
        f"{attributed} calls booked from articles; {posts} community posts."
    )
    click.echo("")
    if created:
        click.echo(f"Demo coach login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    else:
        click.echo(f"Demo coach login: {DEMO_EMAIL} (password unchanged)")

"""`flask seed-demo`: the whole demo story — the coach, her availability, ~200 leads with calls
(crm.demo), her articles, and paying runners with plans and logs, through the real services.

Each demo client goes the way a real one does — an offer, the offline test checkout, fulfilment,
an intake and a few weeks of logs — so the payments ledger, the revenue card, the client list and
the coach's flags all show something true on first run.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from urllib.parse import urlsplit

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.accounts.services import count_coaches
from crm.articles.cli import seed_demo_articles
from crm.billing import catalogue, checkout, offers
from crm.billing.models import Enrolment, Programme
from crm.demo import (
    DEMO_EMAIL,
    DEMO_LEAD_DOMAIN,
    DEMO_PASSWORD,
    LEADS,
    ensure_coach,
    ensure_settings,
    seed_leads,
)
from crm.leads.models import Lead, Stage
from crm.time import utcnow, zone
from extensions import db
from programs.intake import submit_intake
from programs.logs import record_workout
from programs.plans import load_plan

CLIENTS = 8
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


def seed_clients(session: Session, *, today: date, seed: int = 7) -> int:
    """Enrol up to CLIENTS leads who were sent an offer, give each a plan and some logs."""
    if session.scalar(select(func.count()).select_from(Enrolment)):
        return 0
    rng = random.Random(seed)
    programme = ensure_programme(session)
    leads = session.scalars(
        select(Lead).where(Lead.stage == Stage.OFFER_SENT).order_by(Lead.id).limit(CLIENTS)
    ).all()
    for n, lead in enumerate(leads):
        offer = offers.send_offer(session, lead.id, programme.id)
        price = programme.active_prices[n % len(programme.active_prices)]
        checkout_url = checkout.start_checkout(session, offers.offer_token(offer), price.id)
        session_id = urlsplit(checkout_url).path.rstrip("/").rsplit("/", 1)[-1]
        checkout.complete_offline_checkout(session, session_id)
        enrolment = checkout.fulfil_checkout(session, session_id)
        _start_plan(session, enrolment.user_id, DEMO_PROFILES[n % len(DEMO_PROFILES)], today, rng)
    return len(leads)


def _start_plan(session: Session, user_id: int, shape: dict, today: date, rng) -> None:
    start = today - timedelta(days=21 + rng.randrange(7))
    start -= timedelta(days=start.weekday())  # plans start on a Monday
    values = {k: v for k, v in shape.items() if k != "race_weeks"}
    values["start_date"] = start
    if "race_weeks" in shape:
        values["race_date"] = start + timedelta(weeks=shape["race_weeks"])
    values["timezone"] = "America/New_York"
    record = submit_intake(session, user_id, values)
    plan = load_plan(record)
    quiet_from = today - timedelta(days=rng.choice((2, 3, 9)))  # some clients go silent
    for week in plan.weeks:
        for day in week.sessions:
            if day.date >= min(today, quiet_from):
                continue
            roll = rng.random()
            status = "skipped" if roll < 0.12 else ("partial" if roll < 0.25 else "done")
            pain = None if status == "skipped" else _pain(rng)
            effort = None if status == "skipped" else rng.randint(3, 8)
            record_workout(
                session, user_id, day.date, status, effort, pain, kind=day.kind, today=today
            )


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
    clients = seed_clients(session, today=utcnow().astimezone(zone(settings.timezone)).date())
    articles = seed_demo_articles(session)
    click.echo(f"{clients} demo clients enrolled with plans; {articles} demo articles written.")
    click.echo("")
    if created:
        click.echo(f"Demo coach login: {DEMO_EMAIL} / {DEMO_PASSWORD}")
    else:
        click.echo(f"Demo coach login: {DEMO_EMAIL} (password unchanged)")

from __future__ import annotations

from sqlalchemy import func, select

from crm.accounts.models import Role, User
from crm.booking.models import AvailabilityWindow, Booking, BookingStatus
from crm.leads.models import Lead, LeadEvent, Note, Stage
from extensions import db
from programs.demo import CLIENTS


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_seed_demo_fills_every_stage_once(cli_runner):
    result = cli_runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "coach@example.com / hero-demo-coach" in result.output
    assert _count(User, User.role == Role.COACH) == 1
    assert _count(Lead) == 200
    stages = set(db.session.scalars(select(Lead.stage).distinct()))
    assert stages == set(Stage)
    assert _count(AvailabilityWindow) > 0
    assert _count(Booking, Booking.status == BookingStatus.HELD) > 10
    assert _count(Booking, Booking.status == BookingStatus.NO_SHOW) > 0
    assert _count(Note) > 20 and _count(LeadEvent) > 400
    starts = list(
        db.session.scalars(select(Booking.slot_start).where(Booking.slot_start.is_not(None)))
    )
    assert len(starts) == len(set(starts))

    again = cli_runner.invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0
    assert "demo data not added" in again.output
    twice = cli_runner.invoke(args=["seed-demo"])
    assert twice.exit_code == 0, twice.output
    assert _count(Lead) == 200 and _count(User, User.role == Role.COACH) == 1
    assert _count(User, User.role == Role.RUNNER) == CLIENTS  # the demo clients, once


def test_seed_demo_is_deterministic(cli_runner):
    cli_runner.invoke(args=["seed-demo"])
    names = list(db.session.scalars(select(Lead.name).order_by(Lead.id).limit(5)))
    assert names == list(db.session.scalars(select(Lead.name).order_by(Lead.id).limit(5)))
    assert len(set(names)) > 1


def test_seed_demo_enrols_clients_with_plans_payments_and_articles(cli_runner):
    from crm.articles.models import Article
    from crm.billing.models import Enrolment, Payment
    from programs.models import PlanRecord, WorkoutLog

    result = cli_runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert _count(Enrolment) == CLIENTS <= _count(Payment)
    assert _count(PlanRecord, PlanRecord.active.is_(True)) == CLIENTS
    assert _count(WorkoutLog) > CLIENTS * 5
    assert _count(Article) == 3
    enrolled = _count(Lead, Lead.stage == Stage.ENROLLED, Lead.user_id.is_not(None))
    assert enrolled == CLIENTS

"""The demo data tells one story: the cards and lists of the coach's pages agree."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm.alerts.models import CoachFlag
from crm.articles.services import articles_attribution
from crm.billing.models import Payment
from crm.billing.reports import revenue_summary
from crm.dashboard.services import funnel
from crm.time import utcnow
from extensions import db
from programs.client_list import client_overview
from programs.community.models import Post, PostKind
from programs.demo import CLIENTS
from programs.plans import active_plan, load_plan


def test_the_seeded_demo_agrees_with_itself(cli_runner):
    # One seeding (it takes a while) for all the agreements below.
    result = cli_runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    now = utcnow()
    _funnel_enrolled_equals_the_client_list(now)
    _payments_spread_over_the_months_clients_trained(now)
    _articles_brought_calls_and_clients()
    _community_has_the_coachs_welcome_posts_and_milestones()
    _a_client_mid_plan_has_a_flag_to_resolve(now)


def _funnel_enrolled_equals_the_client_list(seeded):
    enrolled = {step.label: step.count for step in funnel(db.session, seeded)}["Enrolled"]
    clients = client_overview(db.session, seeded.date())
    assert enrolled == len(clients) == CLIENTS


def _payments_spread_over_the_months_clients_trained(seeded):
    summary = revenue_summary(db.session, seeded)
    assert summary["last_month_cents"] > 0
    months = {(p.paid_at.year, p.paid_at.month) for p in db.session.scalars(select(Payment))}
    assert len(months) >= 3
    first_paid = db.session.scalar(select(func.min(Payment.paid_at)))
    assert first_paid < seeded - timedelta(days=45)


def _articles_brought_calls_and_clients():
    rows = articles_attribution(db.session)
    assert sum(r["calls_booked"] for r in rows) >= 3
    assert any(r["clients_enrolled"] for r in rows)


def _community_has_the_coachs_welcome_posts_and_milestones():
    posts = db.session.scalars(select(Post)).all()
    pinned = [p for p in posts if p.pinned]
    assert pinned and pinned[0].author.role == "coach" and "Welcome" in pinned[0].body
    assert sum(p.kind == PostKind.MILESTONE for p in posts) >= 3
    assert sum(p.kind == PostKind.POST and not p.pinned for p in posts) >= 2


def _a_client_mid_plan_has_a_flag_to_resolve(seeded):
    today = seeded.date()
    mid_plan_flagged = []
    for row in client_overview(db.session, today):
        plan = load_plan(active_plan(db.session, row.user.id))
        started = plan.profile.start_date < today
        ends_later = max(s.date for s in plan.sessions) > today
        if started and ends_later and row.open_flags:
            mid_plan_flagged.append(row)
    assert mid_plan_flagged
    # Old pain flags were seen to; the open ones are recent.
    old_open = db.session.scalar(
        select(func.count())
        .select_from(CoachFlag)
        .where(CoachFlag.resolved_at.is_(None), CoachFlag.created_at < seeded - timedelta(days=9))
    )
    assert old_open == 0

"""A runner's Today, week and plan show her own sessions: with two runners planned differently,
each page holds the dates and run/walk steps of her plan and none of the other's.

The access tests look for the other runner's name and notes, which a plan does not contain; these
compare the sessions themselves, so a page that loads the wrong runner's plan fails here."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from programs.intake import submit_intake
from programs.plans import active_plan, load_plan
from tests.factories import intake_values
from tests.programs.conftest import TIMEZONE

TODAY = date(2030, 3, 13)  # a Wednesday: a training day in both plans below
DAY_LINK = re.compile(r'href="/portal/day/(\d{4}-\d{2}-\d{2})"')
SEGMENTS = re.compile(r"<script type=\"application/json\" data-timer-segments>(.*?)</script>", re.S)


@pytest.fixture
def two_plans(db_session, runner, other_runner):
    """Maya runs 1 minute on Mon/Wed/Fri/Sat from 4 March; Rosa runs 8, Wed/Fri/Sun from 6."""
    submit_intake(db_session, runner.id, intake_values(date(2030, 3, 4), timezone=TIMEZONE))
    submit_intake(
        db_session,
        other_runner.id,
        intake_values(
            date(2030, 3, 6),
            timezone=TIMEZONE,
            run_minutes=8,
            days=[2, 4, 6],
            long_run_day=6,
            pain_area="none",
            pain_level=0,
        ),
    )
    return {
        who: load_plan(active_plan(db_session, user.id))
        for who, user in (("maya", runner), ("rosa", other_runner))
    }


def session_dates(plan, week_of: date | None = None) -> set[str]:
    return {
        s.date.isoformat()
        for w in plan.weeks
        if week_of is None or w.start_date <= week_of < w.start_date + timedelta(days=7)
        for s in w.sessions
    }


def todays_run_walk(plan) -> list:
    return [
        s.to_dict()["segments"]
        for w in plan.weeks
        for s in w.sessions
        if s.date == TODAY and s.kind == "run_walk"
    ]


def test_the_two_plans_differ_where_the_pages_are_compared(two_plans):
    maya, rosa = two_plans["maya"], two_plans["rosa"]
    assert session_dates(maya) != session_dates(rosa)
    assert session_dates(maya, TODAY) != session_dates(rosa, TODAY)
    assert todays_run_walk(maya) and todays_run_walk(rosa)
    assert todays_run_walk(maya) != todays_run_walk(rosa)


@pytest.mark.parametrize("who", ["maya", "rosa"])
def test_each_runner_sees_her_own_plan_week_and_today(
    client, auth, runner, other_runner, two_plans, who
):
    mine = two_plans[who]
    theirs = two_plans["rosa" if who == "maya" else "maya"]
    with time_machine.travel(datetime(2030, 3, 13, 16, tzinfo=UTC), tick=False):
        auth.login(runner if who == "maya" else other_runner)
        plan_page = client.get("/portal/plan")
        week_page = client.get("/portal/week")
        today_page = client.get("/portal")
    for page in (plan_page, week_page, today_page):
        assert page.status_code == 200, page.headers.get("Location")

    assert set(DAY_LINK.findall(plan_page.get_data(as_text=True))) == session_dates(mine)
    assert set(DAY_LINK.findall(week_page.get_data(as_text=True))) == session_dates(mine, TODAY)

    today_html = today_page.get_data(as_text=True)
    shown = [json.loads(raw) for raw in SEGMENTS.findall(today_html)]
    assert shown == todays_run_walk(mine)
    assert todays_run_walk(theirs)[0] not in shown
    # Her "next" link points at one of her own days.
    assert set(DAY_LINK.findall(today_html)) <= session_dates(mine)

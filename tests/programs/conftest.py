"""Fixtures for the programs tests: a runner with a plan, a clock in her time zone."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from programs.intake import submit_intake
from tests.factories import PLAN_START, intake_values

START = PLAN_START
# The portal's runner lives in New York (the intake's default is Los Angeles).
TIMEZONE = "America/New_York"


@pytest.fixture
def runner(make_user):
    return make_user(role="runner", first_name="Maya", email="maya@example.com")


@pytest.fixture
def other_runner(make_user):
    return make_user(role="runner", first_name="Rosa", email="rosa@example.com")


@pytest.fixture
def planned_runner(db_session, runner):
    """A runner who has done her intake: knee 2/10, runs 1 minute, 4 days, a band."""
    submit_intake(db_session, runner.id, intake_values(timezone=TIMEZONE))
    return runner


def day(offset: int) -> date:
    return START + timedelta(days=offset)

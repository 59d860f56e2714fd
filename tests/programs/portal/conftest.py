"""Fixtures for the portal tests: a runner with a plan, a clock in her time zone."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from programs import services

# A Monday, so plan weeks line up with calendar weeks in the assertions.
START = date(2030, 3, 4)


def intake_values(**overrides) -> dict:
    values = {
        "ability": "run_minutes",
        "run_minutes": 1,
        "days": [0, 2, 4, 5],
        "long_run_day": 5,
        "equipment": ["none", "band"],
        "pain_area": "knee",
        "pain_level": 2,
        "start_date": START,
        "race_date": None,
        "race_type": None,
        "age": 42,
        "timezone": "America/New_York",
    }
    values.update(overrides)
    return values


@pytest.fixture
def runner(make_user):
    return make_user(role="runner", first_name="Maya", email="maya@example.com")


@pytest.fixture
def other_runner(make_user):
    return make_user(role="runner", first_name="Rosa", email="rosa@example.com")


@pytest.fixture
def planned_runner(db_session, runner):
    """A runner who has done her intake: knee 2/10, runs 1 minute, 4 days, a band."""
    services.submit_intake(db_session, runner.id, intake_values())
    return runner


def day(offset: int) -> date:
    return START + timedelta(days=offset)

"""Fixtures for the client emails: runners with a plan, made through the portal's own intake."""

from __future__ import annotations

from datetime import date

import pytest


def intake_values(start: date, **overrides) -> dict:
    values = {
        "ability": "run_minutes",
        "run_minutes": 1,
        "days": [0, 2, 4, 5],
        "long_run_day": 5,
        "equipment": ["none", "band"],
        "pain_area": "knee",
        "pain_level": 2,
        "start_date": start,
        "race_date": None,
        "race_type": None,
        "age": 42,
        "timezone": "America/Los_Angeles",
    }
    values.update(overrides)
    return values


@pytest.fixture
def make_client(db_session, make_user):
    """A runner who has done her intake (an active plan), in `timezone`, starting on `start`."""
    from programs import services

    def make(start: date, *, email: str | None = None, first_name: str = "Maya", **overrides):
        user = make_user(
            role="runner", first_name=first_name, **({"email": email} if email else {})
        )
        services.submit_intake(db_session, user.id, intake_values(start, **overrides))
        return user

    return make

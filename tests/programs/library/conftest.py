"""Fixtures for the coach's exercise library: a form-shaped exercise and a runner with a plan."""

from __future__ import annotations

import pytest

from programs.intake import submit_intake
from tests.factories import intake_values
from tests.programs.conftest import TIMEZONE


def form_data(**overrides) -> dict:
    """What the add-exercise form posts for a valid, no-equipment abduction exercise."""
    data = {
        "slug": "wall-lean-side-raise",
        "name": "Wall-lean side raise",
        "instructions": "Lean a shoulder on a wall, outside leg straight. Lift it out to the side.",
        "cue": "Toes point forward, not up.",
        "direction": "abduction",
        "knee": "straight",
        "position": "standing",
        "equipment": "none",
        "sets": "2",
        "reps": "12",
        "seconds": "",
        "per_side": "yes",
        "easier": "",
        "harder": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def coach_in(auth, coach):
    auth.login(coach)
    return coach


@pytest.fixture
def runner_with_plan(db_session, make_user):
    """A runner with knee pain 2/10, a band and no other equipment, and her plan."""
    runner = make_user(role="runner", first_name="Maya", email="maya@example.com")
    submit_intake(db_session, runner.id, intake_values(timezone=TIMEZONE))
    return runner

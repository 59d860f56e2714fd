"""Golden plans for three typical clients, rendered as text a coach can read.

Regenerate after a deliberate rule change with ``UPDATE_GOLDEN=1 pytest tests/programs/engine``
and read the diff before committing it.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from programs.engine import Profile, generate_plan, render_text

GOLDEN = Path(__file__).with_name("golden")
START = date(2025, 3, 3)  # a Monday

PERSONAS = {
    # 42, knee pain 4/10, runs 1 minute, owns a band, 4 days, runDisney 5K in 10 weeks.
    "knee_pain_rundisney": Profile(
        ability="run_minutes",
        run_minutes=1,
        days=(0, 2, 4, 5),
        equipment=frozenset({"band"}),
        pain_area="knee",
        pain_level=4,
        start_date=START,
        race_date=START + timedelta(weeks=10) - timedelta(days=2),
        race_type="rundisney",
        age=42,
    ),
    # Walker, no pain, no equipment, 3 days, no race.
    "walker_three_days": Profile(ability="walk_only", days=(1, 3, 5), start_date=START),
    # Runs 15 minutes, dumbbells and a gym machine, 5 days, a 5K in 5 weeks.
    "fifteen_minutes_race_in_five_weeks": Profile(
        ability="run_minutes",
        run_minutes=15,
        days=(0, 1, 3, 4, 6),
        equipment=frozenset({"dumbbell", "machine"}),
        start_date=START,
        race_date=START + timedelta(weeks=5) - timedelta(days=1),
        race_type="5k",
    ),
}


@pytest.mark.parametrize("name", sorted(PERSONAS))
def test_persona_plan_matches_golden_text(name: str) -> None:
    text = render_text(generate_plan(PERSONAS[name]))
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_knee_pain_rundisney_races_run_walk_inside_16_minute_miles() -> None:
    plan = generate_plan(PERSONAS["knee_pain_rundisney"])
    assert plan.adjusted and plan.race_strategy.holds_16_min_mile
    assert plan.race_strategy.expected_pace <= 900


def test_walker_finishes_with_thirty_minutes_of_running() -> None:
    plan = generate_plan(PERSONAS["walker_three_days"])
    assert plan.weeks[-1].longest_run_seconds == 1800
    assert all(any(s.block for s in w.runs) for w in plan.weeks)

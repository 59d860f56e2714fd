"""Golden plans for three typical clients, rendered as text a coach can read.

Regenerate after a deliberate rule change with ``UPDATE_GOLDEN=1 pytest tests/programs/engine``
and read the diff before committing it.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest

from programs.engine import Profile, generate_plan, load_library, render_text

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
    # Runs 5 minutes, 4 days, a 5K on a Monday eight weeks out: the weekday her plan starts.
    "race_on_start_weekday": Profile(
        ability="run_minutes",
        run_minutes=5,
        days=(0, 2, 4, 6),
        start_date=START,
        race_date=START + timedelta(weeks=8),
        race_type="5k",
    ),
    # Walks only, 3 days, a runDisney 5K three weeks away.
    "walker_race_in_three_weeks": Profile(
        ability="walk_only",
        days=(1, 3, 5),
        start_date=START,
        race_date=START + timedelta(weeks=3),
        race_type="rundisney",
    ),
    # 55, hip pain 3/10, owns only bands, runs 2 minutes, 4 days, no race.
    "hip_pain_55_bands_only": Profile(
        ability="run_minutes",
        run_minutes=2,
        days=(0, 2, 4, 5),
        equipment=frozenset({"band"}),
        pain_area="hip",
        pain_level=3,
        start_date=START,
        age=55,
    ),
    # Runs 10 minutes but her foot hurts 7/10 at intake; 5 days, no race.
    "foot_pain_seven_at_intake": Profile(
        ability="run_minutes",
        run_minutes=10,
        days=(0, 1, 3, 4, 6),
        pain_area="foot",
        pain_level=7,
        start_date=START,
        age=38,
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


def _running(plan, lo, hi) -> int:
    return sum(s.run_seconds for s in plan.sessions if lo <= s.date <= hi and not s.race)


def test_race_on_the_start_weekday_still_tapers_in_the_seven_days_before_it() -> None:
    profile = PERSONAS["race_on_start_weekday"]
    plan = generate_plan(profile)
    race, day = profile.race_date, timedelta(days=1)
    assert race.weekday() == START.weekday()
    taper = _running(plan, race - 7 * day, race - day)
    before = _running(plan, race - 14 * day, race - 8 * day)
    assert taper * 10 <= before * 7
    assert plan.weeks[-2].recovery  # the whole plan week before race day is lighter
    (rehearsal,) = [s for s in plan.sessions if s.rehearsal]
    assert 8 <= (race - rehearsal.date).days <= 14


def test_walker_three_weeks_out_walks_more_and_her_coach_hears_at_once() -> None:
    plan = generate_plan(PERSONAS["walker_race_in_three_weeks"])
    strategy = plan.race_strategy
    assert not strategy.continuous and strategy.run_seconds == 30
    assert strategy.walk_seconds >= 60  # walks more than she runs
    assert strategy.holds_16_min_mile is False
    assert "slower than runDisney's 16:00 per mile" in strategy.arithmetic
    assert "your coach knows" in plan.adjustment_reason
    (flag,) = [f for f in plan.flags if f.rule == "race-pace-at-risk"]
    assert flag.date == plan.profile.start_date
    race = next(s for s in plan.sessions if s.race)
    most = max(s.run_seconds for s in plan.sessions if s.kind == "run_walk" and not s.race)
    assert race.run_seconds * 4 <= most * 5


def test_hip_pain_at_55_with_bands_gets_the_whole_grid_and_no_impact() -> None:
    plan = generate_plan(PERSONAS["hip_pain_55_bands_only"])
    lib = load_library()
    for week in plan.weeks:
        items = [i for s in week.sessions for i in s.items + s.block]
        exercises = [lib[i.exercise_id] for i in items]
        assert {e.equipment for e in exercises} <= {"none", "band"}
        assert not any("impact" in e.tags for e in exercises)
        assert len({(e.direction, e.knee) for e in exercises}) == 12
    first = next(s for s in plan.sessions if s.kind == "run_walk")
    assert "Pain in your hip up to 3 out of 10 is fine" in first.why


def test_foot_pain_seven_starts_gentlest_flags_the_coach_and_guides_by_the_pain_model() -> None:
    plan = generate_plan(PERSONAS["foot_pain_seven_at_intake"])
    assert plan.weeks[0].level == 0
    (flag,) = [f for f in plan.flags if f.rule == "intake-pain-high"]
    assert "foot 7/10" in flag.reason
    first = next(s for s in plan.sessions if s.kind == "run_walk")
    assert "gentlest step" in first.why
    assert "above 5, stop, walk home and tell your coach" in first.why
    assert "above 3" not in first.why
    lib = load_library()
    assert not any(
        lib[i.exercise_id].tags for s in plan.sessions for i in s.items + s.block
    )  # neither knee-dominant nor impact moves at 7/10

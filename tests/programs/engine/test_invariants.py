"""Property tests: every plan for every valid profile keeps the invariants in plan.py.

Hypothesis profiles: "dev" (default, quick) and "ci" (more examples). Pick with
HERO_HYPOTHESIS_PROFILE=ci. They are applied per test rather than loaded globally, so other
test modules keep their own settings.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from programs.engine import Plan, Profile, generate_plan, load_library
from programs.engine.progression import LADDER
from programs.engine.strength import dose_step

settings.register_profile(
    "dev", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROFILE = settings.get_profile(os.environ.get("HERO_HYPOTHESIS_PROFILE", "dev"))

LIB = load_library()
DIRECTIONS = {
    "flexion",
    "extension",
    "abduction",
    "adduction",
    "external_rotation",
    "internal_rotation",
}


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    ability = draw(st.sampled_from(["walk_only", "run_minutes", "run_5k"]))
    days = draw(st.lists(st.integers(0, 6), min_size=3, max_size=6, unique=True))
    start = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 400)))
    race = None
    race_type = None
    if draw(st.booleans()):
        race = start + timedelta(days=draw(st.integers(1, 366)))
        race_type = draw(st.sampled_from(["5k", "rundisney"]))
    return Profile(
        ability=ability,
        run_minutes=draw(st.integers(1, 60)) if ability == "run_minutes" else None,
        days=tuple(days),
        long_run_day=draw(st.one_of(st.none(), st.sampled_from(days))),
        equipment=frozenset(
            draw(st.sets(st.sampled_from(["band", "dumbbell", "ankle_weight", "machine"])))
        ),
        pain_area=draw(st.sampled_from(["knee", "shin", "hip", "it_band", "foot", "none"])),
        pain_level=draw(st.integers(0, 10)),
        start_date=start,
        race_date=race,
        race_type=race_type,
        age=draw(st.one_of(st.none(), st.integers(13, 100))),
    )


def training_weeks(plan: Plan):
    return [w for w in plan.weeks if not w.recovery]


def strength_sessions(plan: Plan):
    """Every strength session in date order: own days and post-run blocks, as item tuples."""
    out = []
    for s in plan.sessions:
        if s.kind == "strength":
            out.append((s.date, s.items))
        elif s.block:
            out.append((s.date, s.block))
    return out


@PROFILE
@given(profiles())
def test_same_profile_gives_byte_identical_json(profile: Profile) -> None:
    first = generate_plan(profile).to_json()
    again = generate_plan(Profile.from_dict(profile.to_dict())).to_json()
    assert first == again
    assert Plan.from_json(first).to_json() == first


@PROFILE
@given(profiles())
def test_runs_are_spaced_counted_and_leave_a_free_day(profile: Profile) -> None:
    plan = generate_plan(profile)
    run_dates = [s.date for s in plan.sessions if s.kind == "run_walk"]
    assert all(b - a >= timedelta(days=2) for a, b in zip(run_dates, run_dates[1:], strict=False))
    expected = 2 if len(profile.days) <= 4 else 3
    for week in training_weeks(plan):
        assert len(week.runs) == expected
    for week in plan.weeks:
        busy = {s.date for s in week.sessions}
        assert len(busy) <= 6


@PROFILE
@given(profiles())
def test_hip_strength_twice_weekly_in_every_direction_and_position(profile: Profile) -> None:
    plan = generate_plan(profile)
    weeks = training_weeks(plan)
    positions_by_week = []
    for week in weeks:
        blocks = [s.block for s in week.runs if s.block]
        own = [s.items for s in week.sessions if s.kind == "strength"]
        assert len(blocks) + len(own) == 2
        if blocks:
            assert len(profile.days) == 3
        exercises = [LIB[i.exercise_id] for items in blocks + own for i in items]
        assert {e.direction for e in exercises} == DIRECTIONS
        assert {e.knee for e in exercises} == {"straight", "bent"}
        positions_by_week.append({e.position for e in exercises})
    for a, b in zip(positions_by_week, positions_by_week[1:], strict=False):
        assert a | b == {"standing", "lying", "sitting"}


@PROFILE
@given(profiles())
def test_only_owned_equipment_and_no_knee_loading_moves_when_sore(profile: Profile) -> None:
    plan = generate_plan(profile)
    for _, items in strength_sessions(plan):
        for item in items:
            ex = LIB[item.exercise_id]
            assert ex.equipment in profile.equipment
            if profile.pain_area == "knee" or profile.pain_level > 3:
                assert not ex.tags & {"knee_dominant", "impact"}


@PROFILE
@given(profiles())
def test_strength_varies_and_dose_rises_one_step_at_most(profile: Profile) -> None:
    plan = generate_plan(profile)
    sessions = strength_sessions(plan)
    for (_, a), (_, b) in zip(sessions, sessions[1:], strict=False):
        assert a != b
    # Slot = (session position in week, direction): same exercise for at most two weeks.
    weeks = training_weeks(plan)
    slots: dict[tuple[int, str], list[str]] = {}
    for week in weeks:
        own = [s.items for s in week.sessions if s.kind == "strength"]
        blocks = [s.block for s in week.runs if s.block]
        for pos, items in enumerate(own + blocks):
            for item in items:
                slots.setdefault((pos, item.direction), []).append(item.exercise_id)
    for ids in slots.values():
        for i in range(len(ids) - 2):
            assert not ids[i] == ids[i + 1] == ids[i + 2]
    # Dose: per exercise, week to week, one of sets/reps/seconds moves by one step at most.
    doses: dict[int, dict[str, tuple]] = {}
    for week in plan.weeks:
        for s in week.sessions:
            for item in s.items or s.block:
                doses.setdefault(week.index, {})[item.exercise_id] = (
                    item.sets,
                    item.reps,
                    item.seconds,
                )
    for w in doses:
        for ex_id, (sets, reps, secs) in doses[w].items():
            prev = doses.get(w - 1, {}).get(ex_id)
            if prev is None or plan.weeks[-1].index == w and plan.weeks[-1].recovery:
                continue
            moved = (sets - prev[0], (reps or 0) - (prev[1] or 0), (secs or 0) - (prev[2] or 0))
            assert moved in {(0, 0, 0), (1, 0, 0), (0, 2, 0), (0, 0, 10)}, moved
    assert all(abs(dose_step(w + 1) - dose_step(w)) <= 1 for w in range(60))


@PROFILE
@given(profiles())
def test_run_load_builds_gently_and_reaches_the_goal(profile: Profile) -> None:
    plan = generate_plan(profile)
    for s in plan.sessions:
        if s.kind == "run_walk":
            assert s.segments[0].kind == "warmup" and s.segments[0].seconds == 300
            assert s.segments[-1].kind == "cooldown" and s.segments[-1].seconds == 300
            assert all(seg.kind in ("run", "walk") for seg in s.segments[1:-1])
    weeks = plan.weeks
    for prev, week in zip(weeks, weeks[1:], strict=False):
        if week.recovery or prev.recovery:
            continue
        assert week.run_seconds >= prev.run_seconds
        assert week.longest_run_seconds >= prev.longest_run_seconds
        if week.index >= 2:
            assert week.run_seconds * 4 <= prev.run_seconds * 5
    goal = 1800 if profile.ability != "run_5k" else LADDER[-1].longest
    if profile.race_date is None:
        assert weeks[-1].longest_run_seconds >= goal
        assert any(s.longest_run_seconds >= goal for s in weeks[-1].runs)


@PROFILE
@given(profiles())
def test_entry_rung_respects_what_the_runner_can_do(profile: Profile) -> None:
    plan = generate_plan(profile)
    first = plan.weeks[0]
    if first.recovery:  # race in the first week: nothing to climb
        return
    longest = first.longest_run_seconds
    if profile.ability == "run_minutes":
        assert longest <= profile.run_minutes * 60
        assert longest * 3 >= min(profile.run_minutes * 60, 1800)
        if profile.run_minutes >= 2:
            assert first.level > 0
    elif profile.ability == "walk_only":
        assert first.level == 0
    else:
        assert longest >= 1200


@PROFILE
@given(profiles().filter(lambda p: p.race_date is not None))
def test_race_fits_or_plan_is_adjusted_with_a_run_walk_strategy(profile: Profile) -> None:
    plan = generate_plan(profile)
    race = profile.race_date
    last = plan.weeks[-1]
    assert last.recovery and any(s.race and s.date == race for s in last.sessions)
    assert all(s.date <= race for s in plan.sessions)
    goal = 1800 if profile.ability != "run_5k" else LADDER[-1].longest
    reached = [s.date for s in plan.sessions if not s.race and s.longest_run_seconds >= goal]
    strategy = plan.race_strategy
    assert strategy is not None
    if reached:
        assert reached[0] <= race - timedelta(days=7)
        assert not plan.adjusted and strategy.continuous
    else:
        assert plan.adjusted and plan.adjustment_reason
        assert not strategy.continuous and strategy.run_seconds and strategy.walk_seconds
        assert "per mile" in strategy.arithmetic
        if profile.race_type == "rundisney":
            assert "16:00" in strategy.arithmetic
    if profile.race_type == "rundisney":
        assert strategy.holds_16_min_mile is not None

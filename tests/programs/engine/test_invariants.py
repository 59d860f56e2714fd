"""Property tests: every plan for every valid profile keeps the invariants in plan.py.

Hypothesis profiles: "dev" (default, quick) and "ci" (more examples). Pick with
HERO_HYPOTHESIS_PROFILE=ci. They are applied per test rather than loaded globally, so other
test modules keep their own settings.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from programs.engine import Plan, Profile, generate_plan, load_library
from programs.engine.progression import LADDER
from programs.engine.strength import IMPACT_FREE_WEEKS, dose_step, session_minutes

settings.register_profile(
    "dev", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
_PROFILE_NAME = os.environ.get("HERO_HYPOTHESIS_PROFILE", "dev")
_SETTINGS = settings.get_profile(_PROFILE_NAME)
# A thousand examples a property (fifteen thousand plans in all) outlast the suite's per-test
# timeout on a busy machine; the ci profile gets twenty minutes a test.
_TIMEOUT = pytest.mark.timeout(1200 if _PROFILE_NAME == "ci" else 300)


def PROFILE(test):  # noqa: N802 - used as a decorator, like the settings object it wraps
    """The chosen hypothesis profile (and a per-test timeout to match) for ``test``."""
    return _TIMEOUT(_SETTINGS(test))


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
        race = start + timedelta(days=draw(st.integers(14, 366)))
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
def test_every_full_week_covers_the_twelve_cell_hip_grid_in_stated_time(profile: Profile) -> None:
    plan = generate_plan(profile)
    weeks = training_weeks(plan)
    positions_by_week = []
    for week in weeks:
        blocks = [s for s in week.runs if s.block]
        own = [s for s in week.sessions if s.kind == "strength"]
        assert len(blocks) + len(own) == 2
        if blocks:
            assert len(profile.days) == 3
        exercises = [LIB[i.exercise_id] for s in blocks for i in s.block]
        exercises += [LIB[i.exercise_id] for s in own for i in s.items]
        cells = {(e.direction, e.knee) for e in exercises}
        assert cells == {(d, k) for d in DIRECTIONS for k in ("straight", "bent")}
        positions_by_week.append({e.position for e in exercises})
        # Each session says how long it takes, and it fits in half an hour.
        for s in own:
            minutes = session_minutes(s.items)
            assert f"(about {minutes} minutes)" in s.title and minutes <= 30
        for s in blocks:
            minutes = session_minutes(s.block)
            assert f"about {minutes} minutes" in s.why and minutes <= 30
    for a, b in zip(positions_by_week, positions_by_week[1:], strict=False):
        assert a | b == {"standing", "lying", "sitting"}


@PROFILE
@given(profiles())
def test_only_owned_equipment_no_knee_loading_when_sore_no_impact_unless_safe(
    profile: Profile,
) -> None:
    plan = generate_plan(profile)
    for week in plan.weeks:
        for s in week.sessions:
            for item in s.items or s.block:
                ex = LIB[item.exercise_id]
                assert ex.equipment in profile.equipment
                if profile.pain_area == "knee" or profile.pain_level > 3:
                    assert "knee_dominant" not in ex.tags
                if "impact" in ex.tags:
                    assert week.index >= IMPACT_FREE_WEEKS
                    assert profile.pain_level <= 2 and profile.pain_area == "none"
                    assert profile.age is None or profile.age <= 50


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
            if prev is None or any(wk.recovery for wk in plan.weeks if wk.index in (w - 1, w)):
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
        if week.index >= 2:
            assert week.run_seconds * 4 <= prev.run_seconds * 5
        if any(s.rehearsal for s in week.sessions + prev.sessions):
            continue  # the dress rehearsal trades some running for time on her feet
        assert week.run_seconds >= prev.run_seconds
        assert week.longest_run_seconds >= prev.longest_run_seconds
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
    if profile.pain_level > 5:
        assert first.level == 0  # real pain: the gentlest step, whatever she can run
    elif profile.ability == "run_minutes":
        assert longest <= profile.run_minutes * 60
        assert longest * 3 >= min(profile.run_minutes * 60, 1800)
        if profile.run_minutes >= 2:
            assert first.level > 0
    elif profile.ability == "walk_only":
        assert first.level == 0
    else:
        assert longest >= 1200


def _running(plan: Plan, lo, hi) -> int:
    return sum(s.run_seconds for s in plan.sessions if lo <= s.date <= hi and not s.race)


@PROFILE
@given(profiles().filter(lambda p: p.race_date is not None))
def test_the_seven_days_before_the_race_taper_by_the_calendar(profile: Profile) -> None:
    plan = generate_plan(profile)
    race = profile.race_date
    day = timedelta(days=1)
    last = plan.sessions[-1]
    assert last.race and last.date == race
    assert [s.date for s in plan.sessions if s.race] == [race]
    assert all(s.date < race for s in plan.sessions if not s.race)
    assert not [s for s in plan.sessions if s.date == race - day]
    taper = _running(plan, race - 7 * day, race - day)
    before = _running(plan, race - 14 * day, race - 8 * day)
    assert taper * 10 <= before * 7
    longest_before = max(
        (s.longest_run_seconds for s in plan.sessions if s.date < race - 7 * day), default=0
    )
    assert all(
        s.longest_run_seconds <= longest_before
        for s in plan.sessions
        if race - 7 * day <= s.date < race
    )


@PROFILE
@given(profiles().filter(lambda p: p.race_date is not None))
def test_race_day_is_rehearsed_and_asks_no_more_than_a_quarter_over_training(
    profile: Profile,
) -> None:
    plan = generate_plan(profile)
    race = profile.race_date
    strategy = plan.race_strategy
    assert strategy is not None
    (race_session,) = [s for s in plan.sessions if s.race]
    training = [s for s in plan.sessions if s.kind == "run_walk" and not s.race]
    most = max(s.run_seconds for s in training)
    assert race_session.run_seconds * 4 <= most * 5
    (rehearsal,) = [s for s in plan.sessions if s.rehearsal]
    assert 7 <= (race - rehearsal.date).days <= 14
    middle = rehearsal.segments[1:-1]
    assert sum(seg.seconds for seg in middle) * 5 >= strategy.expected_finish_seconds * 4
    runs = [seg.seconds for seg in middle if seg.kind == "run"]
    walks = [seg.seconds for seg in middle if seg.kind == "walk"]
    if strategy.continuous:
        assert len(runs) == 1 and not walks and not plan.adjusted
    else:
        assert max(runs) == strategy.run_seconds
        assert set(walks[:-1]) <= {strategy.walk_seconds}
        assert all(r <= strategy.run_seconds for r in runs)
        assert plan.adjusted and plan.adjustment_reason
        assert strategy.walk_seconds >= 30
        longest_before = max(s.longest_run_seconds for s in training if s.date < rehearsal.date)
        assert strategy.run_seconds <= longest_before
        assert "per mile" in strategy.arithmetic
    if profile.race_type == "rundisney":
        assert strategy.holds_16_min_mile is not None
        assert "16:00" in strategy.arithmetic
        flagged = any(f.rule == "race-pace-at-risk" for f in plan.flags)
        assert flagged == (not strategy.holds_16_min_mile)
        if not strategy.holds_16_min_mile:
            assert "slower than runDisney's 16:00 per mile" in strategy.arithmetic
            assert "coach" in plan.adjustment_reason


@PROFILE
@given(profiles())
def test_pain_guidance_matches_where_she_starts(profile: Profile) -> None:
    plan = generate_plan(profile)
    high = profile.pain_level > 5
    assert any(f.rule == "intake-pain-high" for f in plan.flags) == high
    if high:
        assert plan.weeks[0].level == 0
    first_run = next(s for s in plan.sessions if s.kind == "run_walk")
    if profile.pain_area != "none" or profile.pain_level:
        assert "up to 3 out of 10 is fine" in first_run.why
        assert "above 5, stop" in first_run.why
    for s in plan.sessions:
        assert "above 3 out of 10" not in s.why
        assert "2 out of 10 or lower" not in s.why


ENGINE_WORDS = ("rung", "level", "step index", "phase", "_", " .", "  ", "None")


@PROFILE
@given(profiles())
def test_what_the_runner_reads_has_no_engine_words(profile: Profile) -> None:
    plan = generate_plan(profile)
    texts = [plan.adjustment_reason or ""]
    if plan.race_strategy:
        texts += [plan.race_strategy.summary, plan.race_strategy.arithmetic]
    for week in plan.weeks:
        texts.append(week.note or "")
        for s in week.sessions:
            texts += [s.title, s.why]
            texts += [i.name for i in s.items + s.block]
    for text in texts:
        for word in ENGINE_WORDS:
            assert word not in text.lower(), (word, text)


@PROFILE
@given(profiles())
def test_each_weeks_why_is_true_of_that_week_and_the_one_before(profile: Profile) -> None:
    plan = generate_plan(profile)
    for prev, week in zip(plan.weeks, plan.weeks[1:], strict=False):
        for s in week.runs:
            if s.race or s.rehearsal or week.recovery:
                continue
            if s.why.startswith("Same as last week"):
                assert week.level == prev.level
            if s.why.startswith(("New step", "A little more running")):
                assert week.level > prev.level
            if s.why.startswith("This is the one you've been building to"):
                assert prev.level < week.level == max(w.level for w in plan.weeks)

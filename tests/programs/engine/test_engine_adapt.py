"""Adaptation rules: each change carries its rule; coach edits and history are kept."""

from __future__ import annotations

from datetime import date, timedelta

from programs.engine import (
    CoachEdit,
    Plan,
    Profile,
    WorkoutLog,
    adapt,
    coach_flags,
    generate_plan,
    load_library,
)
from programs.engine.model import Session

PROFILE = Profile(
    ability="run_minutes",
    run_minutes=3,
    days=(0, 2, 4, 6),
    start_date=date(2025, 3, 3),
)


def _plan() -> Plan:
    return generate_plan(PROFILE)


def _log_week(plan: Plan, week: int, **pain) -> list[WorkoutLog]:
    return [WorkoutLog(s.date, "done", effort=5, **pain) for s in plan.weeks[week].sessions]


def test_low_pain_keeps_the_plan_as_it_was():
    plan = _plan()
    adapted = adapt(plan, _log_week(plan, 0, pain_during=2, pain_next_morning=1))
    assert adapted.weeks == plan.weeks
    assert adapted.changes == () and adapted.reviewed_weeks == (0,)


def test_moderate_pain_that_settles_repeats_the_rung():
    plan = _plan()
    adapted = adapt(plan, _log_week(plan, 0, pain_during=4, pain_next_morning=1))
    assert adapted.weeks[1].level == plan.weeks[0].level
    assert [c.rule for c in adapted.changes] == ["pain-moderate-repeat"]
    assert coach_flags(adapted) == ()
    assert len(adapted.weeks) == len(plan.weeks) + 1  # the repeat costs a week


def test_high_pain_steps_back_and_flags_the_coach():
    plan = _plan()
    logs = _log_week(plan, 0, pain_during=1)
    logs[0] = WorkoutLog(logs[0].session_date, "partial", effort=7, pain_during=7)
    adapted = adapt(plan, logs)
    assert adapted.weeks[1].level == max(plan.weeks[0].level - 1, 0)
    assert adapted.changes[-1].rule == "pain-high-step-back"
    (flag,) = coach_flags(adapted)
    assert flag.rule == "pain-high-step-back" and "7/10" in flag.reason


def test_pain_worse_next_morning_steps_back():
    plan = _plan()
    adapted = adapt(plan, _log_week(plan, 0, pain_during=2, pain_next_morning=4))
    assert adapted.changes[-1].rule == "pain-worse-next-morning"
    assert adapted.weeks[1].level == plan.weeks[0].level - 1
    assert len(coach_flags(adapted)) == 1


def test_two_missed_runs_repeat_the_week():
    plan = _plan()
    week = plan.weeks[0]
    logs = [
        WorkoutLog(s.date, "skipped" if s.kind == "run_walk" else "done", pain_during=0)
        for s in week.sessions
    ]
    adapted = adapt(plan, logs)
    assert adapted.changes[-1].rule == "missed-runs-repeat-week"
    assert adapted.weeks[1].level == week.level


def test_adapting_twice_with_the_same_logs_changes_nothing():
    plan = _plan()
    logs = _log_week(plan, 0, pain_during=4, pain_next_morning=1)
    once = adapt(plan, logs)
    assert adapt(once, logs) == once


def test_week_still_in_progress_is_not_judged():
    plan = _plan()
    first = plan.weeks[0].sessions[0]
    adapted = adapt(plan, [WorkoutLog(first.date, "done", pain_during=8)])
    assert adapted.reviewed_weeks == () and adapted.changes == ()


def test_coach_edit_survives_a_step_back():
    plan = _plan()
    target = plan.weeks[2].runs[0]
    mine = Session(
        target.date, "run_walk", "Coach's hill walk", "Hills, slowly.", segments=target.segments
    )
    edited = adapt(plan, [], coach_edits=[CoachEdit(target.date, (mine,))])
    assert edited.changes[-1].rule == "coach-edit"
    adapted = adapt(edited, _log_week(edited, 0, pain_during=8))
    kept = [s for s in adapted.sessions if s.date == target.date]
    assert [s.title for s in kept] == ["Coach's hill walk"] and kept[0].coach_edited


def test_adapted_plan_round_trips_through_json():
    plan = _plan()
    adapted = adapt(plan, _log_week(plan, 0, pain_during=8))
    assert Plan.from_json(adapted.to_json()) == adapted


def test_step_back_near_the_race_turns_into_a_run_walk_strategy():
    profile = Profile(
        ability="run_minutes",
        run_minutes=20,
        days=(0, 2, 4),
        start_date=date(2025, 3, 3),
        race_date=date(2025, 3, 3) + timedelta(days=42),
        race_type="rundisney",
    )
    plan = generate_plan(profile)
    assert not plan.adjusted
    adapted = plan
    for week in range(3):
        adapted = adapt(
            adapted,
            [WorkoutLog(s.date, "done", pain_during=7) for s in adapted.weeks[week].sessions],
        )
    assert adapted.adjusted and adapted.race_strategy.holds_16_min_mile
    assert len(coach_flags(adapted)) == 3


def test_high_pain_on_the_first_rung_says_it_holds_rather_than_easing_back():
    from programs.engine.adapt import _eased

    assert _eased(0, 0) == "kept at the gentlest step (runs of 30 seconds)"
    assert _eased(4, 3) == "eased back from runs of 2 minutes to runs of 1:30"


def test_pain_above_two_logged_takes_impact_moves_out_of_the_rest_of_the_plan():
    profile = Profile(ability="walk_only", days=(0, 2, 4, 6), start_date=date(2025, 3, 3))
    plan = generate_plan(profile)
    hops = [s.date for s in plan.sessions if any(i.exercise_id == "skater-hop" for i in s.items)]
    assert hops and all(d >= profile.start_date + timedelta(weeks=4) for d in hops)
    logs = [WorkoutLog(s.date, "done", pain_during=3, pain_next_morning=1)
            for s in plan.weeks[0].sessions]  # fmt: skip
    adapted = adapt(plan, logs)
    assert adapted.changes[-1].rule == "pain-moderate-repeat"
    assert not [
        i for s in adapted.sessions for i in s.items + s.block if i.exercise_id == "skater-hop"
    ]


def test_adapted_weeks_say_what_was_logged_and_what_changed():
    plan = _plan()
    adapted = adapt(plan, _log_week(plan, 0, pain_during=4, pain_next_morning=1))
    why = adapted.weeks[1].runs[0].why
    assert why.startswith("Last week you logged pain 4/10 on Mon 3 Mar")
    assert "settled by next morning, so this week repeats" in why
    assert "We're repeating last week's step" not in why


def test_pain_above_two_mid_week_takes_the_hop_out_of_the_days_that_follow():
    profile = Profile(ability="walk_only", days=(0, 2, 4, 6), start_date=date(2025, 3, 3))
    plan = generate_plan(profile)
    hop_day = next(
        s.date for s in plan.sessions if any(i.exercise_id == "skater-hop" for i in s.items)
    )
    logs = [
        WorkoutLog(s.date, "done", pain_during=0)
        for s in plan.sessions
        if s.date < hop_day - timedelta(days=1)
    ]
    logs.append(WorkoutLog(hop_day - timedelta(days=1), "done", pain_during=3))
    adapted = adapt(plan, logs)
    (session,) = [s for s in adapted.sessions if s.date == hop_day and s.kind == "strength"]
    ids = [i.exercise_id for i in session.items]
    assert "skater-hop" not in ids and len(set(ids)) == len(ids)
    lib = load_library()
    cells = {(lib[i].direction, lib[i].knee) for i in ids}
    before = next(s for s in plan.sessions if s.date == hop_day and s.kind == "strength")
    assert cells == {(lib[i.exercise_id].direction, lib[i.exercise_id].knee) for i in before.items}


def test_a_logged_day_is_put_back_as_she_was_shown_it():
    from dataclasses import replace

    from programs.engine import keep_as_logged

    plan = _plan()
    run = plan.weeks[1].runs[0]
    seen = replace(run, title="What she ran", segments=run.segments[:1])
    kept = keep_as_logged(plan, {(run.date, run.kind): (seen,)})
    assert [s for s in kept.sessions if s.date == run.date and s.kind == run.kind] == [seen]
    others = [s for s in plan.sessions if (s.date, s.kind) != (run.date, run.kind)]
    assert [s for s in kept.sessions if (s.date, s.kind) != (run.date, run.kind)] == others
    assert keep_as_logged(plan, {}) is plan
    outside = {(plan.weeks[-1].start_date + timedelta(days=30), "run_walk"): (seen,)}
    assert keep_as_logged(plan, outside).weeks == plan.weeks  # a day her plan no longer has

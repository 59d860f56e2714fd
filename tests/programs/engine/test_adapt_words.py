"""Every adaptation's words against the plan before and after it: the "why" the runner reads
and the change the coach reads say what her logs showed and what the plan actually did."""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from programs.engine import Plan, WorkoutLog, adapt, generate_plan
from programs.engine.words import level_words, short_date

from .test_invariants import PROFILE, profiles


@st.composite
def logged_plans(draw: st.DrawFn) -> tuple[Plan, list[WorkoutLog], int]:
    """A plan and logs for its first few weeks: done, partly done or skipped, with pain."""
    plan = generate_plan(draw(profiles()))
    weeks = draw(st.integers(1, min(4, len(plan.weeks))))
    logs = []
    for week in plan.weeks[:weeks]:
        for s in week.sessions:
            status = draw(st.sampled_from(["done", "done", "partial", "skipped"]))
            during = draw(st.integers(0, 8))
            morning = draw(st.one_of(st.none(), st.integers(0, 8)))
            logs.append(WorkoutLog(s.date, status, pain_during=during, pain_next_morning=morning))
    return plan, logs, weeks


@PROFILE
@given(logged_plans())
def test_every_adaptation_message_is_true_of_the_plan_before_and_after(case) -> None:
    plan, logs, weeks = case
    adapted = adapt(plan, logs)
    by_date = {lg.session_date: lg for lg in logs}
    before = {w.index: w for w in plan.weeks}
    if plan.profile.race_date is not None:
        # Adapting never loses the race, nor asks more of it than training allows.
        (race,) = [s for s in adapted.sessions if s.race]
        assert race.date == plan.profile.race_date
        most = max(s.run_seconds for s in adapted.sessions if s.kind == "run_walk" and not s.race)
        assert race.run_seconds * 4 <= most * 5
        assert len([s for s in adapted.sessions if s.rehearsal]) <= 1
    for change in adapted.changes:
        judged = next(w for w in adapted.weeks if w.index == change.week)
        # The change names the step she was on, and the one she moves to.
        assert change.level_from == judged.level
        if change.rule in ("pain-high-step-back", "pain-worse-next-morning"):
            assert change.level_to == max(change.level_from - 1, 0)
        else:
            assert change.level_to == change.level_from
        assert level_words(change.level_from) in change.summary
        assert "rung" not in change.summary
        week_logs = [
            lg
            for d, lg in by_date.items()
            if judged.start_date <= d < judged.start_date + timedelta(days=7)
        ]
        numbers = {int(n) for n in re.findall(r"(\d+)/10", change.summary)}
        for n in numbers:  # every pain number quoted is one she logged that week
            assert any(n in (lg.pain_during, lg.pain_next_morning) for lg in week_logs)
        nxt = next((w for w in adapted.weeks if w.index == change.week + 1), None)
        if nxt is None:
            continue
        fresh = [
            s
            for s in nxt.runs
            if s.date not in by_date and not s.race and not s.rehearsal and not nxt.recovery
        ]
        if change is not adapted.changes[-1] or not fresh:
            continue
        # The latest change shapes next week; its runs say why, truthfully.
        assert nxt.level == change.level_to
        why = fresh[0].why
        if change.rule == "missed-runs-repeat-week":
            missed = re.search(r"You missed (\d+) runs last week", why)
            assert missed and f"{missed.group(1)} runs missed" in change.summary
            assert f"repeats {level_words(change.level_from)}" in why
        elif change.rule == "pain-moderate-repeat":
            assert why.startswith("Last week you logged pain")
            assert f"repeats {level_words(change.level_from)}" in why
        elif change.level_to < change.level_from:
            assert (
                f"steps back from {level_words(change.level_from)} to "
                f"{level_words(change.level_to)}" in why
            )
        else:
            assert "stays at the gentlest step" in why
        dates = re.findall(r"on (\w{3} \d+ \w{3})", why)
        for d in dates:
            assert any(short_date(lg.session_date) == d for lg in week_logs)
        # A repeat never claims to repeat a step that was harder than this week's.
        if "repeats" in why:
            assert nxt.level == before[change.week].level or nxt.level == judged.level

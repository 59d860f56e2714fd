"""The progress picture's numbers, and the plan length the offer promises."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from programs.engine import Profile, generate_plan
from programs.engine.progress import SessionLog, goal_progress

from .test_invariants import PROFILE, profiles

ROOT = Path(__file__).resolve().parents[3]


@PROFILE
@given(profiles(), st.integers(0, 200), st.floats(0, 1))
def test_goal_picture_matches_the_plan_and_her_logs(profile: Profile, offset: int, share: float):
    plan = generate_plan(profile)
    on = profile.start_date + timedelta(days=offset)
    due = [s for s in plan.sessions if s.date <= on]
    logs = [SessionLog(s.date, s.kind, "done", 0) for s in due[: int(len(due) * share)]]
    g = goal_progress(plan, logs, on)
    runs = [s for s in plan.sessions if s.kind == "run_walk" and not s.race]
    done = {lg.session_date for lg in logs}
    if profile.race_date:
        assert g.target == next(s for s in plan.sessions if s.race).run_seconds
        assert g.best == max((s.run_seconds for s in runs if s.date in done), default=0)
        assert g.goal_date == profile.race_date
    else:
        assert g.target == plan.weeks[-1].longest_run_seconds
        assert g.best == max((s.longest_run_seconds for s in runs if s.date in done), default=0)
    assert 0 <= g.percent <= 100 and 0 <= g.expected_percent <= 100
    assert g.weeks_to_go == max(0, -(-(g.goal_date - on).days // 7))
    # Doing every session due keeps her on track; her words say which it is.
    all_done = [SessionLog(s.date, s.kind, "done", 0) for s in due]
    assert goal_progress(plan, all_done, on).on_track
    assert ("You're on track." in g.summary) == g.on_track
    assert "rung" not in g.summary and " ." not in g.summary


def test_the_offer_describes_the_plan_length_the_engine_builds():
    lengths = set()
    start = date(2025, 3, 3)
    for ability, minutes in [("walk_only", None), ("run_5k", None)] + [
        ("run_minutes", m) for m in range(1, 61)
    ]:
        for pain in range(11):
            profile = Profile(
                ability=ability,
                run_minutes=minutes,
                days=(0, 2, 4),
                start_date=start,
                pain_level=pain,
            )
            lengths.add(len(generate_plan(profile).weeks))
    low, high = min(lengths), max(lengths)
    assert (low, high) == (4, 16)
    offer = (ROOT / "templates/billing/offer.html").read_text()
    assert f"usually {low} to {high} weeks, or right up to race day" in offer

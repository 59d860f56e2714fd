"""The feedback rules (programs.engine.strength_feedback): what each rule does, and property tests
that no feedback ever breaks the plan's strength invariants."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from programs.engine import Plan, Profile, generate_plan, load_library
from programs.engine.strength import eligible
from programs.engine.strength_feedback import RULES, ExerciseFeedback, apply_feedback
from tests.programs.engine.test_invariants import PROFILE, profiles

LIB = load_library()
START = date(2030, 3, 4)  # a Monday
GRID = {(d, k) for d in {e.direction for e in LIB.exercises} for k in ("straight", "bent")}


def _plan(**kw) -> Plan:
    values = dict(
        ability="run_minutes",
        run_minutes=1,
        days=(0, 2, 4, 5),
        long_run_day=5,
        equipment=frozenset({"band"}),
        pain_area="none",
        pain_level=0,
        start_date=START,
    )
    values.update(kw)
    return generate_plan(Profile(**values))


def _strength(plan: Plan, week: int):
    return [s for s in plan.weeks[week].sessions if s.kind == "strength"]


def _items(session):
    return session.items or session.block


def test_too_easy_twice_moves_to_the_harder_variant_from_then_on():
    plan = _plan()
    first, second = _strength(plan, 0)
    # An exercise of session A whose harder variant keeps the knee and is hers to do.
    item = next(
        i
        for i in first.items
        if (h := LIB[i.exercise_id].harder)
        and LIB[h].knee == LIB[i.exercise_id].knee
        and LIB[h].equipment in {"none", "band"}
    )
    harder = LIB[LIB[item.exercise_id].harder]
    once = apply_feedback(plan, [ExerciseFeedback(first.date, item.exercise_id, "easy")], LIB)
    assert once == plan  # once is not enough
    fb = [
        ExerciseFeedback(first.date, item.exercise_id, "easy"),
        ExerciseFeedback(first.date + timedelta(days=7), item.exercise_id, "easy"),
    ]
    adapted = apply_feedback(plan, fb, LIB)
    next_week = [i.exercise_id for s in _strength(adapted, 2) for i in s.items]
    this_week = [i.exercise_id for i in _strength(adapted, 1)[0].items]
    assert item.exercise_id in this_week  # on or before the second rating: untouched
    if item.exercise_id in [i.exercise_id for s in _strength(plan, 2) for i in s.items]:
        assert harder.id in next_week
    assert [c.rule for c in adapted.changes][-1] == "strength-too-easy"
    assert harder.name in adapted.changes[-1].summary


def test_about_right_in_between_starts_the_count_again():
    plan = _plan()
    first = _strength(plan, 0)[0]
    ex = first.items[0].exercise_id
    fb = [
        ExerciseFeedback(first.date, ex, "easy"),
        ExerciseFeedback(first.date + timedelta(days=1), ex, "right"),
        ExerciseFeedback(first.date + timedelta(days=2), ex, "easy"),
    ]
    assert apply_feedback(plan, fb, LIB) == plan


def test_too_hard_without_an_easier_variant_takes_one_step_of_dose_off():
    plan = _plan()
    first = _strength(plan, 0)[0]
    item = next(i for i in first.items if LIB[i.exercise_id].easier is None)
    adapted = apply_feedback(plan, [ExerciseFeedback(first.date, item.exercise_id, "hard")], LIB)
    later = _strength(adapted, 1)[0].items
    before = _strength(plan, 1)[0].items
    for new, old in zip(later, before, strict=True):
        if old.exercise_id == item.exercise_id:
            assert (new.sets, new.reps, new.seconds) != (old.sets, old.reps, old.seconds)
            assert (new.reps or 0) <= (old.reps or 0) and (new.seconds or 0) <= (old.seconds or 0)
    assert adapted.changes[-1].rule == "strength-too-hard"


def test_pain_swaps_for_the_same_direction_and_knee_and_flags_the_coach():
    plan = _plan()
    first = _strength(plan, 0)[0]
    item = first.items[0]
    hurt = LIB[item.exercise_id]
    adapted = apply_feedback(plan, [ExerciseFeedback(first.date, hurt.id, "right", 6)], LIB)
    for week in adapted.weeks:
        for s in week.sessions:
            if s.date > first.date:
                assert hurt.id not in {i.exercise_id for i in _items(s)}
    swapped = [
        i
        for s in _strength(adapted, 1)
        for i in s.items
        if i.exercise_id not in {j.exercise_id for t in _strength(plan, 1) for j in t.items}
    ]
    assert swapped and all(
        (LIB[i.exercise_id].direction, LIB[i.exercise_id].knee) == (hurt.direction, hurt.knee)
        for i in swapped
    )
    assert adapted.changes[-1].rule == "strength-pain-swap"
    (flag,) = adapted.flags
    assert flag.rule == "strength-pain-swap" and hurt.name in flag.reason
    assert flag.date == first.date


def test_a_pinned_exercise_is_left_alone_but_its_pain_still_reaches_the_coach():
    plan = _plan()
    first = _strength(plan, 0)[0]
    ex = first.items[0].exercise_id
    fb = [ExerciseFeedback(first.date, ex, "hard", 7)]
    adapted = apply_feedback(plan, fb, LIB, pinned={ex})
    assert adapted.weeks == plan.weeks
    assert "pinned" in adapted.flags[-1].reason


def test_logged_days_are_not_rewritten():
    plan = _plan()
    first, second = _strength(plan, 0)
    fb = [ExerciseFeedback(first.date, i.exercise_id, "hard", 5) for i in first.items]
    adapted = apply_feedback(plan, fb, LIB, logged={second.date})
    assert [s for s in adapted.weeks[0].sessions if s.date == second.date] == [second]


# --- properties --------------------------------------------------------------------------------


class Case(tuple):
    """(plan, feedback, pinned, logged), shown without the whole plan when a property fails."""

    def __repr__(self) -> str:
        plan, feedback, pinned, logged = self
        return f"Case(profile={plan.profile!r}, feedback={feedback!r}, {pinned=}, {logged=})"


@st.composite
def plans_with_feedback(draw: st.DrawFn):
    profile = draw(profiles())
    plan = generate_plan(profile)
    sessions = [s for s in plan.sessions if _items(s)][:12]
    feedback = []
    for s in draw(st.lists(st.sampled_from(sessions), max_size=8, unique=True)) if sessions else []:
        for item in draw(st.lists(st.sampled_from(_items(s)), max_size=4, unique=True)):
            feedback.append(
                ExerciseFeedback(
                    s.date,
                    item.exercise_id,
                    draw(st.sampled_from([None, "easy", "right", "hard"])),
                    draw(st.one_of(st.none(), st.integers(0, 10))),
                )
            )
    ids = sorted({i.exercise_id for s in sessions for i in _items(s)})
    pinned = draw(st.sets(st.sampled_from(ids), max_size=2)) if ids else set()
    logged = (
        {s.date for s in draw(st.lists(st.sampled_from(sessions), max_size=4))}
        if sessions
        else set()
    )
    return Case((plan, feedback, pinned, logged))


def _cells(items) -> list[tuple[str, str]]:
    return [(LIB[i.exercise_id].direction, LIB[i.exercise_id].knee) for i in items]


@PROFILE
@given(plans_with_feedback())
def test_feedback_never_breaks_the_weekly_direction_and_knee_grid(case) -> None:
    plan, feedback, pinned, logged = case
    adapted = apply_feedback(plan, feedback, LIB, pinned=pinned, logged=logged)
    assert len(adapted.weeks) == len(plan.weeks)
    for old, new in zip(plan.weeks, adapted.weeks, strict=True):
        assert [s.date for s in old.sessions] == [s.date for s in new.sessions]
        for a, b in zip(old.sessions, new.sessions, strict=True):
            # Slot by slot the same direction and knee position: the grid is what it was.
            assert _cells(a.items) == _cells(b.items)
            assert _cells(a.block) == _cells(b.block)
            assert a.segments == b.segments
        # Whatever the week covered (the engine's grid: every direction, both knees), it still does.
        covered = {c for s in new.sessions for c in _cells(_items(s))}
        assert covered == {c for s in old.sessions for c in _cells(_items(s))}
        assert {d for d, _ in covered} in (set(), {d for d, _ in GRID})


@PROFILE
@given(plans_with_feedback())
def test_feedback_keeps_to_her_equipment_history_and_the_coach_pins(case) -> None:
    plan, feedback, pinned, logged = case
    adapted = apply_feedback(plan, feedback, LIB, pinned=pinned, logged=logged)
    profile = plan.profile
    allowed = {
        e.id
        for e in eligible(
            LIB, frozenset(profile.equipment) | {"none"}, profile.excluded_tags | {"impact"}
        )
    }
    first_day = min((f.session_date for f in feedback), default=None)
    hurt_since: dict[str, date] = {}
    for f in sorted(feedback, key=lambda f: f.session_date):
        if f.pain is not None and f.pain > 3:
            hurt_since.setdefault(f.exercise_id, f.session_date)
    for a, b in zip(plan.sessions, adapted.sessions, strict=True):
        if first_day is None or a.date <= first_day or a.date in logged or a.coach_edited:
            assert a == b
            continue
        new_ids = [i.exercise_id for i in _items(b)]
        assert len(set(new_ids)) == len(new_ids)  # never the same exercise twice in a session
        for old, new in zip(_items(a), _items(b), strict=True):
            # Feedback never brings in a move she can't do or an impact move; what the engine
            # itself planned (e.g. a hop after week 4 for a pain-free runner) may stay.
            assert new.exercise_id in allowed or new.exercise_id == old.exercise_id
            if old.exercise_id in pinned:
                assert new == old
            assert new.sets >= 1 and (new.reps or new.seconds)
    for b in adapted.sessions:
        if b.date in logged or b.coach_edited:
            continue
        ids = {i.exercise_id for i in _items(b)}
        hurt_by_then = {x for x, d in hurt_since.items() if d < b.date}
        for item in _items(b):
            if item.exercise_id not in hurt_by_then or item.exercise_id in pinned:
                continue
            # Still there after it hurt: only when nothing else of its direction and knee
            # position is hers to do, pain-free and not already in the session.
            ex = LIB[item.exercise_id]
            assert not [
                e
                for e in LIB.exercises
                if e.id in allowed
                and (e.direction, e.knee) == (ex.direction, ex.knee)
                and e.id not in hurt_by_then | ids
            ]
    assert {c.rule for c in adapted.changes[len(plan.changes) :]} <= set(RULES)
    assert all(f.rule in RULES for f in adapted.flags[len(plan.flags) :])


@PROFILE
@given(plans_with_feedback())
def test_feedback_is_deterministic_and_survives_json(case) -> None:
    plan, feedback, pinned, logged = case
    once = apply_feedback(plan, feedback, LIB, pinned=pinned, logged=logged)
    again = apply_feedback(plan, list(reversed(feedback)), LIB, pinned=pinned, logged=logged)
    assert once.to_json() == again.to_json()
    assert Plan.from_json(once.to_json()) == once


def test_hurt_exercises_disappear_from_later_unlogged_sessions_when_a_substitute_exists():
    plan = _plan()
    first = _strength(plan, 0)[0]
    fb = [ExerciseFeedback(first.date, i.exercise_id, None, 5) for i in first.items]
    adapted = apply_feedback(plan, fb, LIB)
    hurt = {f.exercise_id for f in fb}
    for s in adapted.sessions:
        if s.date > first.date:
            for item in _items(s):
                if item.exercise_id in hurt:
                    # Only when nothing else of that direction and knee is hers to do.
                    ex = LIB[item.exercise_id]
                    others = [
                        e
                        for e in LIB.exercises
                        if (e.direction, e.knee) == (ex.direction, ex.knee)
                        and e.equipment in {"none", "band"}
                        and e.id not in hurt
                        and not e.tags
                    ]
                    assert not others
    assert replace(adapted, changes=(), flags=()) != replace(plan, changes=(), flags=())

"""The engine's enforcement of the coach's hand edits on an adapted plan."""

from dataclasses import replace

from programs.engine import CoachEdit, Profile, generate_plan
from programs.engine.edits import enforce_edits


def _plan():
    return generate_plan(
        Profile.from_dict({"ability": "walk_only", "days": [0, 2, 4], "start_date": "2030-03-04"})
    )


def test_a_day_the_coach_emptied_stays_a_rest_day():
    plan = _plan()
    day = plan.sessions[3].date
    edited = enforce_edits(plan, [CoachEdit(date=day)])
    assert not [s for s in edited.sessions if s.date == day]
    assert [s for s in edited.sessions if s.date != day] == [
        s for s in plan.sessions if s.date != day
    ]


def test_the_later_edit_of_a_day_wins_and_is_marked_as_the_coachs():
    plan = _plan()
    session = plan.sessions[0]
    later = replace(session, title="Coach's version")
    edited = enforce_edits(
        plan, [CoachEdit(date=session.date), CoachEdit(date=session.date, sessions=(later,))]
    )
    [kept] = [s for s in edited.sessions if s.date == session.date]
    assert kept.title == "Coach's version" and kept.coach_edited


def test_without_edits_the_plan_is_unchanged():
    plan = _plan()
    assert enforce_edits(plan, []) is plan

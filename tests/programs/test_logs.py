from datetime import datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.alerts.models import CoachFlag, FlagKind
from programs.engine import Plan
from programs.errors import PortalError
from programs.logs import record_workout
from programs.models import LogStatus, WorkoutLog
from programs.plans import active_plan, load_plan
from tests.programs.conftest import day


def _log(session, user, offset, status="done", effort=5, pain=1, morning=None):
    return record_workout(
        session, user.id, day(offset), status, effort, pain, morning, today=day(offset + 1)
    )


def test_a_second_log_for_the_same_session_updates_the_first(db_session, planned_runner):
    _log(db_session, planned_runner, 2, pain=1)
    again = _log(db_session, planned_runner, 2, status="partial", pain=3)
    rows = db_session.scalars(select(WorkoutLog)).all()
    assert len(rows) == 1
    assert rows[0].id == again.id and rows[0].status == LogStatus.PARTIAL
    assert rows[0].pain_during == 3 and rows[0].kind == "run_walk"


def test_logging_is_refused_before_the_day_or_on_a_rest_day(db_session, planned_runner):
    with pytest.raises(PortalError) as early:
        record_workout(db_session, planned_runner.id, day(2), "done", 5, 0, today=day(1))
    assert "session_date" in early.value.messages
    with pytest.raises(PortalError) as rest:
        record_workout(db_session, planned_runner.id, day(1), "done", 5, 0, today=day(3))
    assert "session_date" in rest.value.messages


def test_effort_and_pain_are_required_unless_skipped(db_session, planned_runner):
    with pytest.raises(PortalError) as caught:
        record_workout(db_session, planned_runner.id, day(2), "done", None, None, today=day(2))
    assert set(caught.value.messages) == {"effort", "pain_during"}
    skipped = record_workout(
        db_session, planned_runner.id, day(2), "skipped", None, None, today=day(2)
    )
    assert skipped.effort is None and skipped.pain_during is None


def test_high_pain_steps_the_plan_back_and_flags_the_coach(db_session, planned_runner):
    # Week 1 (days 0-6): strength Mon, run Wed, strength Fri, run Sat. Pain 6/10 on Wednesday.
    _log(db_session, planned_runner, 0)
    _log(db_session, planned_runner, 2, pain=6)
    _log(db_session, planned_runner, 4)
    _log(db_session, planned_runner, 5)
    plan = load_plan(active_plan(db_session, planned_runner.id))
    assert any(c.rule == "pain-high-step-back" for c in plan.changes)
    flags = db_session.scalars(select(CoachFlag).where(CoachFlag.kind == FlagKind.PAIN)).all()
    reasons = " ".join(f.reason for f in flags)
    assert "6/10" in reasons
    # Raised once, however many times the plan re-adapts.
    _log(db_session, planned_runner, 5, effort=6)
    assert db_session.scalar(select(func.count(CoachFlag.id))) == len(flags)


def test_moderate_pain_settled_by_morning_repeats_the_step(db_session, planned_runner):
    before = load_plan(active_plan(db_session, planned_runner.id))
    _log(db_session, planned_runner, 0)
    _log(db_session, planned_runner, 2, pain=4, morning=2)
    _log(db_session, planned_runner, 4)
    _log(db_session, planned_runner, 5)
    after = load_plan(active_plan(db_session, planned_runner.id))
    assert any(c.rule == "pain-moderate-repeat" for c in after.changes)
    assert after.weeks[1].level == before.weeks[0].level


def test_next_morning_pain_is_asked_for_the_next_day(client, auth, db_session, planned_runner):
    log = _log(db_session, planned_runner, 2, pain=2)
    with time_machine.travel(datetime(2030, 3, 7, 14, 0), tick=False):
        auth.login(planned_runner)
        page = client.get("/portal").data.decode()
        assert "How does it feel this morning?" in page
        client.post("/portal/morning", data={"log_id": log.id, "pain_next_morning": "1"})
        assert "How does it feel this morning?" not in client.get("/portal").data.decode()
    db_session.refresh(log)
    assert log.pain_next_morning == 1


def test_log_form_saves_and_rerenders_errors(client, auth, db_session, planned_runner):
    with time_machine.travel(datetime(2030, 3, 6, 17, 0), tick=False):
        auth.login(planned_runner)
        bad = client.post(
            "/portal/log",
            data={"session_date": "2030-03-06", "kind": "run_walk", "status": "done"},
        )
        assert bad.status_code == 422
        assert b"How hard was it?" in bad.data
        ok = client.post(
            "/portal/log",
            data={
                "session_date": "2030-03-06",
                "kind": "run_walk",
                "status": "done",
                "effort": "5",
                "pain_during": "1",
            },
        )
    assert ok.status_code == 302
    assert db_session.scalar(select(func.count(WorkoutLog.id))) == 1


def test_a_logged_day_keeps_the_session_she_was_asked_for(db_session, planned_runner):
    """Her plan is worked out again from the start on every log. A day she has logged stays
    the session she was shown and did, not what the plan would have said without the later
    logs' changes (here: the week the step back eased)."""

    def run_on(plan, offset):
        (run,) = [s for s in plan.sessions if s.date == day(offset) and s.kind == "run_walk"]
        return run

    for offset, pain in ((0, 1), (2, 6), (4, 1), (5, 1)):  # pain 6/10: week 2 steps back
        _log(db_session, planned_runner, offset, pain=pain)
    record = active_plan(db_session, planned_runner.id)
    eased = run_on(load_plan(record), 9)
    assert eased.segments != run_on(Plan.from_dict(record.base_plan), 9).segments
    _log(db_session, planned_runner, 9)  # she runs the eased session
    for offset in (11, 12, 14):  # and logs on: each log works her plan out again
        _log(db_session, planned_runner, offset)
    assert run_on(load_plan(active_plan(db_session, planned_runner.id)), 9) == eased

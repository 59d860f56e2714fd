"""A weekly check-in feeds her plan: a pain flag over her threshold, high pain into adaptation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from crm.alerts.models import CoachFlag, FlagKind
from programs.coaching.checkins import checkin_token, submit_checkin
from programs.logs import record_morning_pain, record_workout
from programs.models import WorkoutLog
from programs.plans import active_plan, load_plan
from tasks.models import OutboxEmail

MONDAY = date(2030, 10, 21)  # her plan starts on this Monday: week 0 is 21–27 Oct (2030-W43)
SUNDAY_EVENING = datetime(2030, 10, 28, 1, 0, tzinfo=UTC)  # 18:00 PDT on Sunday 27 Oct


@pytest.fixture
def runner(db_session, make_client, coach):
    return make_client(MONDAY, email="maya@example.com")


def _log_first_week(session, user_id: int, pain_during: int = 1) -> list[WorkoutLog]:
    plan = load_plan(active_plan(session, user_id))
    week = plan.weeks[0]
    logs = []
    for s in week.sessions:
        logs.append(
            record_workout(
                session, user_id, s.date, "done", 4, pain_during, kind=s.kind,
                today=week.start_date.replace(day=27),
            )
        )  # fmt: skip
    return logs


def _check_in(session, user_id: int, *, pain: int, feeling: str = "ok", confidence: int = 6):
    with time_machine.travel(SUNDAY_EVENING, tick=False):
        token = checkin_token(user_id, "2030-W43")
        return submit_checkin(session, token, feeling=feeling, pain=pain, confidence=confidence)


def _plan(session, user_id: int):
    session.expire_all()
    return load_plan(active_plan(session, user_id))


def _flags(session, user_id: int) -> list[CoachFlag]:
    """Her pain flags (logging a week after the fact raises, then resolves, a missed flag)."""
    return list(
        session.scalars(
            select(CoachFlag).where(CoachFlag.user_id == user_id, CoachFlag.kind == FlagKind.PAIN)
        )
    )


def _pain_alerts(session) -> list[str]:
    """Keys of the emails that told the coach about pain (logging raises a missed alert too)."""
    keys = session.scalars(
        select(OutboxEmail.idempotency_key).where(OutboxEmail.template == "coach_alert")
    )
    return [k for k in keys if "pain" in k]


def test_pain_over_threshold_without_logs_raises_one_flag_and_leaves_the_plan(db_session, runner):
    before = _plan(db_session, runner.id)
    _check_in(db_session, runner.id, pain=5, feeling="hard", confidence=3)  # threshold 4
    [flag] = _flags(db_session, runner.id)
    assert flag.kind == FlagKind.PAIN and flag.key == "checkin:2030-10-21"
    assert "pain 5/10" in flag.reason and "felt hard" in flag.reason and "3/10" in flag.reason
    assert _plan(db_session, runner.id).weeks == before.weeks
    assert len(_pain_alerts(db_session)) == 1  # the check-in's own alert, not a second one


def test_high_pain_becomes_next_morning_pain_and_next_week_does_not_progress(db_session, runner):
    logs = _log_first_week(db_session, runner.id)
    planned = _plan(db_session, runner.id)
    assert not planned.changes  # an easy first week: progress as planned
    assert planned.weeks[1].level > planned.weeks[0].level
    _check_in(db_session, runner.id, pain=7, feeling="hard", confidence=2)

    last_run = max((g for g in logs if g.kind == "run_walk"), key=lambda g: g.session_date)
    db_session.refresh(last_run)
    assert last_run.pain_next_morning == 7
    assert all(g.pain_next_morning is None for g in logs if g.id != last_run.id)
    plan = _plan(db_session, runner.id)
    [change] = [c for c in plan.changes if c.week == 0]
    assert change.rule == "pain-worse-next-morning"
    assert plan.weeks[1].level <= plan.weeks[0].level
    # One flag for it (the check-in's, keyed as the log's pain flag, with what the plan did),
    # and one email to the coach.
    [flag] = _flags(db_session, runner.id)
    assert flag.key == f"pain:{last_run.session_date.isoformat()}:run_walk"
    assert "pain 7/10" in flag.reason and "Plan:" in flag.reason
    assert len(_pain_alerts(db_session)) == 1


def test_moderate_pain_over_threshold_flags_without_touching_logs(db_session, runner):
    logs = _log_first_week(db_session, runner.id)
    _check_in(db_session, runner.id, pain=5)
    db_session.expire_all()
    assert all(db_session.get(WorkoutLog, g.id).pain_next_morning is None for g in logs)
    assert [f.key for f in _flags(db_session, runner.id)] == ["checkin:2030-10-21"]


def test_next_morning_pain_she_logged_herself_is_kept(db_session, runner):
    logs = _log_first_week(db_session, runner.id)
    last_run = max((g for g in logs if g.kind == "run_walk"), key=lambda g: g.session_date)
    record_morning_pain(db_session, runner.id, last_run.id, 2)
    _check_in(db_session, runner.id, pain=8)
    db_session.refresh(last_run)
    assert last_run.pain_next_morning == 2
    assert "checkin:2030-10-21" in {f.key for f in _flags(db_session, runner.id)}


def test_a_hard_week_without_pain_raises_nothing(db_session, runner):
    _log_first_week(db_session, runner.id)
    before = _plan(db_session, runner.id)
    _check_in(db_session, runner.id, pain=1, feeling="hard")
    assert _flags(db_session, runner.id) == []
    assert _plan(db_session, runner.id).weeks == before.weeks

"""Client sequences: the missed-workout nudge, race week and programme complete — each queued once
at the right local time, and each skipping itself at send time when it no longer applies."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from programs.coaching.nudges import last_session_date, queue_client_sequences
from programs.intake import submit_intake
from programs.logs import record_workout
from programs.plans import active_plan
from tasks.models import EmailStatus, OutboxEmail
from tests.factories import intake_values

LA = ZoneInfo("America/Los_Angeles")
START = date(2030, 10, 21)  # a Monday; her sessions: Mon (strength), Wed, Fri, Sat
RACE = date(2030, 12, 15)


def at(day: date, hour: int = 10) -> datetime:
    """Wall-clock `hour` on `day` in Los Angeles, as UTC."""
    return datetime.combine(day, time(hour), tzinfo=LA).astimezone(UTC)


@pytest.fixture
def send(app):
    task = app.extensions["celery"].tasks["tasks.send_email"]
    return lambda row: task.apply(args=[row.id]).get()


@pytest.fixture
def linked(db_session, make_lead):
    """Her lead (by user id), whose automation the coach can pause."""

    def link(runner):
        lead = make_lead(email=runner.email, name="Maya Runner")
        lead.user_id = runner.id
        db_session.commit()
        return lead

    return link


def _queued(session, template: str) -> list[OutboxEmail]:
    session.expire_all()
    return list(session.scalars(select(OutboxEmail).where(OutboxEmail.template == template)))


def _queue(session, when: datetime) -> dict[str, int]:
    with time_machine.travel(when, tick=False):
        return queue_client_sequences(session)


# --- missed-workout nudge ----------------------------------------------------------------------


def test_nudge_goes_once_after_three_quiet_days_in_her_daytime(db_session, make_client, send):
    runner = make_client(START)
    assert _queue(db_session, at(START + timedelta(days=1)))["missed_workout"] == 0  # 2 days
    assert _queue(db_session, at(START + timedelta(days=2), hour=3))["missed_workout"] == 0
    assert _queue(db_session, at(START + timedelta(days=2)))["missed_workout"] == 1
    assert _queue(db_session, at(START + timedelta(days=2), hour=11))["missed_workout"] == 0
    [row] = _queued(db_session, "missed_workout")
    assert row.idempotency_key == f"nudge:{runner.id}:2030-10-20"
    assert row.condition == f"missed_workouts:{runner.id}" and row.to_email == runner.email
    with time_machine.travel(at(START + timedelta(days=2), hour=11), tick=False):
        assert send(row) == "sent"


def test_nudge_skips_itself_when_she_logged_before_it_went(db_session, make_client, send):
    runner = make_client(START)
    _queue(db_session, at(START + timedelta(days=2)))
    [row] = _queued(db_session, "missed_workout")
    with time_machine.travel(at(START + timedelta(days=2), hour=10) + timedelta(minutes=5)):
        record_workout(db_session, runner.id, START, "done", 4, 0, kind="strength")
        assert send(row) == "cancelled"
    assert _queued(db_session, "missed_workout")[0].last_error == "no longer applies"


def test_nudge_skips_itself_when_the_coach_paused_her_automation(
    db_session, make_client, linked, send
):
    runner = make_client(START)
    lead = linked(runner)
    _queue(db_session, at(START + timedelta(days=2)))
    [row] = _queued(db_session, "missed_workout")
    lead.automation_paused = True
    db_session.commit()
    with time_machine.travel(at(START + timedelta(days=2), hour=11), tick=False):
        assert send(row) == "cancelled"


# --- race week ---------------------------------------------------------------------------------


def test_race_week_email_goes_once_seven_days_before_the_race(db_session, make_client, send):
    runner = make_client(START, race_date=RACE, race_type="5k")
    assert _queue(db_session, at(RACE - timedelta(days=8)))["race_week"] == 0
    assert _queue(db_session, at(RACE - timedelta(days=7)))["race_week"] == 1
    assert _queue(db_session, at(RACE - timedelta(days=6)))["race_week"] == 0
    [row] = _queued(db_session, "race_week")
    assert row.idempotency_key == f"race-week:{runner.id}:{RACE.isoformat()}"
    assert "Sunday 15 December" in row.text
    with time_machine.travel(at(RACE - timedelta(days=7), hour=12), tick=False):
        assert send(row) == "sent"


def test_race_week_email_skips_itself_when_she_moved_the_race(db_session, make_client, send):
    runner = make_client(START, race_date=RACE, race_type="5k")
    _queue(db_session, at(RACE - timedelta(days=7)))
    [row] = _queued(db_session, "race_week")
    with time_machine.travel(at(RACE - timedelta(days=7), hour=11), tick=False):
        later = intake_values(RACE - timedelta(days=6), race_date=date(2031, 2, 23), race_type="5k")
        submit_intake(db_session, runner.id, later)
        assert send(row) == "cancelled"


def test_race_week_email_skips_itself_when_automation_is_paused(
    db_session, make_client, linked, send
):
    runner = make_client(START, race_date=RACE, race_type="5k")
    lead = linked(runner)
    _queue(db_session, at(RACE - timedelta(days=7)))
    [row] = _queued(db_session, "race_week")
    lead.automation_paused = True
    db_session.commit()
    with time_machine.travel(at(RACE - timedelta(days=7), hour=11), tick=False):
        assert send(row) == "cancelled"


# --- programme complete ------------------------------------------------------------------------


def _last_day(session, runner) -> date:
    return last_session_date(active_plan(session, runner.id).plan)


def test_programme_complete_goes_once_the_day_after_her_last_session(db_session, make_client, send):
    runner = make_client(START)
    last = _last_day(db_session, runner)
    assert _queue(db_session, at(last))["programme_complete"] == 0
    assert _queue(db_session, at(last + timedelta(days=1)))["programme_complete"] == 1
    assert _queue(db_session, at(last + timedelta(days=2)))["programme_complete"] == 0
    [row] = _queued(db_session, "programme_complete")
    record = active_plan(db_session, runner.id)
    assert row.idempotency_key == f"programme-complete:{runner.id}:{record.id}"
    with time_machine.travel(at(last + timedelta(days=1), hour=11), tick=False):
        assert send(row) == "sent"


def test_programme_complete_skips_itself_when_she_is_no_longer_a_client(
    db_session, make_client, send
):
    runner = make_client(START)
    last = _last_day(db_session, runner)
    _queue(db_session, at(last + timedelta(days=1)))
    [row] = _queued(db_session, "programme_complete")
    runner.active = False  # the coach closed her account before it went
    db_session.commit()
    with time_machine.travel(at(last + timedelta(days=1), hour=11), tick=False):
        assert send(row) == "cancelled"


def test_programme_complete_skips_itself_when_automation_is_paused(
    db_session, make_client, linked, send
):
    runner = make_client(START)
    lead = linked(runner)
    last = _last_day(db_session, runner)
    _queue(db_session, at(last + timedelta(days=1)))
    [row] = _queued(db_session, "programme_complete")
    lead.automation_paused = True
    db_session.commit()
    with time_machine.travel(at(last + timedelta(days=1), hour=11), tick=False):
        assert send(row) == "cancelled"
    assert _queued(db_session, "programme_complete")[0].status == EmailStatus.CANCELLED

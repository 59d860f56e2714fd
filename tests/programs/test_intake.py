from datetime import datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.alerts.models import CoachFlag
from programs.engine import ProfileError
from programs.flags import sync_flags
from programs.intake import submit_intake
from programs.logs import record_workout
from programs.models import PlanRecord, WorkoutLog
from programs.plans import active_plan, load_plan, runner_profile
from tasks.models import OutboxEmail
from tests.factories import intake_values
from tests.programs.conftest import START, TIMEZONE, day


def test_intake_creates_one_active_plan_from_the_engine(db_session, runner):
    record = submit_intake(db_session, runner.id, intake_values(timezone=TIMEZONE))
    plan = load_plan(record)
    assert record.active and record.user_id == runner.id
    assert plan.profile.start_date == START
    assert plan.sessions[0].date >= START
    profile = runner_profile(db_session, runner.id)
    assert (profile.pain_area, profile.days_per_week, profile.timezone) == (
        "knee",
        4,
        "America/New_York",
    )


def test_invalid_intake_reports_every_bad_field_and_saves_nothing(db_session, runner):
    with pytest.raises(ProfileError) as caught:
        submit_intake(db_session, runner.id, intake_values(days=[0, 1], timezone="Mars/Olympus"))
    assert set(caught.value.messages) >= {"days", "timezone"}
    db_session.rollback()
    assert active_plan(db_session, runner.id) is None
    assert runner_profile(db_session, runner.id) is None


def test_retaking_the_intake_replaces_the_plan_and_keeps_the_logs(db_session, planned_runner):
    first = active_plan(db_session, planned_runner.id)
    record_workout(db_session, planned_runner.id, day(0), "done", 4, 1, today=day(0))
    submit_intake(db_session, planned_runner.id, intake_values(timezone=TIMEZONE, pain_level=0))
    plans = db_session.scalars(
        select(PlanRecord).where(PlanRecord.user_id == planned_runner.id)
    ).all()
    assert len(plans) == 2
    assert [p.id for p in plans if p.active] != [first.id]
    assert sum(p.active for p in plans) == 1
    assert db_session.scalar(select(func.count(WorkoutLog.id))) == 1


def test_intake_page_makes_a_plan_and_shows_it(client, auth, runner):
    auth.login(runner)
    page = client.get("/portal")
    assert b"Start your intake" in page.data
    form = client.get("/portal/intake")
    assert b"16 minutes per mile" in form.data
    response = client.post(
        "/portal/intake",
        data={
            "ability": "run_minutes",
            "run_minutes": "2",
            "days": ["0", "2", "4", "5"],
            "long_run_day": "5",
            "equipment": ["band"],
            "pain_area": "knee",
            "pain_level": "3",
            "start_date": START.isoformat(),
            "race_type": "rundisney",
            "race_date": day(70).isoformat(),
            "timezone": "America/Chicago",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/portal/plan")
    plan_page = client.get("/portal/plan")
    assert b"Week 1" in plan_page.data
    assert b"runDisney" in plan_page.data


def test_intake_form_errors_are_shown_per_field_without_a_plan(client, auth, runner):
    auth.login(runner)
    response = client.post(
        "/portal/intake",
        data={
            "ability": "walk_only",
            "days": ["0", "1"],
            "pain_area": "none",
            "pain_level": "0",
            "start_date": START.isoformat(),
            "race_type": "",
            "timezone": "America/Chicago",
        },
    )
    assert response.status_code == 200
    assert b"Pick 3 to 6 days a week" in response.data
    assert active_plan(client.application.extensions["sqlalchemy"].session, runner.id) is None


def test_today_shows_the_session_its_why_and_the_timer(client, auth, planned_runner):
    # 6 March 2030 is the Wednesday run of week 1 (noon in New York).
    with time_machine.travel(datetime(2030, 3, 6, 17, 0), tick=False):
        auth.login(planned_runner)
        page = client.get("/portal")
    html = page.data.decode()
    assert "Run/walk" in html
    assert "data-timer" in html and 'type="application/json"' in html
    assert "js/timer." in html  # fingerprinted: js/timer.<hash>.js
    assert "<script>" not in html  # strict CSP: no inline script
    assert "Log it (10 seconds)" in html


def test_strength_day_shows_each_exercise_with_its_cue_and_a_guided_session(
    client, auth, planned_runner
):
    with time_machine.travel(datetime(2030, 3, 4, 17, 0), tick=False):
        auth.login(planned_runner)
        html = client.get("/portal").data.decode()
    plan = load_plan(
        active_plan(client.application.extensions["sqlalchemy"].session, planned_runner.id)
    )
    first = plan.sessions[0]
    assert first.kind == "strength"
    assert "data-strength-items" in html  # the guided session (static/js/strength.js)
    assert all(f'data-exercise="{item.exercise_id}"' in html for item in first.items)
    assert all(item.cue.replace("'", "&#39;") in html for item in first.items)


def _flags_and_alerts(db_session, user_id):
    db_session.expire_all()
    flags = list(db_session.scalars(select(CoachFlag).where(CoachFlag.user_id == user_id)))
    query = select(OutboxEmail).where(OutboxEmail.template == "coach_alert")
    alerts = list(db_session.scalars(query))
    return flags, alerts


def test_intake_pain_above_five_flags_the_coach_at_once_and_starts_gentlest(
    db_session, runner, coach
):
    values = intake_values(timezone=TIMEZONE, pain_area="foot", pain_level=7, run_minutes=10)
    plan = load_plan(submit_intake(db_session, runner.id, values))
    assert plan.weeks[0].level == 0
    flags, alerts = _flags_and_alerts(db_session, runner.id)
    (flag,) = [f for f in flags if f.key.startswith("engine:intake-pain-high")]
    assert flag.kind == "pain" and "foot 7/10" in flag.reason and flag.resolved_at is None
    assert any("foot 7/10" in a.text for a in alerts)


def test_intake_pain_of_five_raises_no_flag(db_session, runner, coach):
    submit_intake(db_session, runner.id, intake_values(timezone=TIMEZONE, pain_level=5))
    flags, _ = _flags_and_alerts(db_session, runner.id)
    assert not [f for f in flags if f.key.startswith("engine:")]


def test_a_rundisney_race_too_close_to_hold_16_minute_miles_flags_the_coach_at_intake(
    db_session, runner, coach
):
    values = intake_values(
        timezone=TIMEZONE,
        ability="walk_only",
        run_minutes=None,
        race_date=START + timedelta(weeks=3),
        race_type="rundisney",
    )
    plan = load_plan(submit_intake(db_session, runner.id, values))
    assert plan.race_strategy.holds_16_min_mile is False
    flags, alerts = _flags_and_alerts(db_session, runner.id)
    (flag,) = [f for f in flags if f.key.startswith("engine:race-pace-at-risk")]
    assert flag.kind == "race" and "16:00" in flag.reason
    assert any("16:00" in a.text for a in alerts)
    # It stays until the coach has looked, however often flags are synced.
    sync_flags(db_session, runner.id, START + timedelta(days=3))
    db_session.commit()
    db_session.refresh(flag)
    assert flag.resolved_at is None

from programs import services
from tests.programs.portal.conftest import START, intake_values


def test_intake_creates_one_active_plan_from_the_engine(db_session, runner):
    record = services.submit_intake(db_session, runner.id, intake_values())
    plan = services.load_plan(record)
    assert record.active and record.user_id == runner.id
    assert plan.profile.start_date == START
    assert plan.sessions[0].date >= START
    profile = services.runner_profile(db_session, runner.id)
    assert (profile.pain_area, profile.days_per_week, profile.timezone) == (
        "knee",
        4,
        "America/New_York",
    )

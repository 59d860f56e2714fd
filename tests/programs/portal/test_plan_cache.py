"""The runner's pages reuse a parsed plan only while its stored JSON is unchanged."""

from __future__ import annotations

import json

from programs import services
from tests.programs.portal.conftest import day, intake_values


def test_today_uses_the_plan_as_stored(db_session, planned_runner):
    view = services.today(db_session, planned_runner.id, day(0))
    record = services.active_plan(db_session, planned_runner.id)
    assert view.plan == services.load_plan(record)
    assert view.sessions


def test_same_plan_text_is_parsed_once(db_session, planned_runner):
    record = services.active_plan(db_session, planned_runner.id)
    text = json.dumps(record.plan)
    assert services.parsed_plan(text) is services.parsed_plan(json.loads(json.dumps(text)))


def test_a_changed_plan_is_never_served_from_an_older_parse(db_session, planned_runner):
    before = services.today(db_session, planned_runner.id, day(0)).plan
    # Her plan remade under the same clock: only the content tells the versions apart.
    services.submit_intake(
        db_session, planned_runner.id, intake_values(days=[1, 3, 6], long_run_day=6)
    )
    after = services.today(db_session, planned_runner.id, day(0)).plan
    record = services.active_plan(db_session, planned_runner.id)
    assert after == services.load_plan(record)
    assert after != before

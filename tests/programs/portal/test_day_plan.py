"""The runner's day reads her plan's ~35 KB of text only when it has changed since this process
last read it (programs/today.py): her plan's id and version ride in the day's statement."""

from __future__ import annotations

import pytest

from programs import today as today_module
from programs.intake import submit_intake
from programs.plan_edits import set_intervals
from programs.today import today as runner_today
from tests.factories import intake_values
from tests.programs.conftest import TIMEZONE, day
from tests.programs.test_progress import _noon


@pytest.fixture
def parses(monkeypatch):
    """Each plan text the day parses (sent by the database: not the version held)."""
    seen: list[str] = []
    real = today_module.parsed_plan

    def counting(text: str):
        seen.append(text)
        return real(text)

    monkeypatch.setattr(today_module, "parsed_plan", counting)
    today_module._held_plans.clear()
    return seen


def test_her_plan_text_comes_again_only_when_her_plan_changed(db_session, planned_runner, parses):
    first = runner_today(db_session, planned_runner.id, day(2))
    again = runner_today(db_session, planned_runner.id, day(3))
    assert len(parses) == 1 and again.plan is first.plan
    set_intervals(db_session, planned_runner.id, day(2), 1, 10 * 60, 60)  # her coach, meanwhile
    changed = runner_today(db_session, planned_runner.id, day(2))
    assert len(parses) == 2 and changed.plan is not first.plan
    assert changed.sessions[0].longest_run_seconds == 10 * 60


def test_each_runner_gets_her_own_plan(db_session, planned_runner, make_user, parses):
    other = make_user(role="runner", email="other@example.com")
    submit_intake(db_session, other.id, intake_values(timezone=TIMEZONE, days=[1, 3, 5]))
    mine = runner_today(db_session, planned_runner.id, day(2))
    theirs = runner_today(db_session, other.id, day(2))
    assert mine.plan is not theirs.plan
    assert runner_today(db_session, planned_runner.id, day(2)).plan is mine.plan
    assert len(parses) == 2


def test_the_page_shows_her_coachs_change_at_once(client, auth, db_session, planned_runner):
    with _noon(2):
        auth.login(planned_runner)
        before = client.get("/portal").text  # the process now holds her plan
        set_intervals(db_session, planned_runner.id, day(2), 2, 7 * 60, 90)
        after = client.get("/portal").text
    assert "2 x 7:00 running" not in before
    assert "Run/walk: 2 x 7:00 running" in after and "Your coach changed this day" in after

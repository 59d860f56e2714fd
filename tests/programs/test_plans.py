"""The runner's pages reuse a parsed plan only while its stored JSON is unchanged."""

from __future__ import annotations

import json

from crm.memo import Newest
from programs.intake import submit_intake
from programs.plans import active_plan, load_plan, parsed_plan
from programs.today import today
from tests.factories import intake_values
from tests.programs.conftest import TIMEZONE, day


def test_today_uses_the_plan_as_stored(db_session, planned_runner):
    view = today(db_session, planned_runner.id, day(0))
    record = active_plan(db_session, planned_runner.id)
    assert view.plan == load_plan(record)
    assert view.sessions


def test_same_plan_text_is_parsed_once(db_session, planned_runner):
    record = active_plan(db_session, planned_runner.id)
    text = json.dumps(record.plan)
    assert parsed_plan(text) is parsed_plan(json.loads(json.dumps(text)))


def test_a_changed_plan_is_never_served_from_an_older_parse(db_session, planned_runner):
    before = today(db_session, planned_runner.id, day(0)).plan
    # Her plan remade under the same clock: only the content tells the versions apart.
    submit_intake(
        db_session,
        planned_runner.id,
        intake_values(timezone=TIMEZONE, days=[1, 3, 6], long_run_day=6),
    )
    after = today(db_session, planned_runner.id, day(0)).plan
    record = active_plan(db_session, planned_runner.id)
    assert after == load_plan(record)
    assert after != before


def test_a_process_keeps_the_newest_plans_it_used():
    """crm.memo.Newest, behind the parsed plans and the runners' held plans (and the lead list's
    rows and the pages' links): at most `size` values, the one least recently put or got goes
    first."""
    kept: Newest[str, int] = Newest(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the newer of the two
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, None, 3)
    kept.put("a", 4)  # put again: the newer value, and the newest entry
    kept.put("d", 5)
    assert (kept.get("a"), kept.get("c"), kept.get("d"), len(kept)) == (4, None, 5, 2)
    kept.clear()
    assert kept.get("a") is None and len(kept) == 0

"""The coach's flags as raised and cleared for a runner; the hourly task flags a runner who went
silent, once."""

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from crm.alerts.models import CoachFlag, FlagKind
from programs.flags import open_flags, sync_flags
from programs.intake import submit_intake
from programs.logs import record_workout
from programs.models import PlanRecord
from programs.tasks import sync_coach_flags
from tests.factories import intake_values
from tests.programs.conftest import TIMEZONE, day


def test_the_hourly_sync_flags_a_silent_runner_once(db_session, planned_runner):
    with time_machine.travel(datetime(2030, 3, 20, 12, tzinfo=UTC), tick=False):
        assert sync_coach_flags.run() >= 1
        assert sync_coach_flags.run() == 0  # a second beat tick raises nothing new
    kinds = db_session.scalars(
        select(CoachFlag.kind).where(CoachFlag.user_id == planned_runner.id)
    ).all()
    assert FlagKind.SILENT in kinds


def test_the_sync_leaves_runners_without_a_plan_alone(db_session, runner):
    assert sync_coach_flags.run() == 0
    assert db_session.scalars(select(CoachFlag)).all() == []


def test_missed_and_silent_flags_clear_themselves_once_she_logs(db_session, planned_runner):
    uid = planned_runner.id
    sync_flags(db_session, uid, day(9))
    db_session.commit()
    open_kinds = {f.kind for f in open_flags(db_session, uid)}
    assert open_kinds == {FlagKind.MISSED, FlagKind.SILENT}
    for offset in (0, 2, 4, 5):
        record_workout(db_session, uid, day(offset), "done", 5, 1, today=day(9))
    assert open_flags(db_session, uid) == []


def test_a_plan_made_late_is_not_missed_before_it_existed(db_session, runner):
    submit_intake(db_session, runner.id, intake_values(timezone=TIMEZONE))
    record = db_session.scalar(select(PlanRecord))
    record.created_at = datetime(2030, 3, 9, 18, 0, tzinfo=UTC)
    db_session.commit()
    # Without the fix, Mon 4 and Wed 6 would count as missed on Sun 10.
    assert sync_flags(db_session, runner.id, day(6)) == []


def test_the_engines_step_back_is_added_to_that_days_pain_flag(db_session, planned_runner):
    for offset, pain in ((0, 0), (2, 7), (4, 0), (5, 0)):
        record_workout(db_session, planned_runner.id, day(offset), "done", 5, pain, today=day(6))
    flags = open_flags(db_session, planned_runner.id)
    assert len(flags) == 1
    assert "7/10" in flags[0].reason and "Plan:" in flags[0].reason

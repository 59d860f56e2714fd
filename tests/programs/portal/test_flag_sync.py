"""Flags that need a clock: the hourly task flags a runner who went silent, once."""

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from programs.models import CoachFlag, FlagKind
from programs.tasks import sync_coach_flags


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

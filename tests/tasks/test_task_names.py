"""Task names follow `<package>.<verb>`; names from before the restructuring still run."""

from __future__ import annotations

import pytest

OLD_TO_NEW = {
    "tasks.weekly_checkins": "programs.coaching.send_weekly_checkins",
    "tasks.client_sequences": "programs.coaching.send_nudges",
    "tasks.coach_digest": "crm.dashboard.send_coach_digest",
    "crm.billing.tasks.process_stripe_event": "crm.billing.process_stripe_event",
    "crm.billing.tasks.enforce_grace_periods": "crm.billing.enforce_grace_periods",
    "crm.billing.tasks.reconcile_stripe": "crm.billing.reconcile_stripe",
}


@pytest.mark.parametrize(("old", "new"), OLD_TO_NEW.items())
def test_a_task_queued_under_its_old_name_runs_the_same_code(app, old, new):
    registered = app.extensions["celery"].tasks
    assert registered[old].run.__code__ is registered[new].run.__code__


def test_beat_schedules_only_registered_tasks_named_by_package(app):
    celery = app.extensions["celery"]
    for entry in celery.conf.beat_schedule.values():
        name = entry["task"]
        assert name in celery.tasks, name
        assert name.split(".")[0] in {"tasks", "crm", "programs"}, name
        assert name not in OLD_TO_NEW, f"beat still uses the old name {name}"

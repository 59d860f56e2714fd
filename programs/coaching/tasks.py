"""The coaching emails' periodic jobs, run by beat; each is safe to run twice (idempotency keys)."""

from __future__ import annotations

from extensions import db
from programs.coaching.checkins import queue_weekly_checkins
from programs.coaching.nudges import queue_client_sequences
from tasks import shared_task_with_aliases


@shared_task_with_aliases(
    name="programs.coaching.send_weekly_checkins",
    aliases=("tasks.weekly_checkins",),
    ignore_result=True,
)
def send_weekly_checkins() -> int:
    """Every 15 minutes: queue the Sunday check-ins that are due."""
    return queue_weekly_checkins(db.session)


@shared_task_with_aliases(
    name="programs.coaching.send_nudges", aliases=("tasks.client_sequences",), ignore_result=True
)
def send_nudges() -> dict[str, int]:
    """Hourly: missed-workout nudges, race-week and programme-complete emails."""
    return queue_client_sequences(db.session)

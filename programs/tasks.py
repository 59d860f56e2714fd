"""Programs' periodic work: flags that need a clock (a runner gone silent), not a log."""

from celery import shared_task

from extensions import db
from programs.flags import sync_all_flags


@shared_task(name="programs.sync_coach_flags")
def sync_coach_flags() -> int:
    """Raise due flags for every runner; idempotent, so a repeated beat tick changes nothing."""
    return sync_all_flags(db.session)

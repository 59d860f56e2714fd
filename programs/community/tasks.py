"""The weekly community digest, run by beat (Mondays)."""

from __future__ import annotations

from celery import shared_task

from extensions import db
from programs.community.digest import send_weekly_digest


@shared_task(name="programs.community.send_digest", ignore_result=True)
def send_digest() -> int:
    """Queue this week's digest; safe to run twice (one email per member and ISO week)."""
    return send_weekly_digest(db.session)

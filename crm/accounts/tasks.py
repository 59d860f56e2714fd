"""Celery tasks of accounts: forget sign-ins and reset links long over."""

from __future__ import annotations

from celery import shared_task

from crm.accounts.sessions import prune_sign_ins
from extensions import db


@shared_task(name="crm.accounts.prune_sign_ins", ignore_result=True)
def prune_sign_ins_task() -> int:
    """Daily: ended sign-ins and reset links older than 30 days go (safe to run twice)."""
    return prune_sign_ins(db.session)

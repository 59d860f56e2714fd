"""The coach's hand edits, enforced on an adapted plan. Pure: plan and edits in, plan out.

Rule: each day the coach edited reads exactly as she left it — her sessions, marked
``coach_edited``, and nothing else; a day she emptied stays a rest day. When she edited the
same day twice, the later edit wins. Adaptation already pins edited sessions, but a day she
emptied has nothing to pin, and a rebuild would fill it again: this puts it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from .adapt import CoachEdit, pin_days
from .model import Plan, Session


def enforce_edits(plan: Plan, edits: Sequence[CoachEdit]) -> Plan:
    """``plan`` with every edited day put back exactly as the coach left it (see module)."""
    if not edits:
        return plan
    final: dict[date, tuple[Session, ...]] = {}
    for edit in edits:  # a later edit of the same day wins
        final[edit.date] = tuple(
            replace(s, date=edit.date, coach_edited=True) for s in edit.sessions
        )
    return plan.replace(weeks=tuple(pin_days(plan.weeks, final)))

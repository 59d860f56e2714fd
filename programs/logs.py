"""The runner logs a session (and next-morning pain): the plan re-adapts and the coach's flags
are raised in the same transaction."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from programs.engine.model import RUN_WALK
from programs.errors import NoPlan, PortalError
from programs.flags import sync_flags
from programs.models import LogStatus, WorkoutLog
from programs.plans import active_plan, load_plan, readapt, sessions_on
from programs.today import local_today

CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # a UUID, as phones make them


def _int_in(value: Any, lo: int, hi: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return -1
    return number if lo <= number <= hi else -1


def record_workout(
    session: DbSession,
    user_id: int,
    session_date: date,
    status: str,
    effort: int | None,
    pain_during: int | None,
    pain_next_morning: int | None = None,
    note: str = "",
    *,
    kind: str | None = None,
    today: date | None = None,
    client_id: str | None = None,
) -> WorkoutLog:
    """Log (or re-log: one per day and kind) a planned session, then re-adapt the plan and raise
    any flags for the coach. ``kind`` defaults to the session planned that day (run/walk first).
    Effort and pain during are required unless the session was skipped. Raises ``PortalError``.

    ``client_id``: the id the runner's phone gave a log made offline. A log already saved under
    it is returned unchanged, so a phone that sends it again (the answer was lost) saves it once.
    """
    if client_id:
        if not CLIENT_ID.fullmatch(client_id):
            raise PortalError({"client_id": "That log id is not valid."})
        replayed = _by_client_id(session, user_id, client_id)
        if replayed is not None:
            return replayed
    record = active_plan(session, user_id)
    if record is None:
        raise NoPlan()
    plan = load_plan(record)
    today = today or local_today(session, user_id)
    errors: dict[str, str] = {}
    planned = sessions_on(plan, session_date)
    if not planned:
        errors["session_date"] = "There is no session in your plan on that day."
    elif session_date > today:
        errors["session_date"] = "You can log a session on its day or after, not before."
    if kind is None and planned:
        kind = RUN_WALK if any(s.kind == RUN_WALK for s in planned) else planned[0].kind
    if planned and kind not in {s.kind for s in planned}:
        errors["kind"] = "That kind of session isn't planned on that day."
    if status not in {s.value for s in LogStatus}:
        errors["status"] = "Tap done, partly or skipped."
    effort_v = _int_in(effort, 1, 10)
    pain_v = _int_in(pain_during, 0, 10)
    morning_v = _int_in(pain_next_morning, 0, 10)
    if effort_v == -1:
        errors["effort"] = "Effort is a number from 1 (easy) to 10 (all-out)."
    if pain_v == -1:
        errors["pain_during"] = "Pain is a number from 0 (none) to 10 (worst)."
    if morning_v == -1:
        errors["pain_next_morning"] = "Pain is a number from 0 (none) to 10 (worst)."
    if status in ("done", "partial"):
        if effort_v is None:
            errors.setdefault("effort", "How hard was it? Tap 1 to 10.")
        if pain_v is None:
            errors.setdefault("pain_during", "Any pain? Tap 0 if none.")
    if len(note or "") > 2000:
        errors["note"] = "Keep the note under 2000 characters."
    if errors:
        raise PortalError(errors)
    log = session.scalar(
        select(WorkoutLog).where(
            WorkoutLog.user_id == user_id,
            WorkoutLog.session_date == session_date,
            WorkoutLog.kind == kind,
        )
    )
    if log is None:
        log = WorkoutLog(user_id=user_id, session_date=session_date, kind=kind)
        session.add(log)
    log.status = LogStatus(status)
    skipped = status == "skipped"
    log.effort = None if skipped else effort_v
    log.pain_during = None if skipped else pain_v
    if morning_v is not None:
        log.pain_next_morning = morning_v
    log.note = (note or "").strip()
    if log.planned is None:  # what she is logging against: her plan keeps that day so
        log.planned = [s.to_dict() for s in planned if s.kind == kind]
    if kind == RUN_WALK:  # what her plan asked of her that day, for her milestones
        log.run_seconds = next(s.longest_run_seconds for s in planned if s.kind == RUN_WALK)
    if client_id:
        log.client_id = client_id
    try:
        session.flush()
    except IntegrityError:
        # Two submits racing for the same day (or the same offline log sent twice at once): the
        # other one won; ours becomes an update, or the replay it is.
        session.rollback()
        return record_workout(
            session, user_id, session_date, status, effort, pain_during,
            pain_next_morning, note, kind=kind, today=today, client_id=client_id,
        )  # fmt: skip
    readapt(session, record)
    sync_flags(session, user_id, today)
    session.commit()
    return log


def _by_client_id(session: DbSession, user_id: int, client_id: str) -> WorkoutLog | None:
    return session.scalar(
        select(WorkoutLog).where(WorkoutLog.user_id == user_id, WorkoutLog.client_id == client_id)
    )


def record_morning_pain(session: DbSession, user_id: int, log_id: int, pain: int) -> WorkoutLog:
    """Add next-morning pain to one of the runner's own logs, then re-adapt."""
    log = session.get(WorkoutLog, log_id)
    if log is None or log.user_id != user_id:
        raise PortalError({"log_id": "That log isn't yours or doesn't exist."})
    value = _int_in(pain, 0, 10)
    if value is None or value == -1:
        raise PortalError({"pain_next_morning": "Pain is a number from 0 (none) to 10 (worst)."})
    log.pain_next_morning = value
    record = active_plan(session, user_id)
    if record is not None:
        readapt(session, record)
    sync_flags(session, user_id, local_today(session, user_id))
    session.commit()
    return log

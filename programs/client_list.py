"""The coach's client list and a client's page: adherence, open flags, pain, notes, her pain
threshold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from crm.accounts.models import Role, User
from crm.alerts.models import CoachFlag
from programs.engine.progress import PainTrend, adherence, pain_trend
from programs.errors import NoPlan, PortalError
from programs.models import ClientNote, PlanRecord, RunnerProfile, WorkoutLog
from programs.plans import load_plan, runner_profile, session_logs


@dataclass
class ClientRow:
    user: User
    profile: RunnerProfile | None
    record: PlanRecord | None
    open_flags: list[CoachFlag]
    adherence: int | None
    last_log: date | None
    pain: PainTrend | None


def client_overview(session: DbSession, on_date: date, sort: str = "flags") -> list[ClientRow]:
    """Every runner with her adherence, open flags and pain, sorted by ``flags`` (most first),
    ``adherence`` (lowest first) or ``name``. A fixed handful of queries however many clients:
    flags are raised by logging and by the hourly ``sync_all_flags``, not by looking."""
    runners = session.scalars(select(User).where(User.role == Role.RUNNER).order_by(User.id)).all()
    ids = [u.id for u in runners]
    records = {
        r.user_id: r
        for r in session.scalars(
            select(PlanRecord).where(PlanRecord.user_id.in_(ids), PlanRecord.active.is_(True))
        )
    }
    profiles = {
        p.user_id: p
        for p in session.scalars(select(RunnerProfile).where(RunnerProfile.user_id.in_(ids)))
    }
    logs: dict[int, list[WorkoutLog]] = {uid: [] for uid in ids}
    for lg in session.scalars(
        select(WorkoutLog)
        .where(WorkoutLog.user_id.in_(ids))
        .order_by(WorkoutLog.session_date, WorkoutLog.kind)
    ):
        logs[lg.user_id].append(lg)
    flags: dict[int, list[CoachFlag]] = {uid: [] for uid in ids}
    for flag in session.scalars(
        select(CoachFlag)
        .where(CoachFlag.user_id.in_(ids), CoachFlag.resolved_at.is_(None))
        .order_by(CoachFlag.created_at.desc(), CoachFlag.id.desc())
    ):
        flags[flag.user_id].append(flag)
    rows = []
    for user in runners:
        record = records.get(user.id)
        plan = load_plan(record) if record else None
        user_logs = session_logs(logs[user.id])
        rows.append(
            ClientRow(
                user=user,
                profile=profiles.get(user.id),
                record=record,
                open_flags=flags[user.id],
                adherence=adherence(plan, user_logs, on_date) if plan else None,
                last_log=max((lg.session_date for lg in user_logs), default=None),
                pain=pain_trend(user_logs, on_date) if user_logs else None,
            )
        )
    if sort == "adherence":
        rows.sort(key=lambda r: (r.adherence is None, r.adherence or 0, r.user.display_name))
    elif sort == "name":
        rows.sort(key=lambda r: r.user.display_name.lower())
    else:
        rows.sort(
            key=lambda r: (-len(r.open_flags), r.adherence is None, r.adherence or 0, r.user.id)
        )
    return rows


def client_user(session: DbSession, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.role == Role.RUNNER else None


def add_note(session: DbSession, user_id: int, author_id: int, body: str) -> ClientNote:
    body = (body or "").strip()
    if not body:
        raise PortalError({"body": "Write something first."})
    note = ClientNote(user_id=user_id, author_id=author_id, body=body[:4000])
    session.add(note)
    session.commit()
    return note


def notes_for(session: DbSession, user_id: int) -> list[ClientNote]:
    return list(
        session.scalars(
            select(ClientNote)
            .where(ClientNote.user_id == user_id)
            .order_by(ClientNote.created_at.desc(), ClientNote.id.desc())
        )
    )


def set_pain_threshold(session: DbSession, user_id: int, threshold: int) -> RunnerProfile:
    profile = runner_profile(session, user_id)
    if profile is None:
        raise NoPlan()
    if not 0 <= int(threshold) <= 9:
        raise PortalError({"pain_threshold": "Pick 0 to 9."})
    profile.pain_threshold = int(threshold)
    session.commit()
    return profile

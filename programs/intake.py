"""Intake → plan: the runner's answers become her profile and a fresh plan; a plan regenerated
from the stored profile. The previous plan, if any, becomes history; her logs are kept."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from crm.time import zone
from programs.engine import Profile, ProfileError, generate_plan
from programs.errors import NoPlan
from programs.flags import sync_flags
from programs.library import current_library
from programs.models import PlanRecord, RunnerProfile
from programs.plans import readapt, runner_profile
from programs.today import DEFAULT_TIMEZONE, local_today


def _profile_from_values(values: Mapping[str, Any]) -> tuple[Profile, str]:
    """The engine's Profile and the time zone from form-shaped values; every bad field at once."""
    data = {k: v for k, v in values.items() if k != "timezone"}
    tz = (values.get("timezone") or DEFAULT_TIMEZONE).strip()
    messages: dict[str, str] = {}
    try:
        zone(tz)
    except ValueError:
        messages["timezone"] = "Pick a time zone like America/New_York."
    for key in ("start_date", "race_date"):
        if isinstance(data.get(key), date):
            data[key] = data[key].isoformat()
    try:
        profile = Profile.from_dict(data)
    except ProfileError as exc:
        raise ProfileError({**exc.messages, **messages}) from exc
    if messages:
        raise ProfileError(messages)
    return profile, tz


def submit_intake(session: DbSession, user_id: int, values: Mapping[str, Any]) -> PlanRecord:
    """Save the runner's intake answers and give her a fresh plan (the previous one, if any,
    becomes history; her logs are kept). Raises ``ProfileError`` with per-field messages."""
    profile, tz = _profile_from_values(values)
    record = runner_profile(session, user_id)
    if record is None:
        record = RunnerProfile(user_id=user_id)
        session.add(record)
    record.profile = profile.to_dict()
    record.ability = profile.ability
    record.run_minutes = profile.run_minutes
    record.days_per_week = len(profile.days)
    record.pain_area = profile.pain_area
    record.pain_level = profile.pain_level
    record.race_date = profile.race_date
    record.race_type = profile.race_type
    record.start_date = profile.start_date
    record.timezone = tz
    return _replace_plan(session, user_id, profile)


def regenerate_plan(session: DbSession, user_id: int, start_date: date | None = None) -> PlanRecord:
    """A new plan from the stored profile (optionally from a new start date), adapted to the
    logs she already has. The old plan and its coach edits stay as history."""
    record = runner_profile(session, user_id)
    if record is None:
        raise NoPlan()
    data = dict(record.profile)
    if start_date is not None:
        data["start_date"] = start_date.isoformat()
    profile = Profile.from_dict(data)  # raises ProfileError, e.g. a race now in the past
    record.profile = profile.to_dict()
    record.start_date = profile.start_date
    return _replace_plan(session, user_id, profile)


def _replace_plan(session: DbSession, user_id: int, profile: Profile) -> PlanRecord:
    base = generate_plan(profile, current_library(session))
    for old in session.scalars(
        select(PlanRecord).where(PlanRecord.user_id == user_id, PlanRecord.active.is_(True))
    ):
        old.active = False
    # Deactivate before inserting: the partial unique index allows one active plan only.
    session.flush()
    plan_record = PlanRecord(
        user_id=user_id,
        engine_version=base.engine_version,
        base_plan=base.to_dict(),
        plan=base.to_dict(),
        coach_edits=[],
        active=True,
    )
    session.add(plan_record)
    session.flush()
    readapt(session, plan_record)
    sync_flags(session, user_id, local_today(session, user_id))
    session.commit()
    return plan_record

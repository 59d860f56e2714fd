"""What the portal, the coach's client view, the API and the CLI share: intake → plan, logs →
adaptation → flags, coach edits, progress numbers, the calendar feed.

Every function takes a SQLAlchemy session and plain values. Functions that change data own the
commit. The plan itself always comes from the pure engine (``programs.engine``): a record keeps
the engine's plan as generated (``base``) and the plan the runner sees (``plan`` = base adapted
to her logs with the coach's edits applied), recomputed from scratch after every log or edit so
the result never depends on the order things happened in.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import defer

from crm.accounts.models import Role, User
from crm.time import utcnow, zone
from programs.community.models import Post as CommunityPost
from programs.engine import (
    CoachEdit,
    Exercise,
    Library,
    LibraryError,
    Plan,
    Profile,
    ProfileError,
    Segment,
    Session,
    StrengthItem,
    adapt,
    coach_flags,
    generate_plan,
    load_library,
    validate_exercise,
)
from programs.engine import (
    WorkoutLog as EngineLog,
)
from programs.engine.library import DIRECTIONS, KNEE_POSITIONS
from programs.models import (
    CalendarToken,
    ClientNote,
    CoachExercise,
    CoachFlag,
    FlagKind,
    LogStatus,
    PlanRecord,
    RunnerProfile,
    WorkoutLog,
)

RUN_WALK = "run_walk"
STRENGTH = "strength"
KINDS = (RUN_WALK, STRENGTH)
WARMUP_SECONDS = 300  # the engine's invariant: every run/walk starts and ends with 5 min walking
SILENT_DAYS = 7
DEFAULT_TIMEZONE = "America/Los_Angeles"

logger = logging.getLogger(__name__)


class PortalError(ValueError):
    """A request the business rules refuse; ``messages`` maps a field (or "") to a sentence."""

    def __init__(self, messages: Mapping[str, str] | str) -> None:
        self.messages = {"": messages} if isinstance(messages, str) else dict(messages)
        super().__init__("; ".join(v for v in self.messages.values()))


class NoPlan(PortalError):
    """The runner has no active plan yet (intake not done)."""

    def __init__(self) -> None:
        super().__init__("Start your intake first: your plan is made from it.")


# --- intake and plans ---------------------------------------------------------------------------


def runner_profile(session: DbSession, user_id: int) -> RunnerProfile | None:
    return session.scalar(select(RunnerProfile).where(RunnerProfile.user_id == user_id))


def active_plan(session: DbSession, user_id: int) -> PlanRecord | None:
    return session.scalar(
        select(PlanRecord).where(PlanRecord.user_id == user_id, PlanRecord.active.is_(True))
    )


def load_plan(record: PlanRecord) -> Plan:
    return Plan.from_dict(record.plan)


# Parsed plans keyed by their stored JSON text: the key is the content itself, so a changed plan
# can never be served from an older parse, in this process or any other. A Plan is immutable
# (frozen dataclasses and tuples), so one instance is shared by every request of the process.
PLAN_CACHE_SIZE = 128
_plans: OrderedDict[str, Plan] = OrderedDict()
# The plan as the text the database holds (JSON is stored as text by both backends): no JSON
# decoding by the driver, and the base plan next to it is not fetched at all.
_PLAN_TEXT = cast(PlanRecord.plan, Text)
_WITHOUT_PLAN_JSON = (defer(PlanRecord.plan), defer(PlanRecord.base_plan))


def parsed_plan(plan_json: str) -> Plan:
    """The Plan of a plan record's stored JSON text, parsed once per process per content."""
    plan = _plans.get(plan_json)
    if plan is None:
        plan = _plans[plan_json] = Plan.from_dict(json.loads(plan_json))
        if len(_plans) > PLAN_CACHE_SIZE:
            _plans.popitem(last=False)
    else:
        _plans.move_to_end(plan_json)
    return plan


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
    _readapt(session, plan_record)
    sync_flags(session, user_id, local_today(session, user_id))
    session.commit()
    return plan_record


def _engine_logs(logs: Iterable[WorkoutLog]) -> list[EngineLog]:
    """One engine log per day (the engine judges days): the run/walk's status wins, pain is the
    worst of the day's logs."""
    by_day: dict[date, list[WorkoutLog]] = {}
    for lg in logs:
        by_day.setdefault(lg.session_date, []).append(lg)
    out = []
    for day in sorted(by_day):
        day_logs = sorted(by_day[day], key=lambda g: g.kind != RUN_WALK)
        mornings = [g.pain_next_morning for g in day_logs if g.pain_next_morning is not None]
        out.append(
            EngineLog(
                session_date=day,
                status=str(day_logs[0].status),
                effort=day_logs[0].effort,
                pain_during=max(g.pain_during or 0 for g in day_logs),
                pain_next_morning=max(mornings) if mornings else None,
            )
        )
    return out


def _edits(record: PlanRecord) -> list[CoachEdit]:
    return [
        CoachEdit(
            date=date.fromisoformat(e["date"]),
            sessions=tuple(Session.from_dict(s) for s in e["sessions"]),
            note=e.get("note", "Changed by your coach."),
        )
        for e in record.coach_edits or []
    ]


def _enforce_edits(plan: Plan, edits: Sequence[CoachEdit]) -> Plan:
    """Put each edited day back exactly as the coach left it. Adaptation pins edited sessions,
    but a day the coach emptied has nothing to pin, and a rebuild would fill it again."""
    if not edits:
        return plan
    final: dict[date, tuple[Session, ...]] = {}
    for edit in edits:  # a later edit of the same day wins
        final[edit.date] = tuple(
            replace(s, date=edit.date, coach_edited=True) for s in edit.sessions
        )
    weeks = []
    for week in plan.weeks:
        end = week.start_date + timedelta(days=7)
        days = {d for d in final if week.start_date <= d < end}
        if not days:
            weeks.append(week)
            continue
        sessions = [s for s in week.sessions if s.date not in days]
        sessions += [s for d in days for s in final[d]]
        weeks.append(replace(week, sessions=tuple(sorted(sessions, key=lambda s: s.date))))
    return plan.replace(weeks=tuple(weeks))


def _readapt(session: DbSession, record: PlanRecord) -> Plan:
    """Recompute the runner's plan: engine output + her logs + the coach's edits."""
    base = Plan.from_dict(record.base_plan)
    start = base.profile.start_date
    logs = session.scalars(
        select(WorkoutLog).where(
            WorkoutLog.user_id == record.user_id, WorkoutLog.session_date >= start
        )
    ).all()
    edits = _edits(record)
    library = current_library(session)
    plan = _enforce_edits(adapt(base, _engine_logs(logs), edits, library), edits)
    record.plan = plan.to_dict()
    return plan


# --- logs ---------------------------------------------------------------------------------------


def _int_in(value: Any, lo: int, hi: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return -1
    return number if lo <= number <= hi else -1


def sessions_on(plan: Plan, day: date) -> list[Session]:
    return [s for s in plan.sessions if s.date == day]


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
) -> WorkoutLog:
    """Log (or re-log: one per day and kind) a planned session, then re-adapt the plan and raise
    any flags for the coach. ``kind`` defaults to the session planned that day (run/walk first).
    Effort and pain during are required unless the session was skipped. Raises ``PortalError``."""
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
    try:
        session.flush()
    except IntegrityError:
        # Two submits racing for the same day: the other one won; ours becomes an update.
        session.rollback()
        return record_workout(
            session, user_id, session_date, status, effort, pain_during,
            pain_next_morning, note, kind=kind, today=today,
        )  # fmt: skip
    _readapt(session, record)
    sync_flags(session, user_id, today)
    session.commit()
    return log


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
        _readapt(session, record)
    sync_flags(session, user_id, local_today(session, user_id))
    session.commit()
    return log


def logs_for(session: DbSession, user_id: int, since: date | None = None) -> list[WorkoutLog]:
    query = select(WorkoutLog).where(WorkoutLog.user_id == user_id)
    if since is not None:
        query = query.where(WorkoutLog.session_date >= since)
    return list(session.scalars(query.order_by(WorkoutLog.session_date, WorkoutLog.kind)))


# --- today --------------------------------------------------------------------------------------


def runner_timezone(session: DbSession, user_id: int) -> str:
    profile = runner_profile(session, user_id)
    if profile is not None:
        return profile.timezone
    user = session.get(User, user_id)
    return user.timezone if user is not None else DEFAULT_TIMEZONE


def local_today(session: DbSession, user_id: int, now: datetime | None = None) -> date:
    """The runner's calendar date in her time zone."""
    try:
        tz = zone(runner_timezone(session, user_id))
    except ValueError:
        tz = zone("UTC")
    return (now or utcnow()).astimezone(tz).date()


@dataclass
class TodayView:
    on_date: date
    record: PlanRecord | None = None
    plan: Plan | None = None
    sessions: list[Session] = field(default_factory=list)
    logs: dict[str, WorkoutLog] = field(default_factory=dict)
    next_session: Session | None = None
    morning_prompts: list[WorkoutLog] = field(default_factory=list)
    week_index: int | None = None

    @property
    def starts_later(self) -> bool:
        return self.plan is not None and self.plan.profile.start_date > self.on_date


def today(session: DbSession, user_id: int, on_date: date) -> TodayView:
    """What the runner should do on ``on_date``: the day's sessions and their logs, the next
    session when it is a rest day, and logs still waiting for next-morning pain."""
    view = TodayView(on_date=on_date)
    row = session.execute(
        select(PlanRecord, _PLAN_TEXT)
        .where(PlanRecord.user_id == user_id, PlanRecord.active.is_(True))
        .options(*_WITHOUT_PLAN_JSON)
    ).first()
    if row is None:
        return view
    record, plan = row[0], parsed_plan(row[1])
    view.record, view.plan = record, plan
    view.sessions = sessions_on(plan, on_date)
    view.next_session = next((s for s in plan.sessions if s.date > on_date), None)
    for week in plan.weeks:
        if week.start_date <= on_date < week.start_date + timedelta(days=7):
            view.week_index = week.index
    recent = logs_for(session, user_id, since=on_date - timedelta(days=2))
    view.logs = {lg.kind: lg for lg in recent if lg.session_date == on_date}
    view.morning_prompts = [
        lg
        for lg in recent
        if lg.session_date < on_date
        and lg.status != LogStatus.SKIPPED
        and lg.pain_next_morning is None
    ]
    return view


# --- milestones ---------------------------------------------------------------------------------

# Continuous running, longest first: the community's milestone kinds (programs.community).
MILESTONE_MINUTES = ((30, "continuous_30"), (20, "continuous_20"), (10, "continuous_10"))


def _longest_runs(session: DbSession, user_id: int) -> dict[date, int]:
    """Longest run segment (seconds) of her run/walk session on each day: the active plan's
    sessions win over older plans' (her earlier logs may belong to a plan since replaced)."""
    longest: dict[date, int] = {}
    plans = session.scalars(
        select(_PLAN_TEXT)
        .where(PlanRecord.user_id == user_id)
        .order_by(PlanRecord.active.desc(), PlanRecord.created_at.desc(), PlanRecord.id.desc())
    )
    for plan_json in plans:
        for s in parsed_plan(plan_json).sessions:
            if s.kind == RUN_WALK and s.date not in longest:
                longest[s.date] = s.longest_run_seconds
    return longest


def run_milestone(session: DbSession, user_id: int, on_date: date) -> str | None:
    """The milestone her run/walk done on ``on_date`` reached for the first time — the
    longest continuous run the plan set that day is 10, 20 or 30 minutes or more, and no
    run/walk she logged as done earlier was that long — as a community milestone kind."""
    done = list(
        session.scalars(
            select(WorkoutLog.session_date).where(
                WorkoutLog.user_id == user_id,
                WorkoutLog.kind == RUN_WALK,
                WorkoutLog.status == LogStatus.DONE,
                WorkoutLog.session_date <= on_date,
            )
        )
    )
    if on_date not in done:
        return None
    longest = _longest_runs(session, user_id)
    before = max((longest.get(d, 0) for d in done if d < on_date), default=0)
    today = longest.get(on_date, 0)
    for minutes, kind in MILESTONE_MINUTES:
        if today >= minutes * 60 > before:
            return kind
    return None


def milestone_shared(session: DbSession, user_id: int, kind: str) -> bool:
    """Whether she already shared this milestone with the community."""
    return (
        session.scalar(
            select(CommunityPost.id)
            .where(CommunityPost.author_id == user_id, CommunityPost.milestone == kind)
            .limit(1)
        )
        is not None
    )


# --- progress, adherence, pain ------------------------------------------------------------------


def adherence(plan: Plan, logs: Iterable[WorkoutLog], on_date: date) -> int | None:
    """Percent of sessions due by ``on_date`` that were done (partly done counts half).

    A session is due once its day is over, or on its day once it is logged. None when nothing
    is due yet."""
    by_key = {(lg.session_date, lg.kind): lg for lg in logs}
    due = 0
    score = 0.0
    for s in plan.sessions:
        lg = by_key.get((s.date, s.kind))
        if s.date < on_date or (s.date == on_date and lg is not None):
            due += 1
            if lg is not None and lg.status == LogStatus.DONE:
                score += 1
            elif lg is not None and lg.status == LogStatus.PARTIAL:
                score += 0.5
    return round(100 * score / due) if due else None


@dataclass(frozen=True)
class PainTrend:
    points: list[tuple[date, int | None, int | None]]  # (day, during, next morning)
    recent_avg: float | None
    previous_avg: float | None

    @property
    def direction(self) -> str | None:
        """ "up", "down" or "steady": the last 7 days against the 7 before."""
        if self.recent_avg is None or self.previous_avg is None:
            return None
        diff = self.recent_avg - self.previous_avg
        return "up" if diff >= 1 else "down" if diff <= -1 else "steady"

    @property
    def latest(self) -> int | None:
        return self.points[-1][1] if self.points else None


def pain_trend(logs: Iterable[WorkoutLog], on_date: date, days: int = 28) -> PainTrend:
    """Pain during (and next morning) per logged day over the last ``days`` days."""
    since = on_date - timedelta(days=days)
    points: dict[date, tuple[int | None, int | None]] = {}
    for lg in logs:
        if not since < lg.session_date <= on_date or lg.pain_during is None:
            continue
        during, morning = points.get(lg.session_date, (None, None))
        during = max(x for x in (during, lg.pain_during) if x is not None)
        if lg.pain_next_morning is not None:
            morning = max(x for x in (morning, lg.pain_next_morning) if x is not None)
        points[lg.session_date] = (during, morning)

    def avg(lo: date, hi: date) -> float | None:
        vals = [p[0] for d, p in points.items() if lo < d <= hi and p[0] is not None]
        return sum(vals) / len(vals) if vals else None

    return PainTrend(
        points=[(d, *points[d]) for d in sorted(points)],
        recent_avg=avg(on_date - timedelta(days=7), on_date),
        previous_avg=avg(on_date - timedelta(days=14), on_date - timedelta(days=7)),
    )


@dataclass(frozen=True)
class WeekProgress:
    index: int
    start_date: date
    planned_run_minutes: float
    done_run_minutes: float
    longest_run_minutes: float  # longest continuous run in a session she did (done or partly)
    pain_max: int | None


def weekly_progress(plan: Plan, logs: Iterable[WorkoutLog], on_date: date) -> list[WeekProgress]:
    """Per plan week up to the current one: running minutes planned and done, the longest
    continuous run she did, and the worst pain she logged."""
    by_key = {(lg.session_date, lg.kind): lg for lg in logs}
    out = []
    for week in plan.weeks:
        if week.start_date > on_date:
            break
        done = 0.0
        longest = 0
        pains = []
        for s in week.sessions:
            lg = by_key.get((s.date, s.kind))
            if lg is None:
                continue
            if lg.pain_during is not None:
                pains.append(lg.pain_during)
            if s.kind != RUN_WALK or lg.status == LogStatus.SKIPPED:
                continue
            share = 1.0 if lg.status == LogStatus.DONE else 0.5
            done += s.run_seconds * share
            if lg.status == LogStatus.DONE:
                longest = max(longest, s.longest_run_seconds)
        out.append(
            WeekProgress(
                index=week.index,
                start_date=week.start_date,
                planned_run_minutes=week.run_seconds / 60,
                done_run_minutes=done / 60,
                longest_run_minutes=longest / 60,
                pain_max=max(pains) if pains else None,
            )
        )
    return out


@dataclass
class Progress:
    record: PlanRecord | None
    weeks: list[WeekProgress]
    adherence: int | None
    pain: PainTrend
    logs: list[WorkoutLog]


def progress(session: DbSession, user_id: int, on_date: date) -> Progress:
    record = active_plan(session, user_id)
    logs = logs_for(session, user_id)
    if record is None:
        return Progress(None, [], None, pain_trend(logs, on_date), logs)
    plan = load_plan(record)
    return Progress(
        record,
        weekly_progress(plan, logs, on_date),
        adherence(plan, logs, on_date),
        pain_trend(logs, on_date),
        logs,
    )


# --- coach flags --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: FlagKind
    key: str
    reason: str


def _day(d: date) -> str:
    return d.strftime("%a %-d %b")


def compute_flags(
    logs: Sequence[WorkoutLog],
    planned: Sequence[tuple[date, str]],
    watch_from: date,
    on_date: date,
    threshold: int,
) -> list[Finding]:
    """Pure: what the coach should hear about, from the logs and the planned (day, kind) list.

    ``watch_from`` is the first day the runner could have followed the plan (its start, or the
    day it was made if later): nothing before it counts as missed or silent.

    * pain: a log with pain during or next morning above ``threshold``;
    * missed: two planned sessions in a row, in the last 14 days, skipped or not logged by the
      day after (a day's grace to log);
    * silent: no log for ``SILENT_DAYS`` days once the plan has been running that long.
    """
    found: list[Finding] = []
    for lg in logs:
        worst = max(v for v in (lg.pain_during, lg.pain_next_morning, -1) if v is not None)
        if worst > threshold:
            morning_worse = (lg.pain_next_morning or -1) > (lg.pain_during or -1)
            when = "next morning" if morning_worse else "during"
            what = "run/walk" if lg.kind == RUN_WALK else "hip strength"
            found.append(
                Finding(
                    FlagKind.PAIN,
                    f"pain:{lg.session_date.isoformat()}:{lg.kind}",
                    f"Pain {worst}/10 {when} the {what} on {_day(lg.session_date)}.",
                )
            )
    by_key = {(lg.session_date, lg.kind): lg for lg in logs}
    window = max(on_date - timedelta(days=14), watch_from)
    past = sorted(p for p in planned if window <= p[0] <= on_date - timedelta(days=1))
    streaks: list[list[date]] = [[]]
    for day, kind in past:
        lg = by_key.get((day, kind))
        if (lg is not None and lg.status == LogStatus.SKIPPED) or (
            lg is None and day <= on_date - timedelta(days=2)
        ):
            streaks[-1].append(day)
        elif lg is not None:
            streaks.append([])
    for streak in streaks:
        if len(streak) >= 2:
            # Keyed by the streak's first day: one flag per run of misses, however long.
            found.append(
                Finding(
                    FlagKind.MISSED,
                    f"missed:{streak[0].isoformat()}",
                    f"Missed {len(streak)} sessions in a row "
                    f"({_day(streak[0])} to {_day(streak[-1])}).",
                )
            )
    last = max((lg.session_date for lg in logs), default=None)
    since = max(last, watch_from) if last else watch_from
    if since <= on_date - timedelta(days=SILENT_DAYS):
        gap = (on_date - since).days
        reason = (
            f"No log since {_day(last)} ({gap} days)."
            if last
            else f"No log since the plan started on {_day(watch_from)} ({gap} days)."
        )
        found.append(Finding(FlagKind.SILENT, f"silent:{since.isoformat()}", reason))
    return found


def _planned(plan: Plan) -> list[tuple[date, str]]:
    return [(s.date, s.kind) for s in plan.sessions]


def sync_flags(session: DbSession, user_id: int, on_date: date | None = None) -> list[CoachFlag]:
    """Raise (once each) the flags the logs and the engine call for; alert the coach by email
    when the ``coach_alert`` email template exists. No commit: callers commit."""
    record = active_plan(session, user_id)
    if record is None:
        return []
    profile = runner_profile(session, user_id)
    plan = load_plan(record)
    on_date = on_date or local_today(session, user_id)
    logs = logs_for(session, user_id, since=plan.profile.start_date)
    threshold = profile.pain_threshold if profile is not None else 4
    tz = zone(profile.timezone) if profile is not None else zone("UTC")
    made = (record.created_at or utcnow()).astimezone(tz).date()
    watch_from = max(plan.profile.start_date, made)
    findings = compute_flags(logs, _planned(plan), watch_from, on_date, threshold)
    current = {f.key for f in findings}
    flags = {
        f.key: f
        for f in session.scalars(select(CoachFlag).where(CoachFlag.user_id == user_id)).all()
    }
    # Missed/silent flags whose condition has cleared (she logged after all) resolve themselves;
    # pain flags stay until the coach has looked.
    for flag in flags.values():
        if flag.kind != FlagKind.PAIN and flag.resolved_at is None and flag.key not in current:
            flag.resolved_at = utcnow()
    new = []
    for f in findings:
        if f.key in flags:
            continue
        flag = CoachFlag(user_id=user_id, kind=f.kind, key=f.key, reason=f.reason)
        session.add(flag)
        flags[f.key] = flag
        new.append(flag)
    # The engine's own flags (a step back) explain what the plan did about the pain: added to
    # that day's pain flag rather than raised as a second flag for the same day.
    for ef in coach_flags(plan):
        day_flags = [f for k, f in flags.items() if k.startswith(f"pain:{ef.date.isoformat()}:")]
        if day_flags:
            if ef.reason not in day_flags[0].reason:
                day_flags[0].reason = f"{day_flags[0].reason} Plan: {ef.reason}"
            continue
        key = f"engine:{ef.rule}:{ef.date.isoformat()}"
        if key not in flags:
            flag = CoachFlag(user_id=user_id, kind=FlagKind.PAIN, key=key, reason=ef.reason)
            session.add(flag)
            flags[key] = flag
            new.append(flag)
    if new:
        session.flush()
        _alert_coach(session, user_id, new)
    return new


def _alert_coach(session: DbSession, user_id: int, flags: list[CoachFlag]) -> None:
    from flask import current_app
    from jinja2 import TemplateNotFound

    try:
        current_app.jinja_env.get_template("emails/coach_alert.txt")
    except (TemplateNotFound, RuntimeError):
        return  # no template yet (or no app): the flag row is the alert
    from tasks.outbox import queue_email

    runner = session.get(User, user_id)
    coaches = session.scalars(
        select(User).where(User.role == Role.COACH, User.active.is_(True))
    ).all()
    for coach in coaches:
        for flag in flags:
            queue_email(
                session,
                to=coach.email,
                template="coach_alert",
                context={"runner": runner, "flag": flag, "coach": coach},
                idempotency_key=f"coach-alert:{user_id}:{flag.key}:{coach.id}",
                user_id=coach.id,
            )


def resolve_flag(session: DbSession, flag_id: int) -> CoachFlag:
    flag = session.get(CoachFlag, flag_id)
    if flag is None:
        raise PortalError("That flag doesn't exist.")
    if flag.resolved_at is None:
        flag.resolved_at = utcnow()
        session.commit()
    return flag


def open_flags(session: DbSession, user_id: int) -> list[CoachFlag]:
    return list(
        session.scalars(
            select(CoachFlag)
            .where(CoachFlag.user_id == user_id, CoachFlag.resolved_at.is_(None))
            .order_by(CoachFlag.created_at.desc(), CoachFlag.id.desc())
        )
    )


# --- weekly check-in feedback -------------------------------------------------------------------

CHECKIN_REPEAT_PAIN = 5  # the engine's own line: pain above 5/10 is never progressed on


def record_checkin_feedback(
    session: DbSession,
    user_id: int,
    week_start: date,
    pain: int,
    how: str,
    confidence: int,
) -> CoachFlag | None:
    """Feed a weekly check-in (the week Monday ``week_start`` to Sunday) into her plan. No
    commit: the check-in's caller commits.

    Pain above her threshold raises a pain flag for the coach (once per week; the check-in has
    already emailed the coach, so the flag sends nothing). Pain above 5/10 is what the engine
    refuses to progress on, but it only reads logs: it becomes the next-morning pain of her last
    logged run/walk that week when that log has none, and the plan re-adapts — once the week is
    judged, next week repeats its rung, or steps back one when that pain is worse than during
    (the engine's rules). The flag then carries the key of that log's pain flag, so
    ``sync_flags`` adds the plan's reason to it instead of raising and emailing a second one.
    ``how`` (great/ok/hard) and ``confidence`` go into the flag's reason. Returns the flag."""
    record = active_plan(session, user_id)
    profile = runner_profile(session, user_id)
    threshold = profile.pain_threshold if profile is not None else 4
    week_end = week_start + timedelta(days=6)
    fed: WorkoutLog | None = None
    if record is not None and pain > CHECKIN_REPEAT_PAIN:
        last_run = session.scalar(
            select(WorkoutLog)
            .where(
                WorkoutLog.user_id == user_id,
                WorkoutLog.kind == RUN_WALK,
                WorkoutLog.status != LogStatus.SKIPPED,
                WorkoutLog.session_date.between(week_start, week_end),
            )
            .order_by(WorkoutLog.session_date.desc())
            .limit(1)
        )
        if last_run is not None and last_run.pain_next_morning is None:
            last_run.pain_next_morning = pain
            fed = last_run
            session.flush()
            _readapt(session, record)
    flag = None
    if pain > threshold:
        key = (
            f"pain:{fed.session_date.isoformat()}:{fed.kind}"
            if fed is not None
            else f"checkin:{week_start.isoformat()}"
        )
        flag = session.scalar(
            select(CoachFlag).where(CoachFlag.user_id == user_id, CoachFlag.key == key)
        )
        if flag is None:
            flag = CoachFlag(
                user_id=user_id,
                kind=FlagKind.PAIN,
                key=key,
                reason=(
                    f"Weekly check-in for the week of {_day(week_start)}: pain {pain}/10 (her "
                    f"threshold is {threshold}), the week felt {how}, confidence {confidence}/10."
                ),
            )
            session.add(flag)
            session.flush()
    if fed is not None:
        sync_flags(session, user_id)
    return flag


# --- the coach's client list --------------------------------------------------------------------


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
        user_logs = logs[user.id]
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


def sync_all_flags(session: DbSession) -> int:
    """Raise the flags now due for every runner with a plan (silence needs a clock, not a log);
    commits per runner. Returns how many new flags were raised."""
    user_ids = session.scalars(select(PlanRecord.user_id).where(PlanRecord.active.is_(True)))
    raised = 0
    for user_id in user_ids.all():
        raised += len(sync_flags(session, user_id))
        session.commit()
    return raised


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


# --- coach edits --------------------------------------------------------------------------------


def _session_at(plan: Plan, day: date, kind: str) -> Session:
    for s in plan.sessions:
        if s.date == day and s.kind == kind:
            return s
    raise PortalError({"session_date": "There is no such session in the plan on that day."})


def _record_edit(
    session: DbSession, record: PlanRecord, day: date, sessions: Iterable[Session], op: str,
    note: str, by: int | None,
) -> None:  # fmt: skip
    edit = {
        "op": op,
        "date": day.isoformat(),
        "sessions": [s.to_dict() for s in sessions],
        "note": note,
        "by": by,
        "at": utcnow().isoformat(),
    }
    # Reassign (not append in place) so the JSON column is seen as changed.
    record.coach_edits = [*(record.coach_edits or []), edit]


def _editable(session: DbSession, user_id: int) -> tuple[PlanRecord, Plan]:
    record = active_plan(session, user_id)
    if record is None:
        raise NoPlan()
    return record, load_plan(record)


def swap_options(plan: Plan, exercise_id: str, library: Library | None = None) -> list[Exercise]:
    """Exercises of the same direction the runner can do with her equipment (and, for a sore
    knee or real pain, no knee-dominant or impact moves). Pass ``current_library(session)``;
    without it, the built-in library only."""
    library = library or load_library()
    if exercise_id not in library:
        return []
    current = library[exercise_id]
    profile = plan.profile
    return [
        ex
        for ex in library.exercises
        if ex.direction == current.direction
        and ex.id != exercise_id
        and ex.equipment in profile.equipment
        and not (profile.restricted and ex.tags & {"knee_dominant", "impact"})
    ]


def swap_exercise(
    session: DbSession, user_id: int, day: date, kind: str, exercise_id: str, replacement_id: str,
    by: int | None = None,
) -> PlanRecord:  # fmt: skip
    """Replace one exercise of a session by another of the same direction (starting dose)."""
    record, plan = _editable(session, user_id)
    target = _session_at(plan, day, kind)
    options = {ex.id: ex for ex in swap_options(plan, exercise_id, current_library(session))}
    if replacement_id not in options:
        raise PortalError({"replacement": "Pick an exercise for the same direction she can do."})
    ex = options[replacement_id]

    def swapped(items: tuple[StrengthItem, ...]) -> tuple[StrengthItem, ...]:
        return tuple(
            StrengthItem(
                exercise_id=ex.id,
                name=ex.name,
                direction=ex.direction,
                sets=ex.dose.sets,
                reps=ex.dose.reps,
                seconds=ex.dose.seconds,
                per_side=ex.dose.per_side,
                rest_seconds=item.rest_seconds,
                cue=ex.cue,
            )
            if item.exercise_id == exercise_id
            else item
            for item in items
        )

    if not any(i.exercise_id == exercise_id for i in (*target.items, *target.block)):
        raise PortalError({"exercise_id": "That exercise isn't in this session."})
    new = replace(target, items=swapped(target.items), block=swapped(target.block))
    day_sessions = [new if s is target else s for s in sessions_on(plan, day)]
    note = f"Your coach swapped in {ex.name}."
    _record_edit(session, record, day, day_sessions, "swap", note, by)
    _readapt(session, record)
    session.commit()
    return record


def move_session(
    session: DbSession, user_id: int, day: date, kind: str, to_date: date, by: int | None = None
) -> PlanRecord:
    """Move a session to another day of the plan (not onto a day with the same kind)."""
    record, plan = _editable(session, user_id)
    target = _session_at(plan, day, kind)
    first, last = plan.weeks[0].start_date, plan.weeks[-1].start_date + timedelta(days=6)
    if to_date == day:
        raise PortalError({"to_date": "Pick a different day."})
    if not first <= to_date <= last:
        raise PortalError({"to_date": f"Pick a day between {_day(first)} and {_day(last)}."})
    if any(s.kind == kind for s in sessions_on(plan, to_date)):
        raise PortalError({"to_date": "That day already has this kind of session."})
    note = f"Your coach moved this from {_day(day)}."
    _record_edit(
        session, record, day, [s for s in sessions_on(plan, day) if s is not target], "move",
        f"Your coach moved a session to {_day(to_date)}.", by,
    )  # fmt: skip
    _record_edit(
        session, record, to_date, [*sessions_on(plan, to_date), replace(target, date=to_date)],
        "move", note, by,
    )  # fmt: skip
    _readapt(session, record)
    session.commit()
    return record


def skip_session(
    session: DbSession, user_id: int, day: date, kind: str, by: int | None = None
) -> PlanRecord:
    """Take a session out of the plan (the day becomes rest)."""
    record, plan = _editable(session, user_id)
    target = _session_at(plan, day, kind)
    rest = [s for s in sessions_on(plan, day) if s is not target]
    _record_edit(session, record, day, rest, "skip", "Your coach made this a rest day.", by)
    _readapt(session, record)
    session.commit()
    return record


def set_intervals(
    session: DbSession, user_id: int, day: date, repeats: int, run_seconds: int,
    walk_seconds: int, by: int | None = None,
) -> PlanRecord:  # fmt: skip
    """Give a run/walk session new intervals, keeping the 5-minute walks at each end."""
    record, plan = _editable(session, user_id)
    target = _session_at(plan, day, RUN_WALK)
    errors = {}
    if not 1 <= repeats <= 20:
        errors["repeats"] = "1 to 20 runs."
    if not 10 <= run_seconds <= 3600:
        errors["run_seconds"] = "A run is 10 seconds to 60 minutes."
    if not 0 <= walk_seconds <= 600 or (repeats > 1 and walk_seconds == 0):
        errors["walk_seconds"] = "A walk is up to 10 minutes (and needed between runs)."
    if errors:
        raise PortalError(errors)
    segments = [Segment("warmup", WARMUP_SECONDS)]
    for i in range(repeats):
        if i:
            segments.append(Segment("walk", walk_seconds))
        segments.append(Segment("run", run_seconds))
    segments.append(Segment("cooldown", WARMUP_SECONDS))
    title = (
        f"Run {run_seconds // 60}:{run_seconds % 60:02d} without walking"
        if repeats == 1
        else f"Run/walk: {repeats} x {run_seconds // 60}:{run_seconds % 60:02d} running"
    )
    new = replace(target, segments=tuple(segments), title=title)
    day_sessions = [new if s is target else s for s in sessions_on(plan, day)]
    note = "Your coach set new intervals."
    _record_edit(session, record, day, day_sessions, "intervals", note, by)
    _readapt(session, record)
    session.commit()
    return record


# --- calendar -----------------------------------------------------------------------------------


def calendar_secret(session: DbSession, user_id: int) -> str:
    """The runner's calendar secret, created on first use."""
    token = session.scalar(select(CalendarToken).where(CalendarToken.user_id == user_id))
    if token is None:
        token = CalendarToken(user_id=user_id, secret=secrets.token_urlsafe(24))
        session.add(token)
        session.commit()
    return token.secret


def regenerate_calendar_secret(session: DbSession, user_id: int) -> str:
    """A new secret: the old feed URL stops working at once."""
    token = session.scalar(select(CalendarToken).where(CalendarToken.user_id == user_id))
    if token is None:
        token = CalendarToken(user_id=user_id)
        session.add(token)
    token.secret = secrets.token_urlsafe(24)
    token.created_at = utcnow()
    session.commit()
    return token.secret


def describe_session(s: Session) -> str:
    """One-paragraph plain-text description (calendar events, print)."""
    lines = [s.why, ""]
    if s.kind == RUN_WALK:
        for seg in s.segments:
            m, sec = divmod(seg.seconds, 60)
            label = {"warmup": "Warm-up walk", "cooldown": "Cool-down walk"}.get(
                seg.kind, seg.kind.capitalize()
            )
            lines.append(f"{label} {m}:{sec:02d}")
    for item in (*s.items, *s.block):
        amount = f"{item.reps} reps" if item.reps is not None else f"{item.seconds} s"
        side = " each side" if item.per_side else ""
        lines.append(f"{item.name}: {item.sets} x {amount}{side}. {item.cue}")
    return "\n".join(lines).strip()


def calendar_feed(session: DbSession, secret: str, base_url: str = "") -> bytes | None:
    """The .ics of the runner's active plan for a valid secret; None for an unknown secret."""
    from icalendar import Calendar, Event

    if not secret:
        return None
    token = session.scalar(select(CalendarToken).where(CalendarToken.secret == secret))
    if token is None:
        return None
    record = active_plan(session, token.user_id)
    cal = Calendar()
    cal.add("prodid", "-//0 to 5K Hero//Plan//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "0 to 5K Hero plan")
    if record is not None:
        stamp = record.updated_at or utcnow()
        for s in load_plan(record).sessions:
            event = Event()
            event.add("uid", f"{s.date.isoformat()}-{s.kind}-{token.user_id}@hero")
            event.add("summary", s.title)
            event.add("dtstart", s.date)
            event.add("dtend", s.date + timedelta(days=1))
            event.add("dtstamp", stamp)
            event.add("description", describe_session(s))
            if base_url:
                event.add("url", f"{base_url.rstrip('/')}/portal")
            cal.add_component(event)
    return cal.to_ical()


# --- the exercise library (built-in + the coach's own) -----------------------------------------

_OTHER_SIDE = {"easier": "harder", "harder": "easier"}


def _merge_library(
    base: Library, extra: Sequence[Exercise], check: str | None = None
) -> tuple[Library, list[LibraryError]]:
    """The built-in library with the coach's exercises appended, her variant links made mutual.

    Her exercise may name as easier/harder variant any exercise of the same direction whose
    opposite slot is free (the engine needs links both ways); the merge fills that slot in. A
    link that can't be made (target missing or switched off, another direction, slot taken)
    is left out and reported, so switching one exercise off never breaks the library. Links
    of ``check`` are resolved last, so a conflict it would create is reported against it."""
    problems: list[LibraryError] = []
    known: dict[str, Exercise] = dict(base.by_id)
    added: list[Exercise] = []
    for ex in extra:
        if ex.id in known:
            problems.append(LibraryError("is already used by another exercise", ex.id, "id"))
            continue
        known[ex.id] = ex
        added.append(ex)
    links = {e.id: {"easier": e.easier, "harder": e.harder} for e in base.exercises}
    links.update({e.id: {"easier": None, "harder": None} for e in added})
    for ex in sorted(added, key=lambda e: e.id == check):  # stable: everyone else first
        for key in ("easier", "harder"):
            target = getattr(ex, key)
            if target is None:
                continue
            back = _OTHER_SIDE[key]
            if target not in known:
                message = "must be an exercise in the library (not one that is switched off)"
            elif known[target].direction != ex.direction:
                message = "must train the same direction"
            elif links[target][back] not in (None, ex.id):
                holder = known[links[target][back]].name
                message = f"{known[target].name} already has {holder} as its {back} variant"
            elif links[ex.id][key] not in (None, target):
                holder = known[links[ex.id][key]].name
                message = f"{holder} already names this exercise as its {back} variant"
            else:
                links[ex.id][key] = target
                links[target][back] = ex.id
                continue
            problems.append(LibraryError(message, ex.id, key))
    exercises = tuple(replace(e, **links[e.id]) for e in (*base.exercises, *added))
    return Library(exercises), problems


@lru_cache(maxsize=16)
def _library_for(extra_json: str) -> Library:
    # Keyed by the content of her active exercises, so any process sees a change at once
    # and the engine's per-library memo (strength rotations) is reused between requests.
    extra = []
    for raw in json.loads(extra_json):
        try:
            extra.append(validate_exercise(raw))
        except LibraryError as exc:  # saved before a stricter engine; leave it out, say so
            logger.warning("coach exercise left out of the library: %s", exc)
    library, problems = _merge_library(load_library(), extra)
    for problem in problems:
        logger.warning("coach exercise link left out of the library: %s", problem)
    return library


def _coach_rows(session: DbSession, *, active_only: bool) -> list[CoachExercise]:
    query = select(CoachExercise).order_by(CoachExercise.id)
    if active_only:
        query = query.where(CoachExercise.active.is_(True))
    return list(session.scalars(query))


def current_library(session: DbSession) -> Library:
    """The library every plan, adaptation, swap and article uses: the built-in exercises
    followed by the coach's active ones (in the order she added them). One query."""
    rows = _coach_rows(session, active_only=True)
    if not rows:
        return load_library()
    return _library_for(json.dumps([r.to_engine_dict() for r in rows], sort_keys=True))


@dataclass(frozen=True)
class CatalogueEntry:
    """One exercise on the coach's library page."""

    exercise: Exercise
    builtin: bool
    active: bool = True


def exercise_catalogue(session: DbSession, **filters: str) -> list[CatalogueEntry]:
    """Every exercise, built-in and hers (switched-off ones too, marked), by direction.

    ``filters``: ``q`` (words in the name, id, cue or instructions) and exact ``direction``,
    ``knee``, ``position``, ``equipment``; empty values don't filter."""
    library = current_library(session)
    base_ids = load_library().by_id
    entries = [CatalogueEntry(ex, ex.id in base_ids) for ex in library.exercises]
    for row in _coach_rows(session, active_only=False):
        if not row.active:
            try:
                entries.append(
                    CatalogueEntry(validate_exercise(row.to_engine_dict()), False, False)
                )
            except LibraryError:
                continue
    words = (filters.get("q") or "").lower().split()
    wanted = {k: v for k in ("direction", "knee", "position", "equipment") if (v := filters.get(k))}

    def keep(ex: Exercise) -> bool:
        text = f"{ex.id} {ex.name} {ex.cue} {ex.instructions}".lower()
        return all(w in text for w in words) and all(getattr(ex, k) == v for k, v in wanted.items())

    entries = [e for e in entries if keep(e.exercise)]
    # Stable sort: the YAML order within a direction, her own after the built-in ones.
    return sorted(entries, key=lambda e: DIRECTIONS.index(e.exercise.direction))


@dataclass(frozen=True)
class CoverageCell:
    total: int
    no_equipment: int


def library_coverage(library: Library) -> dict[str, dict[str, CoverageCell]]:
    """Direction × knee position → how many exercises, and how many need no equipment (the
    coach's rule: every cell has at least one that needs nothing)."""
    grid = {}
    for direction in DIRECTIONS:
        grid[direction] = {}
        for knee in KNEE_POSITIONS:
            cell = [e for e in library.exercises if e.direction == direction and e.knee == knee]
            grid[direction][knee] = CoverageCell(
                len(cell), sum(1 for e in cell if e.equipment == "none")
            )
    return grid


def coach_exercise(session: DbSession, slug: str) -> CoachExercise | None:
    return session.scalar(select(CoachExercise).where(CoachExercise.slug == slug))


def _id_problems(session: DbSession, ex_id: str, *, new: bool) -> list[LibraryError]:
    """Why a well-formed id can't be one of hers: a built-in's, or (adding) one she has."""
    if ex_id in load_library():
        return [LibraryError("is a built-in exercise's id; pick another", ex_id, "id")]
    if new and coach_exercise(session, ex_id) is not None:
        return [LibraryError("is already used by one of your exercises; pick another", ex_id, "id")]
    return []


def _link_problems(session: DbSession, ex: Exercise) -> list[LibraryError]:
    """Every variant link of ``ex`` the library can't make (see ``_merge_library``)."""
    others = []
    for row in _coach_rows(session, active_only=True):
        if row.slug != ex.id:
            try:
                others.append(validate_exercise(row.to_engine_dict()))
            except LibraryError:
                continue
    _, problems = _merge_library(load_library(), [*others, ex], check=ex.id)
    return [p for p in problems if p.exercise_id == ex.id]


def save_coach_exercise(
    session: DbSession, values: Mapping[str, Any], slug: str | None = None
) -> CoachExercise:
    """Add one of the coach's exercises (``slug`` None) or edit it (its id never changes).

    ``values`` is an exercise dict as in ``exercises.yaml``. Raises ``LibraryError`` with every
    problem in ``problems``, each naming its field (the engine's checks; built-in or taken id;
    easier/harder not an exercise of the same direction with that slot free; the links are
    checked once the fields are valid); nothing is written then. Commits."""
    row = None
    if slug is not None:
        row = coach_exercise(session, slug)
        if row is None:
            raise LibraryError("no such exercise of yours", slug, "id")
        values = {**values, "id": row.slug}
    problems: list[LibraryError] = []
    try:
        ex = validate_exercise(values)
    except LibraryError as exc:
        ex, problems = None, list(exc.problems)
    if not any(p.field == "id" for p in problems):
        problems += _id_problems(session, values["id"], new=row is None)
    if ex is not None and not problems:
        # Checked as if active, even when switched off: turning it back on must then just work.
        problems += _link_problems(session, ex)
    if problems:
        raise LibraryError.all_of(problems)
    if row is None:
        row = CoachExercise(slug=ex.id, active=True)
        session.add(row)
    row.name, row.instructions, row.cue = ex.name, ex.instructions, ex.cue
    row.direction, row.knee, row.position = ex.direction, ex.knee, ex.position
    row.equipment = ex.equipment
    row.sets, row.reps, row.seconds = ex.dose.sets, ex.dose.reps, ex.dose.seconds
    row.per_side = ex.dose.per_side
    row.tags = sorted(ex.tags)
    row.easier, row.harder = ex.easier, ex.harder
    try:
        session.commit()
    except IntegrityError as exc:  # the same id saved at the same moment by another request
        session.rollback()
        raise LibraryError("is already used by one of your exercises", ex.id, "id") from exc
    return row


def set_coach_exercise_active(session: DbSession, slug: str, active: bool) -> CoachExercise:
    """Switch one of the coach's exercises off (new plans stop using it; plans that have it
    keep it) or back on (refused with ``LibraryError`` if its links no longer fit). Commits."""
    row = coach_exercise(session, slug)
    if row is None:
        raise LibraryError("no such exercise of yours", slug, "id")
    if active and not row.active:
        ex = validate_exercise(row.to_engine_dict())
        problems = _id_problems(session, ex.id, new=False) or _link_problems(session, ex)
        if problems:
            raise LibraryError.all_of(problems)
    row.active = active
    session.commit()
    return row


def library_message(exc: LibraryError) -> str:
    """One problem's sentence without its "id / field:" prefix (for a form)."""
    return exc.message

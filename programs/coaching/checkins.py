"""The weekly check-in: an email every Sunday at 18:00 in the runner's own time zone with next
week's sessions and a signed one-click link to a short form (no login).

The link names the runner and the week and expires after 8 days; the CheckIn table's UNIQUE
(user_id, week) makes it work once per week. An answer lands on her lead's timeline, is kept for
her plan's adaptation (`latest_checkins`), and pain over her threshold alerts the coach.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.alerts.models import CoachFlag, FlagKind
from crm.alerts.services import notify_coach
from crm.leads.services import record_event
from crm.time import local_moment, safe_zone, utcnow
from programs.coaching.clients import (
    active_client_zones,
    active_clients,
    client_lead,
    client_leads,
    coaching_email_fields,
)
from programs.coaching.models import CheckIn, Feeling
from programs.engine.model import RUN_WALK
from programs.engine.words import short_date
from programs.flags import sync_flags
from programs.models import LogStatus, PlanRecord, WorkoutLog, plan_calendar
from programs.plans import active_plan, readapt, runner_profile
from tasks.models import OutboxEmail
from tasks.outbox import queue_emails
from tasks.registry import Contact

SUNDAY = 6
CHECKIN_TIME = time(18, 0)
# The beat runs every 15 minutes, so the 18:00–18:14 run queues it; should beat be down then, a
# later run the same evening still does (the idempotency key keeps it to one email a week).
CHECKIN_CATCH_UP = timedelta(hours=3)
LINK_MAX_AGE = timedelta(days=8)
COMMIT_EVERY = 500  # rows per queue_emails batch and commit: each commit starts its sends
DEFAULT_PAIN_THRESHOLD = 4


class CheckInError(Exception):
    """A check-in the rules refuse; `messages` maps a form field (or "") to a sentence."""

    def __init__(self, messages: dict[str, str] | str) -> None:
        self.messages = {"": messages} if isinstance(messages, str) else dict(messages)
        super().__init__("; ".join(self.messages.values()))


class CheckInLinkInvalid(CheckInError):
    def __init__(self) -> None:
        super().__init__("This check-in link is not valid. Use the link from your latest email.")


class CheckInLinkExpired(CheckInError):
    def __init__(self) -> None:
        super().__init__("This check-in link has expired: a new one comes on Sunday evening.")


class AlreadyCheckedIn(CheckInError):
    def __init__(self) -> None:
        super().__init__("You already checked in for this week. Thank you!")


# --- the week and the link ---------------------------------------------------------------------


def week_label(day: date) -> str:
    """ISO week of a date, as in the idempotency key and CheckIn.week: '2030-W45'."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> date:
    """The Monday of an ISO week label ('2030-W44' → 28 Oct 2030): the week a check-in is about."""
    year, _, number = week.partition("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="weekly-checkin")


def checkin_token(user_id: int, week: str, serializer: URLSafeTimedSerializer | None = None) -> str:
    return (serializer or _serializer()).dumps({"u": user_id, "w": week})


def checkin_url(
    user_id: int,
    week: str,
    serializer: URLSafeTimedSerializer | None = None,
    base_url: str | None = None,
) -> str:
    base = base_url if base_url is not None else current_app.config["BASE_URL"]
    return f"{base}/checkin/{checkin_token(user_id, week, serializer)}"


@dataclass(frozen=True)
class CheckInLink:
    user_id: int
    week: str


def read_checkin_token(token: str) -> CheckInLink:
    """The runner and week a link is for; raises CheckInLinkExpired / CheckInLinkInvalid."""
    try:
        data = _serializer().loads(token, max_age=int(LINK_MAX_AGE.total_seconds()))
    except SignatureExpired as exc:
        raise CheckInLinkExpired() from exc
    except BadSignature as exc:
        raise CheckInLinkInvalid() from exc
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise CheckInLinkInvalid()
    return CheckInLink(user_id=data["u"], week=str(data.get("w", "")))


def checkin_for(session: Session, user_id: int, week: str) -> CheckIn | None:
    return session.scalar(select(CheckIn).where(CheckIn.user_id == user_id, CheckIn.week == week))


# --- the Sunday email --------------------------------------------------------------------------


def next_week_sessions(plan: dict[str, Any] | None, sunday: date) -> list[dict[str, str]]:
    """The plan's sessions Monday to Sunday after `sunday`, from the stored plan JSON."""
    return _shown(plan_calendar(plan), sunday)


def _shown(sessions: Iterable[dict[str, Any]], sunday: date) -> list[dict[str, str]]:
    start, end = sunday + timedelta(days=1), sunday + timedelta(days=7)
    out = []
    for s in sessions:
        day = date.fromisoformat(s["date"])
        if start <= day <= end:
            out.append(
                {
                    "day": f"{day:%A} {day.day} {day:%b}",
                    "date": day.isoformat(),
                    "title": s.get("title", ""),
                    "kind": s.get("kind", ""),
                }
            )
    return sorted(out, key=lambda s: s["date"])


def next_week_sessions_of(
    session: Session, user_ids: list[int], sunday: date
) -> dict[int, list[dict[str, str]]]:
    """`next_week_sessions` of many runners' active plans: {user id: sessions}, read from each
    plan's compact `calendar` (a few KB) rather than the whole plan (~60 KB)."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(PlanRecord.user_id, PlanRecord.calendar).where(
            PlanRecord.active.is_(True), PlanRecord.user_id.in_(user_ids)
        )
    )
    return {uid: _shown(calendar or (), sunday) for uid, calendar in rows}


def checkin_context(
    user: User,
    plan: dict[str, Any] | None,
    sunday: date,
    serializer: URLSafeTimedSerializer | None = None,
    base_url: str | None = None,
    *,
    sessions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The template context of one check-in; a fan-out passes one serializer and base URL, and
    next week's sessions it has already picked out (then `plan` is not read)."""
    week = week_label(sunday)
    base = base_url if base_url is not None else current_app.config["BASE_URL"]
    return {
        "first_name": user.first_name,
        "week": week,
        "sessions": next_week_sessions(plan, sunday) if sessions is None else sessions,
        "checkin_url": checkin_url(user.id, week, serializer, base),
        "portal_url": f"{base}/portal",
    }


def queue_weekly_checkins(session: Session, now: datetime | None = None) -> int:
    """Queue the check-in of every active client for whom it is Sunday 18:00 (to 21:00) local.

    Due at exactly 18:00 her time; key `checkin:{user_id}:{iso_year}-W{week}` so each goes once
    a week however often this runs. Commits in batches; returns how many were queued."""

    now = now or utcnow()
    zones = []
    for name in active_client_zones(session):
        local = now.astimezone(safe_zone(name))
        due = local_moment(local.date(), CHECKIN_TIME, name)
        if local.weekday() == SUNDAY and due <= now < due + CHECKIN_CATCH_UP:
            zones.append(name)
    if not zones:
        return 0
    clients = list(active_clients(session, zones, coaching_emails=True))
    keys = {}
    for user, tz in clients:
        sunday = now.astimezone(safe_zone(tz)).date()
        keys[user.id] = (f"checkin:{user.id}:{week_label(sunday)}", sunday, tz)
    already = set(
        session.scalars(
            select(OutboxEmail.idempotency_key).where(
                OutboxEmail.idempotency_key.in_([k for k, _, _ in keys.values()])
            )
        )
    )
    by_sunday: dict[date, list[int]] = {}
    for uid, (key, sunday, _tz) in keys.items():
        if key not in already:
            by_sunday.setdefault(sunday, []).append(uid)
    sessions: dict[int, list[dict[str, str]]] = {}
    for sunday, uids in by_sunday.items():  # one Sunday, or two across the date line
        sessions.update(next_week_sessions_of(session, uids, sunday))
    leads = client_leads(session, [user for user, _ in clients])
    serializer = _serializer()
    base = current_app.config["BASE_URL"]
    items = []
    for user, _tz in clients:
        key, sunday, tz = keys[user.id]
        if key in already:
            continue
        stop = coaching_email_fields(user.id, base)
        context = checkin_context(
            user, None, sunday, serializer, base, sessions=sessions.get(user.id, [])
        )
        items.append(
            {
                "to": user.email,
                "template": "weekly_checkin",
                "context": {**context, **stop["context"]},
                "headers": stop["headers"],
                "idempotency_key": key,
                "user_id": user.id,
                "lead_id": leads.get(user.id),
                "due_at": local_moment(sunday, CHECKIN_TIME, tz),
                "condition": f"client_automation:{user.id}",
            }
        )
    queued = 0
    for start in range(0, len(items), COMMIT_EVERY):
        queued += len(queue_emails(session, items[start : start + COMMIT_EVERY]))
        session.commit()  # sends start while the rest are rendered
    session.commit()
    return queued


# --- the answer --------------------------------------------------------------------------------


def _score(value: Any, field: str, errors: dict[str, str]) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= 10:
        errors[field] = "Pick a number from 0 to 10."
    return number


def submit_checkin(
    session: Session,
    token: str,
    *,
    feeling: str,
    pain: Any,
    confidence: Any,
    note: str = "",
) -> CheckIn:
    """Record the runner's answer for the week her link names. Commits.

    Raises CheckInLinkExpired/CheckInLinkInvalid, AlreadyCheckedIn (second answer for the week,
    even when two arrive at once), or CheckInError with per-field messages. The answer goes on her
    lead's timeline; pain over her threshold alerts the coach; pain over her threshold or a hard
    week goes to her plan (record_checkin_feedback: a flag, re-adaptation)."""
    link = read_checkin_token(token)
    user = session.get(User, link.user_id)
    try:
        week_start = week_monday(link.week)
    except ValueError:
        user = None
    if user is None:
        raise CheckInLinkInvalid()
    errors: dict[str, str] = {}
    if feeling not in {f.value for f in Feeling}:
        errors["feeling"] = "Tap great, OK or hard."
    pain_v = _score(pain, "pain", errors)
    confidence_v = _score(confidence, "confidence", errors)
    note = (note or "").strip()
    if len(note) > 2000:
        errors["note"] = "Keep the note under 2000 characters."
    if errors:
        raise CheckInError(errors)
    if checkin_for(session, user.id, link.week) is not None:
        raise AlreadyCheckedIn()
    checkin = CheckIn(
        user_id=user.id,
        week=link.week,
        feeling=Feeling(feeling),
        pain=pain_v,
        confidence=confidence_v,
        note=note,
    )
    session.add(checkin)
    try:
        session.flush()
    except IntegrityError as exc:  # the same link submitted twice at once: the other one won
        session.rollback()
        raise AlreadyCheckedIn() from exc
    summary = (
        f"Weekly check-in {link.week}: {Feeling(feeling).label.lower()}, "
        f"pain {pain_v}/10, confidence {confidence_v}/10"
    )
    lead = client_lead(session, user)
    if lead is not None:
        record_event(
            session,
            lead,
            "checkin",
            summary + (f" — {note}" if note else ""),
            data={"checkin_id": checkin.id, "week": link.week, "pain": pain_v,
                  "confidence": confidence_v, "feeling": feeling},
        )  # fmt: skip
    profile = runner_profile(session, user.id)
    threshold = profile.pain_threshold if profile is not None else DEFAULT_PAIN_THRESHOLD
    if pain_v > threshold or feeling == Feeling.HARD:
        # Into her plan's adaptation: a pain flag, and high pain fed to the engine.
        record_checkin_feedback(session, user.id, week_start, pain_v, feeling, confidence_v)
    if pain_v > threshold:
        notify_coach(
            session,
            "pain",
            user.id,
            f"{user.display_name} reported pain {pain_v}/10 in her weekly check-in "
            f"(her threshold is {threshold})." + (f' Her note: "{note}"' if note else ""),
        )
    session.commit()
    return checkin


# --- the answer, into her plan ----------------------------------------------------------------

CHECKIN_REPEAT_PAIN = 5  # the engine's own line: pain above 5/10 is never progressed on


def record_checkin_feedback(
    session: Session,
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
            readapt(session, record)
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
                    f"Weekly check-in for the week of {short_date(week_start)}: pain {pain}/10 "
                    f"(her threshold is {threshold}), the week felt {how}, "
                    f"confidence {confidence}/10."
                ),
            )
            session.add(flag)
            session.flush()
    if fed is not None:
        sync_flags(session, user_id)
    return flag


def latest_checkins(session: Session, user_id: int, limit: int = 4) -> list[CheckIn]:
    """The runner's most recent check-ins, newest first (the coach's view; what feeds her plan is
    handed to programs at submission, see record_checkin_feedback)."""
    return list(
        session.scalars(
            select(CheckIn)
            .where(CheckIn.user_id == user_id)
            .order_by(CheckIn.week.desc(), CheckIn.id.desc())
            .limit(limit)
        )
    )


def preview(session: Session, template: str, contact: Contact) -> dict[str, Any]:
    """Preview values of the coaching emails; the check-in as the contact would get it next
    Sunday, or a sample one."""
    ctx: dict[str, Any] = {
        "portal_url": f"{current_app.config['BASE_URL']}/portal",
        "days": 3,
        "race_date": "Sunday 4 January",
        "days_to_go": 6,
        "strategy": "Run 1:00, walk 0:30 from the start; finish in about 45 minutes.",
        "raced": True,
    }
    if template == "weekly_checkin":
        ctx.update(_checkin_preview(session, contact.user))
    return ctx


def _checkin_preview(session: Session, user: User | None) -> dict[str, Any]:
    if user is None:
        return {
            "week": "2030-W01",
            "checkin_url": f"{current_app.config['BASE_URL']}/checkin/preview",
            "sessions": [
                {"day": "Monday 1 Jan", "title": "Run/walk 1:00 / 1:30", "kind": "run_walk"},
                {"day": "Wednesday 3 Jan", "title": "Hip strength", "kind": "strength"},
            ],
        }
    plan = session.scalar(
        select(PlanRecord.plan).where(PlanRecord.user_id == user.id, PlanRecord.active.is_(True))
    )
    today = utcnow().date()
    return checkin_context(user, plan, today + timedelta(days=(6 - today.weekday())))

"""Progress numbers from a plan and what the runner logged. Pure: plan and logs in, numbers out.

Logs come as ``SessionLog`` (one per session: a day and a kind), not as the app's rows:

* adherence: the share of sessions due that were done; a partly done session counts half;
* pain trend: the worst pain during (and next morning) per logged day, the last 7 days'
  average against the 7 days before;
* weekly progress: per plan week up to the current one, running minutes planned and done
  (partly done counts half), the longest continuous run of a session she did, the worst pain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from .model import RUN_WALK, Plan

DONE, PARTIAL, SKIPPED = "done", "partial", "skipped"


@dataclass(frozen=True, slots=True)
class SessionLog:
    """What the runner logged for one planned session (``kind`` on ``session_date``); pain is
    None when she gave none (a skipped session)."""

    session_date: date
    kind: str
    status: str  # done, partial or skipped
    pain_during: int | None = None
    pain_next_morning: int | None = None


def adherence(plan: Plan, logs: Iterable[SessionLog], on_date: date) -> int | None:
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
            if lg is not None and lg.status == DONE:
                score += 1
            elif lg is not None and lg.status == PARTIAL:
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


def pain_trend(logs: Iterable[SessionLog], on_date: date, days: int = 28) -> PainTrend:
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


def weekly_progress(plan: Plan, logs: Iterable[SessionLog], on_date: date) -> list[WeekProgress]:
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
            if s.kind != RUN_WALK or lg.status == SKIPPED:
                continue
            share = 1.0 if lg.status == DONE else 0.5
            done += s.run_seconds * share
            if lg.status == DONE:
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

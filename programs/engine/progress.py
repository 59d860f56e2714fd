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
from .race import clock
from .words import short_date

DONE, PARTIAL, SKIPPED = "done", "partial", "skipped"

# Continuous running, longest first: the community's milestone kinds (programs.community).
MILESTONE_MINUTES = ((30, "continuous_30"), (20, "continuous_20"), (10, "continuous_10"))


def first_milestone(run_seconds: int | None, before_seconds: int | None) -> str | None:
    """The milestone a run/walk done in full reached for the first time: its longest continuous
    run (``run_seconds``) is 10, 20 or 30 minutes or more and no run/walk she did in full before
    it was that long (``before_seconds``: the longest of those, None when there was none)."""
    today, before = run_seconds or 0, before_seconds or 0
    for minutes, kind in MILESTONE_MINUTES:
        if today >= minutes * 60 > before:
            return kind
    return None


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


@dataclass(frozen=True)
class GoalProgress:
    """How far she is from her goal: her best so far against the target, in seconds.

    Without a race the goal is the plan's last step (30 minutes without walking, or a 5K) and
    ``best`` her longest continuous run; with a race, the running race day asks and ``best``
    the most running she has done in one session. ``expected`` is what the plan had her doing
    a week ago (a week's grace before she counts as behind)."""

    goal: str
    measure: str  # what ``best`` and ``target`` count, in her words
    best: int
    target: int
    expected: int
    weeks_to_go: int
    goal_date: date

    @property
    def on_track(self) -> bool:
        return self.best >= self.expected

    @property
    def percent(self) -> int:
        return min(100, 100 * self.best // self.target) if self.target else 100

    @property
    def expected_percent(self) -> int:
        return min(100, 100 * self.expected // self.target) if self.target else 100

    @property
    def summary(self) -> str:
        """The picture in words (its text alternative, and the line under it)."""
        weeks = f"{self.weeks_to_go} week" + ("" if self.weeks_to_go == 1 else "s")
        track = (
            "You're on track."
            if self.on_track
            else "You're a little behind the plan; that's fine, it adapts to you."
        )
        if self.goal == "race day":
            goal = f"Race day asks for {clock(self.target)} of running."
        else:
            goal = f"Your goal: {self.goal}."
        return (
            f"{self.measure.capitalize()} so far: {clock(self.best)}. {goal} {weeks} to go, to "
            f"{short_date(self.goal_date)}. {track}"
        )


def goal_progress(plan: Plan, logs: Iterable[SessionLog], on_date: date) -> GoalProgress:
    """Her best so far (sessions logged done; partly done counts for nothing here) against
    the goal, the weeks to go, and whether she is on track."""
    done = {lg.session_date for lg in logs if lg.kind == RUN_WALK and lg.status == DONE}
    runs = [s for s in plan.sessions if s.kind == RUN_WALK and not s.race]
    race = next((s for s in plan.sessions if s.race), None)
    if race is not None:
        assert plan.profile.race_date is not None

        def measure_of(s) -> int:
            return s.run_seconds

        goal = "race day"
        measure = "most running in one session"
        target = race.run_seconds
        goal_date = plan.profile.race_date
    else:

        def measure_of(s) -> int:
            return s.longest_run_seconds

        target = max((s.longest_run_seconds for s in runs), default=0)
        five_k = plan.profile.ability == "run_5k"
        goal = "a full 5K without walking" if five_k else "30 minutes without walking"
        measure = "longest run without walking"
        goal_date = max((s.date for s in plan.sessions), default=on_date)
    best = max((measure_of(s) for s in runs if s.date in done and s.date <= on_date), default=0)
    grace = on_date - timedelta(days=7)
    expected = max((measure_of(s) for s in runs if s.date < grace), default=0)
    weeks_to_go = max(0, -(-(goal_date - on_date).days // 7))
    return GoalProgress(goal, measure, best, target, min(expected, target), weeks_to_go, goal_date)

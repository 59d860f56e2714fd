"""Adapting a plan to what the runner logged. Pure: plan and logs in, new plan out.

A training week is judged once, when it is over (a log dated on or after its last day) or
fully logged. Its verdict shapes the weeks that follow:

* pain during ≤ 2/10 everywhere: progress as planned (no change);
* pain 3-5/10 and not worse next morning: repeat this rung next week;
* pain above 5/10, or worse next morning than during: step back one rung, flag the coach;
* two or more run sessions missed: repeat the week.

Sessions the coach edited, and sessions already logged, are never rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .library import Library, load_library
from .model import Change, CoachFlag, Plan, Session, StrengthItem, Week
from .plan import adjustment_reason, build_weeks, race_week_index, schedule_levels
from .words import level_words, short_date

RULES: dict[str, str] = {
    "pain-moderate-repeat": "Pain 3-5/10, settled by next morning: repeat this rung next week.",
    "pain-high-step-back": "Pain above 5/10: step back one rung and flag the coach.",
    "pain-worse-next-morning": "Pain worse next morning than during: step back one rung, flag.",
    "missed-runs-repeat-week": "Two or more run sessions missed in a week: repeat the week.",
    "coach-edit": "The coach changed this day by hand; automatic rules never override it.",
}
STATUSES = ("done", "partial", "skipped")


class LogError(ValueError):
    """A workout log is malformed."""


@dataclass(frozen=True, slots=True)
class WorkoutLog:
    """What the runner logged for the session on ``session_date``."""

    session_date: date
    status: str
    effort: int | None = None
    pain_during: int = 0
    pain_next_morning: int | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise LogError(f"status must be one of {', '.join(STATUSES)}")
        if self.effort is not None and not 1 <= self.effort <= 10:
            raise LogError("effort is 1 to 10")
        if not 0 <= self.pain_during <= 10:
            raise LogError("pain_during is 0 to 10")
        if self.pain_next_morning is not None and not 0 <= self.pain_next_morning <= 10:
            raise LogError("pain_next_morning is 0 to 10")


@dataclass(frozen=True, slots=True)
class CoachEdit:
    """The coach's hand-made version of one day: ``sessions`` replace whatever the plan had
    on ``date`` (empty means a rest day)."""

    date: date
    sessions: tuple[Session, ...] = ()
    note: str = "Changed by your coach."


@dataclass(frozen=True, slots=True)
class _Verdict:
    rule: str | None  # None: progress as planned
    step_back: bool
    log: WorkoutLog | None
    missed: int


def coach_flags(plan: Plan) -> tuple[CoachFlag, ...]:
    """Flags raised for the coach, oldest first."""
    return tuple(sorted(plan.flags, key=lambda f: (f.date, f.week, f.rule)))


def _week_of(plan: Plan, day: date) -> int | None:
    for week in plan.weeks:
        if week.start_date <= day < week.start_date + timedelta(days=7):
            return week.index
    return None


def _apply_coach_edits(plan: Plan, edits: Sequence[CoachEdit]) -> Plan:
    weeks = list(plan.weeks)
    changes = list(plan.changes)
    for edit in edits:
        w = _week_of(plan, edit.date)
        if w is None:
            continue
        pos = next(i for i, wk in enumerate(weeks) if wk.index == w)
        new_sessions = tuple(replace(s, date=edit.date, coach_edited=True) for s in edit.sessions)
        kept = tuple(s for s in weeks[pos].sessions if s.date != edit.date)
        weeks[pos] = replace(
            weeks[pos], sessions=tuple(sorted(kept + new_sessions, key=lambda s: s.date))
        )
        changes.append(Change("coach-edit", w, f"{edit.date.isoformat()}: {edit.note}"))
    return replace(plan, weeks=tuple(weeks), changes=tuple(changes))


def _judge(week: Week, logs: dict[date, WorkoutLog]) -> _Verdict:
    week_logs = [
        logs[d] for d in sorted(logs) if week.start_date <= d < week.start_date + timedelta(days=7)
    ]
    missed = sum(
        1
        for s in week.runs
        if not s.race and (s.date not in logs or logs[s.date].status == "skipped")
    )
    worse = [
        lg
        for lg in week_logs
        if lg.pain_next_morning is not None and lg.pain_next_morning > lg.pain_during
    ]
    high = [lg for lg in week_logs if lg.pain_during > 5]
    moderate = [lg for lg in week_logs if 3 <= lg.pain_during <= 5]
    if high:
        return _Verdict("pain-high-step-back", True, max(high, key=lambda g: g.pain_during), missed)
    if worse:
        return _Verdict("pain-worse-next-morning", True, worse[0], missed)
    if missed >= 2:
        return _Verdict("missed-runs-repeat-week", False, None, missed)
    if moderate:
        return _Verdict("pain-moderate-repeat", False, moderate[0], missed)
    return _Verdict(None, False, None, missed)


def _eased(level: int, new_level: int) -> str:
    if new_level == level:  # already on the first step: nothing lower to step back to
        return f"kept at the gentlest step ({level_words(level)})"
    return f"eased back from {level_words(level)} to {level_words(new_level)}"


def _summary(verdict: _Verdict, level: int, new_level: int) -> str:
    """The change as the coach reads it in the plan's history."""
    lg = verdict.log
    when = short_date(lg.session_date) if lg else ""
    if verdict.rule == "pain-high-step-back" and lg:
        return f"Pain {lg.pain_during}/10 on {when}: {_eased(level, new_level)}."
    if verdict.rule == "pain-worse-next-morning" and lg:
        return (
            f"Pain went from {lg.pain_during}/10 during to {lg.pain_next_morning}/10 next "
            f"morning ({when}): {_eased(level, new_level)}."
        )
    if verdict.rule == "missed-runs-repeat-week":
        return f"{verdict.missed} runs missed: repeating {level_words(level)} next week."
    assert lg is not None
    return (
        f"Pain {lg.pain_during}/10 on {when}, settled by morning: repeating {level_words(level)}."
    )


def _because(verdict: _Verdict, level: int, new_level: int) -> str:
    """The first line of the adapted week's "why": what she logged, and what the plan did."""
    lg = verdict.log
    when = short_date(lg.session_date) if lg else ""
    if verdict.rule == "missed-runs-repeat-week":
        return (
            f"You missed {verdict.missed} runs last week, so this week repeats "
            f"{level_words(level)} rather than moving on."
        )
    assert lg is not None
    if verdict.rule == "pain-moderate-repeat":
        return (
            f"Last week you logged pain {lg.pain_during}/10 on {when} and it had settled by next "
            f"morning, so this week repeats {level_words(level)} rather than moving on."
        )
    if verdict.rule == "pain-worse-next-morning":
        what = (
            f"your pain went from {lg.pain_during}/10 during to {lg.pain_next_morning}/10 the "
            f"next morning ({when})"
        )
    else:
        what = f"you logged pain {lg.pain_during}/10 on {when}"
    if new_level == level:
        done = f"this week stays at the gentlest step ({level_words(level)})"
    else:
        done = f"this week steps back from {level_words(level)} to {level_words(new_level)}"
    return f"Last week {what}, so {done}, and your coach knows."


def _overlay(old: Sequence[Week], new: list[Week], keep: set[date]) -> list[Week]:
    """Put back, day by day, old sessions the rebuild must not touch (coach-edited ones, and
    ones already logged: history is not rewritten)."""
    pinned: dict[date, list[Session]] = {}
    for week in old:
        for s in week.sessions:
            if s.coach_edited or s.date in keep:
                pinned.setdefault(s.date, []).append(s)
    if not pinned:
        return new
    return pin_days(new, pinned)


def pin_days(weeks: Iterable[Week], pinned: Mapping[date, Sequence[Session]]) -> list[Week]:
    """``weeks`` with each pinned day's sessions replaced by exactly ``pinned[day]`` (an empty
    sequence makes it a rest day); the other days, and weeks without a pinned day, unchanged."""
    out = []
    for week in weeks:
        end = week.start_date + timedelta(days=7)
        days = {d for d in pinned if week.start_date <= d < end}
        if not days:
            out.append(week)
            continue
        sessions = [s for s in week.sessions if s.date not in days]
        sessions += [s for d in days for s in pinned[d]]
        out.append(replace(week, sessions=tuple(sorted(sessions, key=lambda s: s.date))))
    return out


def keep_as_logged(plan: Plan, logged: Mapping[tuple[date, str], Sequence[Session]]) -> Plan:
    """``plan`` with each logged day's sessions of the logged kind put back as she was shown
    them when she logged it (``logged[(day, kind)]``). Her plan is worked out again from its
    start on every log, and a verdict on an earlier week rebuilds the weeks after it: without
    this, a day she ran as an eased session would read as the harder one the rebuild started
    from. History is not rewritten."""
    if not logged:
        return plan
    weeks = []
    for week in plan.weeks:
        end = week.start_date + timedelta(days=7)
        here = {key: kept for key, kept in logged.items() if week.start_date <= key[0] < end}
        if not here:
            weeks.append(week)
            continue
        sessions = [s for s in week.sessions if (s.date, s.kind) not in here]
        sessions += [s for kept in here.values() for s in kept]
        weeks.append(replace(week, sessions=tuple(sorted(sessions, key=lambda s: s.date))))
    return replace(plan, weeks=tuple(weeks))


def _rebuild(
    plan: Plan,
    library: Library,
    after: int,
    level: int,
    phase: str,
    keep: set[date],
    excluded: frozenset[str] = frozenset(),
    because: str = "",
) -> Plan:
    profile = plan.profile
    levels, reached = schedule_levels(profile, after + 1, level)
    race_week = race_week_index(profile)
    if race_week is not None and after + 1 > race_week:
        return plan
    history = [w for w in plan.weeks if w.index <= after]
    new_weeks, strategy, _ = build_weeks(
        profile, library, after + 1, levels, level, reached, phase, history, excluded, because
    )
    old_tail = [w for w in plan.weeks if w.index > after]
    new_weeks = _overlay(old_tail, new_weeks, keep)
    weeks = tuple(w for w in plan.weeks if w.index <= after) + tuple(new_weeks)
    adjusted = strategy is not None and not strategy.continuous
    return replace(
        plan,
        weeks=weeks,
        race_strategy=strategy,
        adjusted=adjusted,
        adjustment_reason=adjustment_reason(profile, strategy) if adjusted and strategy else None,
    )


def adapt(
    plan: Plan,
    logs: Iterable[WorkoutLog],
    coach_edits: Iterable[CoachEdit] = (),
    library: Library | None = None,
) -> Plan:
    """Return ``plan`` updated for ``logs`` and the coach's edits, with every change (and the
    rule that made it) appended to ``plan.changes`` and coach flags to ``plan.flags``.

    Idempotent: adapting again with the same logs changes nothing, because judged weeks are
    remembered in ``plan.reviewed_weeks``.
    """
    library = library or load_library()
    plan = _apply_coach_edits(plan, tuple(coach_edits))
    by_date: dict[date, WorkoutLog] = {}
    for lg in logs:
        by_date[lg.session_date] = lg  # a later log for the same day supersedes an earlier one
    if not by_date:
        return plan
    horizon = max(by_date)
    logged = set(by_date)
    reviewed = set(plan.reviewed_weeks)
    race_week = race_week_index(plan.profile)
    for index in range(len(plan.weeks)):
        week = plan.weeks[index]
        if week.index in reviewed or week.index == race_week:
            continue
        last_day = week.start_date + timedelta(days=6)
        fully_logged = all(s.date in by_date for s in week.sessions)
        if horizon < last_day and not fully_logged:
            break  # this week is still running; later weeks cannot be judged yet
        reviewed.add(week.index)
        verdict = _judge(week, by_date)
        if verdict.rule is None:
            continue
        new_level = max(week.level - 1, 0) if verdict.step_back else week.level
        phase = "eased" if verdict.step_back else "repeated"
        change = Change(
            verdict.rule,
            week.index,
            _summary(verdict, week.level, new_level),
            week.level,
            new_level,
        )
        flags = plan.flags
        if verdict.step_back and verdict.log is not None:
            flags += (
                CoachFlag(verdict.rule, week.index, verdict.log.session_date, change.summary),
            )
        # Pain above 2/10 logged: no hops, jumps or bounds for the rest of the plan.
        sore = any(
            max(lg.pain_during, lg.pain_next_morning or 0) > 2
            for d, lg in by_date.items()
            if d <= last_day
        )
        excluded = frozenset({"impact"}) if sore else frozenset()
        because = _because(verdict, week.level, new_level)
        plan = _rebuild(plan, library, week.index, new_level, phase, logged, excluded, because)
        plan = replace(plan, changes=plan.changes + (change,), flags=flags)
    plan = _no_impact_after_pain(plan, by_date, library)
    return replace(plan, reviewed_weeks=tuple(sorted(reviewed)))


def _no_impact_after_pain(plan: Plan, logs: Mapping[date, WorkoutLog], library: Library) -> Plan:
    """No hop, jump or bound in the 14 days after a log with pain above 2/10, even in a week
    not judged yet: each such move gives way to a gentler one of the same direction and knee
    position she can do. Logged and coach-edited days are left as they are."""
    sore = sorted(d for d, lg in logs.items() if max(lg.pain_during, lg.pain_next_morning or 0) > 2)
    if not sore:
        return plan
    profile = plan.profile

    def at_risk(day: date) -> bool:
        return any(d < day <= d + timedelta(days=14) for d in sore)

    def gentler(item: StrengthItem, taken: set[str]) -> StrengthItem:
        ex = library.by_id.get(item.exercise_id)
        if ex is None or "impact" not in ex.tags:
            return item
        for alt in library.exercises:
            if (
                alt.direction == ex.direction
                and alt.knee == ex.knee
                and alt.equipment in profile.equipment
                and not alt.tags & (profile.excluded_tags | {"impact"})
                and alt.id not in taken
            ):
                taken.add(alt.id)
                d = alt.dose
                return replace(
                    item,
                    exercise_id=alt.id,
                    name=alt.name,
                    sets=d.sets,
                    reps=d.reps,
                    seconds=d.seconds,
                    per_side=d.per_side,
                    cue=alt.cue,
                )
        return item

    weeks = []
    for week in plan.weeks:
        sessions = []
        for s in week.sessions:
            if s.coach_edited or s.date in logs or not at_risk(s.date):
                sessions.append(s)
                continue
            taken = {i.exercise_id for i in s.items + s.block}
            items = tuple(gentler(i, taken) for i in s.items)
            block = tuple(gentler(i, taken) for i in s.block)
            sessions.append(replace(s, items=items, block=block))
        weeks.append(replace(week, sessions=tuple(sessions)))
    return replace(plan, weeks=tuple(weeks))


__all__ = [
    "RULES",
    "CoachEdit",
    "LogError",
    "WorkoutLog",
    "adapt",
    "coach_flags",
    "keep_as_logged",
    "pin_days",
]

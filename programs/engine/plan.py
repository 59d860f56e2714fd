"""``generate_plan``: a runner's profile in, a dated week-by-week plan out.

Invariants (checked by property tests in tests/programs/engine/test_invariants.py):

1. Deterministic: the same profile and ENGINE_VERSION give byte-identical ``to_json()``.
2. Run/walk sessions are never on consecutive days (across week boundaries too); a training
   week has 2-3 of them (3-4 training days -> 2, 5-6 -> 3); every week has at least one day
   with nothing scheduled.
3. Hip strength twice a week: own days, or for 3-day runners one own day plus a block straight
   after a run. Each training week's exercises cover all six directions and both knee
   positions; any two consecutive training weeks use standing, lying and sitting moves.
4. Only equipment the runner owns; no knee-dominant or impact exercise when the pain area is
   the knee or pain is above 3/10.
5. Variety: no two consecutive strength sessions are identical; each exercise slot moves to
   the harder variant or another exercise of the same direction at least every two weeks; an
   exercise's dose rises by at most one step from one week to the next.
6. Every run/walk session starts with a 5-minute walking warm-up and ends with a 5-minute
   cool-down. Weekly running time and the longest continuous run never drop from one week to
   the next except in a week flagged ``recovery`` (race taper) or after an adaptation; after
   week 2, weekly running time grows by at most 25%. Without a race the last week holds a
   30-minute continuous run (a 5K for runners who already run 5K).
7. The starting rung respects what the runner can already do (see
   ``progression.entry_level``): someone who runs 10 minutes does not start at week 1's
   30-second jogs.
8. With a race date, the 30-minute run (5K for 5K runners) falls at least 7 days before the
   race and race week tapers (flagged ``recovery``; it holds the race and at most one easy
   shake-out and one light strength session). If there is not time to get there safely, the
   progression is not compressed: the plan climbs at the normal rate, sets a run/walk race
   strategy (for runDisney, one that holds 16 min/mile, with its arithmetic), and is marked
   ``adjusted`` with a plain-words reason.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from .library import Library, load_library
from .model import RUN_WALK, STRENGTH, Plan, RaceStrategy, Segment, Session, Week
from .profile import Profile
from .progression import (
    COOLDOWN_SECONDS,
    FIVE_K,
    FIVE_K_METRES,
    WARMUP_SECONDS,
    entry_level,
    final_level,
    segments_for,
    spread_repeats,
)
from .race import clock, race_strategy
from .schedule import WeekTemplate, week_template
from .strength import week_sessions
from .version import ENGINE_VERSION
from .words import (
    BLOCK_WHY,
    RACE_WHY,
    race_title,
    run_title,
    run_why,
    strength_title,
    strength_why,
)

# Even a runner who is nearly there gets a month: strength work needs time to take hold.
MIN_WEEKS = 4
DAY = timedelta(days=1)
LIGHTER_EVE_NOTE = "Lighter: the race is close, so the day before it stays free."


def race_week_index(profile: Profile) -> int | None:
    if profile.race_date is None:
        return None
    return (profile.race_date - profile.start_date).days // 7


def _offsets(profile: Profile, weekdays: tuple[int, ...]) -> list[int]:
    """Day offsets within a plan week (weeks start on ``start_date``) for the given weekdays."""
    base = profile.start_date.weekday()
    return sorted((wd - base) % 7 for wd in weekdays)


def schedule_levels(profile: Profile, first_week: int, first_level: int) -> tuple[list[int], bool]:
    """Rungs for training weeks ``first_week`` onward (race week excluded), and whether the
    goal run is reached in time (always true without a race)."""
    final = final_level(profile.ability)
    first_level = min(first_level, final)
    climb = list(range(first_level, final + 1))
    race_week = race_week_index(profile)
    if race_week is None:
        n = max(len(climb), MIN_WEEKS - first_week)
        return spread_repeats(climb, n - len(climb)), True
    template = week_template(profile.days, profile.long_run_day)
    first_run = _offsets(profile, template.run_days)[0]
    # Last week whose first run is a full week before the race: the goal must land by then.
    last_ok = (profile.race_date - profile.start_date).days - 7 - first_run
    goal_week = min(last_ok // 7 if last_ok >= 0 else -1, race_week - 1)
    available = goal_week - first_week + 1
    training = race_week - first_week
    if len(climb) <= available:
        levels = spread_repeats(climb, available - len(climb))
        return levels + [final] * (training - len(levels)), True
    # Not enough time: climb at the normal rate, but stop one rung short of the goal so that
    # no big new step lands in the last days before the race.
    cap = final - 1 if first_level < final else final
    return [min(first_level + i, cap) for i in range(training)], False


def _phase(level: int, prev: int | None, week: int, final: int) -> str:
    if prev is None:
        return "goal" if level == final and week > 0 else "first"
    if level == final and prev != final:
        return "goal"
    if level == prev:
        return "hold" if level == final else "repeat"
    return "new"


def _run_session(
    day: date, level: int, why: str, block: tuple = (), taper: bool = False
) -> Session:
    return Session(
        date=day,
        kind=RUN_WALK,
        title=run_title(level, taper),
        why=why,
        segments=segments_for(level, taper),
        block=block,
    )


def build_week(
    profile: Profile,
    library: Library,
    template: WeekTemplate,
    index: int,
    level: int,
    phase: str,
) -> Week:
    """One training week: runs on run days, hip strength A then B on strength days."""
    start = profile.start_date + timedelta(days=7 * index)
    a_items, b_items = week_sessions(library, profile.equipment, profile.restricted, index)
    run_why_text = run_why(phase, level, index, profile.pain_area)
    sessions: list[Session] = []
    base = profile.start_date.weekday()
    strength_seen = 0
    for offset in range(7):
        wd = (base + offset) % 7
        day = start + timedelta(days=offset)
        if wd in template.run_days:
            if wd == template.block_day:
                why = f"{run_why_text} {BLOCK_WHY}"
                sessions.append(_run_session(day, level, why, b_items))
            else:
                sessions.append(_run_session(day, level, run_why_text))
        elif wd in template.strength_days:
            if template.block_day is not None:
                which, items = "A", a_items
            else:
                which, items = ("A", a_items) if strength_seen == 0 else ("B", b_items)
            strength_seen += 1
            sessions.append(
                Session(
                    date=day,
                    kind=STRENGTH,
                    title=strength_title(which),
                    why=strength_why(which, index, profile.pain_area),
                    items=items,
                )
            )
    return Week(index=index, start_date=start, level=level, sessions=tuple(sessions))


def race_segments(strategy: RaceStrategy) -> tuple[Segment, ...]:
    """The race as segments: the strategy's rhythm over the expected finish time."""
    finish = strategy.expected_finish_seconds
    segs = [Segment("warmup", WARMUP_SECONDS)]
    if strategy.continuous or not strategy.run_seconds:
        segs.append(Segment("run", finish, FIVE_K_METRES))
    else:
        run, walk = strategy.run_seconds, strategy.walk_seconds or 0
        t = 0
        while t < finish:
            segs.append(Segment("run", min(run, finish - t)))
            t += segs[-1].seconds
            if t < finish and walk:
                segs.append(Segment("walk", min(walk, finish - t)))
                t += segs[-1].seconds
    segs.append(Segment("cooldown", COOLDOWN_SECONDS))
    return tuple(segs)


def build_race_week(
    profile: Profile,
    library: Library,
    template: WeekTemplate,
    index: int,
    level: int,
    strategy: RaceStrategy,
) -> Week:
    """Race week: one light strength session and one short shake-out, both at least two days
    before the race, then the race itself."""
    assert profile.race_date is not None and profile.race_type is not None
    start = profile.start_date + timedelta(days=7 * index)
    a_items, _ = week_sessions(library, profile.equipment, profile.restricted, index)
    # Same moves as usual but fewer sets: race week is not the time to chase strength.
    a_items = tuple(replace(i, sets=min(i.sets, 2)) for i in a_items)
    last_easy_day = profile.race_date - 2 * DAY
    days = [start + timedelta(days=o) for o in range(7)]
    runs = [d for d in days if d.weekday() in template.run_days and d <= last_easy_day]
    lifts = [d for d in days if d.weekday() in template.strength_days and d <= last_easy_day]
    sessions: list[Session] = []
    if lifts:
        sessions.append(
            Session(
                date=lifts[0],
                kind=STRENGTH,
                title=strength_title("A"),
                why="Light hip work early in race week: the same moves, nothing new.",
                items=a_items,
            )
        )
    if runs:
        taper_why = run_why("taper", level, index, profile.pain_area)
        sessions.append(_run_session(runs[-1], level, taper_why, (), True))
    sessions.append(
        Session(
            date=profile.race_date,
            kind=RUN_WALK,
            title=race_title(profile.race_type),
            why=RACE_WHY,
            segments=race_segments(strategy),
            race=True,
        )
    )
    sessions.sort(key=lambda s: s.date)
    return Week(
        index=index,
        start_date=start,
        level=level,
        sessions=tuple(sessions),
        recovery=True,
        note="Race week: lighter on purpose so you arrive fresh.",
    )


def _trim_eve_of_race(week: Week, race: date) -> Week:
    """Nothing the day before the race; a week that loses a session this way becomes a
    lighter (recovery) week rather than a squeezed one."""
    kept = tuple(s for s in week.sessions if s.date < race - DAY)
    if len(kept) == len(week.sessions):
        return week
    return Week(
        index=week.index,
        start_date=week.start_date,
        level=week.level,
        sessions=kept,
        recovery=True,
        note=week.note or LIGHTER_EVE_NOTE,
    )


def build_weeks(
    profile: Profile,
    library: Library,
    first_week: int,
    levels: list[int],
    prev_level: int | None,
    reached_goal: bool,
    first_phase: str | None = None,
) -> tuple[list[Week], RaceStrategy | None]:
    """Training weeks from ``first_week`` plus, with a race, the race week and its strategy."""
    template = week_template(profile.days, profile.long_run_day)
    final = final_level(profile.ability)
    weeks: list[Week] = []
    prev = prev_level
    for i, level in enumerate(levels):
        index = first_week + i
        phase = first_phase if (i == 0 and first_phase) else _phase(level, prev, index, final)
        weeks.append(build_week(profile, library, template, index, level, phase))
        prev = level
    race_week = race_week_index(profile)
    if race_week is None or profile.race_date is None or profile.race_type is None:
        return weeks, None
    if weeks:
        weeks[-1] = _trim_eve_of_race(weeks[-1], profile.race_date)
    if prev is None:
        prev = entry_level(profile.ability, profile.run_minutes, profile.pain_level)
    strategy = race_strategy(profile.race_type, profile.race_date, prev, reached_goal)
    weeks.append(build_race_week(profile, library, template, race_week, prev, strategy))
    return weeks, strategy


def adjustment_reason(profile: Profile, strategy: RaceStrategy) -> str:
    """Plain-words explanation for a plan that races with run/walk instead of the goal run."""
    goal = "30 minutes of non-stop running"
    if final_level(profile.ability) == FIVE_K:
        goal = "a full 5K"
    reason = (
        f"There isn't quite enough time before your race to build safely to {goal}, and "
        "rushing is how old injuries flare up. So we keep a safe pace of progress and you race "
        f"with a rhythm you will have practised: run {clock(strategy.run_seconds or 0)}, "
        f"walk {clock(strategy.walk_seconds or 0)}."
    )
    if strategy.holds_16_min_mile:
        reason += " That comfortably holds runDisney's 16:00 per mile."
    return reason


def generate_plan(profile: Profile, library: Library | None = None) -> Plan:
    """Build the full plan for ``profile``; pure and deterministic (see the invariants above)."""
    library = library or load_library()
    first = entry_level(profile.ability, profile.run_minutes, profile.pain_level)
    levels, reached = schedule_levels(profile, 0, first)
    weeks, strategy = build_weeks(profile, library, 0, levels, None, reached)
    adjusted = strategy is not None and not reached
    return Plan(
        engine_version=ENGINE_VERSION,
        profile=profile,
        weeks=tuple(weeks),
        adjusted=adjusted,
        adjustment_reason=adjustment_reason(profile, strategy) if adjusted and strategy else None,
        race_strategy=strategy,
    )

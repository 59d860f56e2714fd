"""``generate_plan``: a runner's profile in, a dated week-by-week plan out.

Invariants (checked by property tests in tests/programs/engine/test_invariants.py and
test_adapt_words.py):

1. Deterministic: the same profile and ENGINE_VERSION give byte-identical ``to_json()``.
2. Run/walk sessions are never on consecutive days (across week boundaries too); a training
   week has 2-3 of them (3-4 training days -> 2, 5-6 -> 3); every week has at least one day
   with nothing scheduled.
3. The whole hip method every full week: two strength sessions (own days, or for 3-day runners
   one own day plus a block straight after a run) that together train each of the six
   directions with the knee straight and with it bent (twelve cells); any two consecutive
   training weeks use standing, lying and sitting moves. Each session states its length
   ("about 25 minutes") and takes at most 30 minutes.
4. Only equipment the runner owns; no knee-dominant move for a sore knee or pain above 3/10;
   no impact move (hops, jumps, bounds) in the first four weeks, nor ever for a runner with a
   pain area, pain above 2/10 or an age above 50 (nor, after adaptation, once she logs pain
   above 2/10).
5. Variety: no two consecutive strength sessions are identical; each exercise slot moves to
   the harder variant or another exercise of the same direction at least every two weeks; an
   exercise's dose rises by at most one step from one week to the next.
6. Every run/walk session starts with a 5-minute walking warm-up and ends with a 5-minute
   cool-down. Weekly running time and the longest continuous run never drop from one week to
   the next except in a lighter (``recovery``) week, the dress rehearsal's week or after an
   adaptation; after week 2, weekly running time grows by at most 25%. Without a race the last
   week holds a 30-minute continuous run (a 5K for runners who already run 5K).
7. The starting step respects what the runner can already do (see
   ``progression.entry_level``); pain above 5/10 at intake starts at the gentlest step, flags
   the coach, and every pain line follows the pain-monitoring model (up to 3/10 fine, 4-5
   acceptable if settled by next morning, above 5 stop and tell the coach).
8. With a race date (at least 14 days after the start), by the calendar whatever the weekdays:
   the 7 days before the race hold at least 30% less running than the 7 before them, no run
   longer than any before them and nothing the day before; a dress rehearsal 8-14 days out
   runs the race's own rhythm for at least 80% of its expected time; race day asks at most
   1.25 x the most running done in one training session. When time is short the race walks
   more (Galloway ratios down to 0:30 run / 5:00 walk), the plan is ``adjusted`` with a
   plain-words reason, and a runDisney race that then can't hold 16:00 per mile says so and
   flags the coach when the plan is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

from .library import Library, load_library
from .model import RUN_WALK, STRENGTH, CoachFlag, Plan, RaceStrategy, Segment, Session, Week
from .profile import Profile
from .progression import (
    COOLDOWN_SECONDS,
    FIVE_K_METRES,
    LADDER,
    WARMUP_SECONDS,
    entry_level,
    final_level,
    segments_for,
    spread_repeats,
)
from .race import (
    RACE_RUN_MULTIPLE,
    choose_rhythm,
    clock,
    race_strategy,
    rehearsal_seconds,
)
from .schedule import WeekTemplate, week_template
from .strength import session_minutes, week_sessions
from .version import ENGINE_VERSION
from .words import (
    RACE_WHY,
    block_why,
    race_title,
    rehearsal_title,
    rehearsal_why,
    run_title,
    run_why,
    short_date,
    strength_title,
    strength_why,
    taper_note,
)

# Even a runner who is nearly there gets a month: strength work needs time to take hold.
MIN_WEEKS = 4
DAY = timedelta(days=1)


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
    excluded: frozenset[str] = frozenset(),
    because: str = "",
) -> Week:
    """One training week: runs on run days, hip strength A then B on strength days.
    ``because`` (an adapted week's first) says what in her logs led to this week."""
    start = profile.start_date + timedelta(days=7 * index)
    excluded = excluded | profile.excluded_tags
    a_items, b_items = week_sessions(library, profile.equipment, excluded, index)
    run_why_text = run_why(phase, level, index, profile.pain_area, profile.pain_level, because)
    sessions: list[Session] = []
    base = profile.start_date.weekday()
    strength_seen = 0
    for offset in range(7):
        wd = (base + offset) % 7
        day = start + timedelta(days=offset)
        if wd in template.run_days:
            if wd == template.block_day:
                why = f"{run_why_text} {block_why(session_minutes(b_items))}"
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
                    title=strength_title(which, session_minutes(items)),
                    why=strength_why(which, index, profile.pain_area),
                    items=items,
                )
            )
    return Week(index=index, start_date=start, level=level, sessions=tuple(sessions))


LIGHT_HIPS_WHY = "Light hip work before the race: the same moves, fewer sets, nothing new."


def _framed(middle: Sequence[Segment]) -> tuple[Segment, ...]:
    """A session's segments: the warm-up walk, ``middle``, the cool-down walk."""
    return (Segment("warmup", WARMUP_SECONDS), *middle, Segment("cooldown", COOLDOWN_SECONDS))


def rhythm_segments(run: int | None, walk: int | None, seconds: int) -> list[Segment]:
    """``seconds`` of a run/walk rhythm (``run`` None: one continuous run)."""
    if run is None or not walk:
        return [Segment("run", seconds)]
    segs: list[Segment] = []
    t = 0
    while t < seconds:
        segs.append(Segment("run", min(run, seconds - t)))
        t += segs[-1].seconds
        if t < seconds:
            segs.append(Segment("walk", min(walk, seconds - t)))
            t += segs[-1].seconds
    return segs


def race_segments(strategy: RaceStrategy) -> tuple[Segment, ...]:
    """The race as segments: the strategy's rhythm over the expected finish time."""
    finish = strategy.expected_finish_seconds
    if strategy.continuous or not strategy.run_seconds:
        middle = [Segment("run", finish, FIVE_K_METRES)]
    else:
        middle = rhythm_segments(strategy.run_seconds, strategy.walk_seconds, finish)
    return (Segment("warmup", WARMUP_SECONDS), *middle, Segment("cooldown", COOLDOWN_SECONDS))


def _week_for(weeks: Sequence[Week], day: date) -> int | None:
    for i, week in enumerate(weeks):
        if week.start_date <= day < week.start_date + timedelta(days=7):
            return i
    return None


def _running_between(weeks: Sequence[Week], lo: date, hi: date) -> int:
    return sum(s.run_seconds for w in weeks for s in w.runs if lo <= s.date <= hi and not s.race)


def _shake_out(day: date, level: int, budget: int, longest: int, pain_area: str) -> Session | None:
    """An easy taper run/walk: the rung's rhythm, runs no longer than she has run, at most
    ``budget`` seconds of running (None when that leaves nothing worth going out for)."""
    rung = LADDER[level]
    run = min(rung.runs[0], longest, budget)
    if run < 30:
        return None
    runs = [run] * max(1, min(len(rung.runs), budget // run))
    walk = rung.walk or 60
    middle: list[Segment] = []
    for i, r in enumerate(runs):
        if i:
            middle.append(Segment("walk", walk))
        middle.append(Segment("run", r))
    return Session(
        date=day,
        kind=RUN_WALK,
        title=run_title(level, taper=True),
        why=run_why("taper", level, 0, pain_area),
        segments=_framed(middle),
    )


# A shake-out keeps about this share of the step's usual running.
SHAKE_OUT_SHARE = (3, 5)


def _rehearsal(
    weeks: list[Week], history: Sequence[Week], profile: Profile, first_week: int
) -> tuple[int | None, int | None, bool, Session | None]:
    """Pick the race rhythm from what training allows and put its dress rehearsal on the last
    run day 8-14 days before the race. Returns (run, walk, fits, rehearsal session)."""
    race = profile.race_date
    assert race is not None
    done = next((s for w in history for s in w.sessions if s.rehearsal), None)
    if done is not None:  # already rehearsed (adapting later weeks): race what she rehearsed
        runs = [seg.seconds for seg in done.segments if seg.kind == "run"]
        walks = [seg.seconds for seg in done.segments if seg.kind == "walk"]
        if walks:
            return max(runs), walks[0], True, None
        return None, None, True, None
    lo, hi = race - 14 * DAY, race - 8 * DAY
    days = [
        s
        for w in weeks
        if w.index >= first_week
        for s in w.runs
        if lo <= s.date <= hi and not s.coach_edited
    ]
    everything = [*history, *weeks]
    # The last run day in the window; one without a hip block after it if there is one.
    first_run = min((s.date for w in everything for s in w.runs), default=None)
    days = [s for s in days if s.date != first_run]  # never her very first run
    plain = [s for s in days if not s.block]
    target = (plain or days)[-1] if days else None
    cut = target.date if target else race - 7 * DAY
    before = [s for w in everything for s in w.runs if s.date < cut and not s.race]
    longest = max((s.longest_run_seconds for s in before), default=0)
    most = max((s.run_seconds for s in before), default=0)
    if target is not None:  # what that day would have asked of her
        most = max(most, target.run_seconds)
    cap = most * RACE_RUN_MULTIPLE.numerator // RACE_RUN_MULTIPLE.denominator
    if target is not None:
        # Keep the rehearsal week within the usual weekly growth of a quarter.
        i = _week_for(everything, target.date)
        if i is not None and i > 0 and everything[i].index >= 2:
            prev_total = everything[i - 1].run_seconds
            rest = everything[i].run_seconds - target.run_seconds
            cap = min(cap, prev_total * 5 // 4 - rest)
        cap = max(cap, target.run_seconds)
    level = weeks[-1].level if weeks else 0
    rung = LADDER[level]
    trained = None if rung.continuous else (rung.runs[0], rung.walk)
    run, walk, fits = choose_rhythm(longest, cap, trained)
    if target is None:
        return run, walk, fits, None
    seconds = rehearsal_seconds(run, walk)
    middle = rhythm_segments(run, walk, seconds)
    session = Session(
        date=target.date,
        kind=RUN_WALK,
        title=rehearsal_title(seconds),
        why=rehearsal_why(run, walk, race)
        + (f" {block_why(session_minutes(target.block))}" if target.block else ""),
        block=target.block,
        segments=_framed(middle),
        rehearsal=True,
    )
    return run, walk, fits, session


def _light(items: tuple) -> tuple:
    return tuple(replace(i, sets=min(i.sets, 2)) for i in items)


def last_strength(weeks: Sequence[Week], before: date) -> tuple:
    """The items of the last strength work (own day or block) before ``before``."""
    found: tuple = ()
    for w in weeks:
        for s in w.sessions:
            if s.date < before and (s.items or s.block):
                found = s.items or s.block
    return found


def _race_block(
    weeks: list[Week],
    history: Sequence[Week],
    profile: Profile,
    library: Library,
    template: WeekTemplate,
    first_week: int,
    excluded: frozenset[str],
) -> tuple[list[Week], RaceStrategy, bool]:
    """The last two weeks before the race, by the calendar: the dress rehearsal 8-14 days
    out, then 7 days that taper (at least 30% less running than the 7 before, no run longer
    than any before, nothing the day before), then the race. Returns weeks, strategy, fits."""
    race = profile.race_date
    assert race is not None and profile.race_type is not None
    run, walk, fits, rehearsal = _rehearsal(weeks, history, profile, first_week)
    strategy = race_strategy(profile.race_type, race, run, walk)
    if rehearsal is not None:
        i = _week_for(weeks, rehearsal.date)
        assert i is not None
        w = weeks[i]
        sessions = tuple(rehearsal if s.date == rehearsal.date else s for s in w.sessions)
        note = f"Dress rehearsal on {short_date(rehearsal.date)}."
        weeks[i] = replace(w, sessions=sessions, note=note)
    t_lo, t_hi = race - 7 * DAY, race - DAY
    everything = [*history, *weeks]
    before_taper = _running_between(everything, race - 14 * DAY, race - 8 * DAY)
    longest = max(
        (s.longest_run_seconds for w in everything for s in w.runs if s.date < t_lo), default=0
    )
    budget = before_taper * 7 // 10
    shake_days = [
        s.date
        for w in weeks
        if w.index >= first_week
        for s in w.runs
        if t_lo <= s.date <= race - 2 * DAY and not s.coach_edited
    ][-2:]
    fixed = _running_between([w for w in everything if w.index < first_week], t_lo, t_hi) + sum(
        s.run_seconds
        for w in weeks
        if w.index >= first_week
        for s in w.runs
        if t_lo <= s.date <= t_hi and s.coach_edited
    )
    budget -= fixed
    lifted = False
    out: list[Week] = []
    for w in weeks:
        if w.index < first_week or w.start_date + 6 * DAY < t_lo:
            out.append(w)
            continue
        kept: list[Session] = []
        for s in w.sessions:
            if s.coach_edited:
                if s.date < race:
                    kept.append(s)
                continue
            if s.date >= race:
                continue
            if s.date < t_lo:
                kept.append(s)
            elif s.kind == RUN_WALK and s.date in shake_days:
                level = w.level
                share = budget // len(shake_days) if shake_days else 0
                usual = LADDER[level].run_seconds * SHAKE_OUT_SHARE[0] // SHAKE_OUT_SHARE[1]
                shake = _shake_out(s.date, level, min(share, usual), longest, profile.pain_area)
                if shake is not None:
                    kept.append(shake)
            elif s.kind == STRENGTH and not lifted and s.date <= race - 2 * DAY:
                lifted = True
                items = _light(s.items)
                done = [*out, replace(w, sessions=tuple(kept))]
                if items == last_strength([*history, *done], s.date):
                    # Never the same session twice running: take the week's other one.
                    pair = week_sessions(
                        library, profile.equipment, excluded | profile.excluded_tags, w.index
                    )
                    items = _light(pair[1] if s.items == pair[0] else pair[0])
                kept.append(
                    replace(
                        s,
                        title=strength_title("A", session_minutes(items)),
                        why=LIGHT_HIPS_WHY,
                        items=items,
                    )
                )
        out.append(replace(w, sessions=tuple(kept), recovery=True, note=taper_note(race, w.note)))
    race_session = Session(
        date=race,
        kind=RUN_WALK,
        title=race_title(profile.race_type),
        why=RACE_WHY,
        segments=race_segments(strategy),
        race=True,
    )
    last = out[-1]
    out[-1] = replace(last, sessions=(*last.sessions, race_session))
    return out, strategy, fits


def build_weeks(
    profile: Profile,
    library: Library,
    first_week: int,
    levels: list[int],
    prev_level: int | None,
    reached_goal: bool,
    first_phase: str | None = None,
    history: Sequence[Week] = (),
    excluded: frozenset[str] = frozenset(),
    because: str = "",
) -> tuple[list[Week], RaceStrategy | None, bool]:
    """Training weeks from ``first_week`` plus, with a race, the race week, the rehearsal and
    taper, and the race strategy. ``history`` holds the weeks before ``first_week`` (kept as
    they are). The last value says whether the strategy fits the race's pace rule."""
    del reached_goal  # the race strategy is set by the training actually planned
    template = week_template(profile.days, profile.long_run_day)
    final = final_level(profile.ability)
    weeks: list[Week] = []
    prev = prev_level
    for i, level in enumerate(levels):
        index = first_week + i
        phase = first_phase if (i == 0 and first_phase) else _phase(level, prev, index, final)
        text = because if i == 0 else ""
        weeks.append(build_week(profile, library, template, index, level, phase, excluded, text))
        prev = level
    race_week = race_week_index(profile)
    if race_week is None or profile.race_date is None or profile.race_type is None:
        return weeks, None, True
    if prev is None:
        prev = entry_level(profile.ability, profile.run_minutes, profile.pain_level)
    weeks.append(build_week(profile, library, template, race_week, prev, "hold", excluded))
    weeks, strategy, fits = _race_block(
        weeks, history, profile, library, template, first_week, excluded
    )
    return weeks, strategy, fits


def adjustment_reason(profile: Profile, strategy: RaceStrategy) -> str:
    """Plain-words explanation for a plan that races with run/walk instead of running it all."""
    goal = "running the whole race"
    reason = (
        f"There isn't quite enough time before your race to build safely to {goal}, and "
        "rushing is how old injuries flare up. So we keep a safe pace of progress and you race "
        f"with a rhythm you will have rehearsed: run {clock(strategy.run_seconds or 0)}, "
        f"walk {clock(strategy.walk_seconds or 0)}."
    )
    if strategy.holds_16_min_mile:
        reason += " That holds runDisney's 16:00 per mile."
    elif strategy.holds_16_min_mile is False:
        reason += (
            " Even so, that is slower than runDisney's 16:00 per mile; your coach knows and will "
            "talk it through with you before race day."
        )
    return reason


def plan_flags(profile: Profile, strategy: RaceStrategy | None) -> tuple[CoachFlag, ...]:
    """What the coach hears the moment the plan is made: high pain at intake, and a race whose
    pace rule the plan cannot safely meet."""
    flags = []
    if profile.high_pain:
        area = profile.pain_area.replace("_", " ") if profile.pain_area != "none" else "pain"
        flags.append(
            CoachFlag(
                "intake-pain-high",
                0,
                profile.start_date,
                f"Intake: {area} {profile.pain_level}/10. The plan starts at its gentlest step; "
                "please check in before her first run.",
            )
        )
    if strategy is not None and strategy.holds_16_min_mile is False:
        flags.append(
            CoachFlag(
                "race-pace-at-risk",
                0,
                profile.start_date,
                f"runDisney race on {short_date(strategy.race_date)}: the safest rhythm training "
                f"allows (run {clock(strategy.run_seconds or 0)}, walk "
                f"{clock(strategy.walk_seconds or 0)}) averages {clock(strategy.expected_pace)} "
                "per mile, slower than the 16:00 limit. Talk options through before race day.",
            )
        )
    return tuple(flags)


def generate_plan(profile: Profile, library: Library | None = None) -> Plan:
    """Build the full plan for ``profile``; pure and deterministic (see the invariants above)."""
    library = library or load_library()
    first = entry_level(profile.ability, profile.run_minutes, profile.pain_level)
    levels, reached = schedule_levels(profile, 0, first)
    weeks, strategy, _ = build_weeks(profile, library, 0, levels, None, reached)
    adjusted = strategy is not None and not strategy.continuous
    return Plan(
        engine_version=ENGINE_VERSION,
        profile=profile,
        weeks=tuple(weeks),
        adjusted=adjusted,
        adjustment_reason=adjustment_reason(profile, strategy) if adjusted and strategy else None,
        race_strategy=strategy,
        flags=plan_flags(profile, strategy),
    )

"""A plain-text rendering of a plan, for the CLI, emails and golden-file tests."""

from __future__ import annotations

from datetime import timedelta

from .library import DIRECTIONS, KNEE_POSITIONS, Library, load_library
from .model import RUN_WALK, Plan, Session, StrengthItem, Week
from .profile import WEEKDAY_NAMES
from .race import clock
from .words import DIRECTION_WORDS, level_words

_ABILITY = {"walk_only": "walks only", "run_5k": "runs 5K"}


def _segments(session: Session) -> str:
    """``5:00 walk | 6 x run 1:00, walk 1:00 between | 5:00 walk`` style summary."""
    segs = session.segments
    head, middle, tail = segs[:1], segs[1:-1], segs[-1:]
    runs = [s.seconds for s in middle if s.kind == "run"]
    walks = [s.seconds for s in middle if s.kind == "walk"]
    parts = [f"{clock(s.seconds)} walk" for s in head]
    distance = next((s.distance_m for s in middle if s.distance_m), None)
    if len(runs) == 1 and not walks:
        parts.append(f"run {clock(runs[0])}" + (f" ({distance // 1000} km)" if distance else ""))
    elif len(set(runs)) == 1 and len(set(walks)) == 1 and len(walks) == len(runs) - 1:
        parts.append(f"{len(runs)} x run {clock(runs[0])}, walk {clock(walks[0])} between")
    else:
        # Repeated (run, walk) pairs, then whatever is left over.
        pairs = [(middle[i], middle[i + 1]) for i in range(0, len(middle) - 1, 2)]
        first = pairs[0] if pairs else None
        n = 0
        while n < len(pairs) and pairs[n] == first and pairs[n][0].kind == "run":
            n += 1
        rest = middle[2 * n :]
        text = ""
        if n > 1 and first is not None:
            text = f"{n} x (run {clock(first[0].seconds)}, walk {clock(first[1].seconds)})"
            if rest:
                text += ", then " + ", ".join(f"{s.kind} {clock(s.seconds)}" for s in rest)
        else:
            text = ", ".join(f"{s.kind} {clock(s.seconds)}" for s in middle)
        parts.append(text)
    parts += [f"{clock(s.seconds)} walk" for s in tail]
    return " | ".join(parts)


def _item(item: StrengthItem) -> str:
    amount = f"{item.reps} reps" if item.reps is not None else f"{item.seconds} s hold"
    side = " each side" if item.per_side else ""
    return f"{item.name}: {item.sets} x {amount}{side}, rest {item.rest_seconds} s"


_SHORT_DIRECTION = {
    "flexion": "forward",
    "extension": "back",
    "abduction": "out",
    "adduction": "in",
    "external_rotation": "turn out",
    "internal_rotation": "turn in",
}
assert set(_SHORT_DIRECTION) == set(DIRECTION_WORDS)


def hip_grid(week: Week, library: Library) -> str:
    """The week's hip work on the coach's grid: each direction, knee straight (S) and bent (B),
    and the body positions used. A cell the week misses shows as "-"."""
    cells = set()
    positions = set()
    for s in week.sessions:
        for item in s.items + s.block:
            ex = library.by_id.get(item.exercise_id)
            if ex is not None:
                cells.add((ex.direction, ex.knee))
                positions.add(ex.position)
    parts = []
    for d in DIRECTIONS:
        marks = "".join(k[0].upper() if (d, k) in cells else "-" for k in KNEE_POSITIONS)
        parts.append(f"{_SHORT_DIRECTION[d]} {marks}")
    order = ("standing", "lying", "sitting")
    return (
        f"hip grid {len(cells)}/12: "
        + ", ".join(parts)
        + f"; positions: {', '.join(p for p in order if p in positions) or 'none'}"
    )


def _race_lines(plan: Plan) -> list[str]:
    """The taper and the rehearsal in numbers, for the coach to check at a glance."""
    race = plan.profile.race_date
    if race is None:
        return []
    day = timedelta(days=1)

    def running(lo, hi) -> int:
        return sum(s.run_seconds for s in plan.sessions if lo <= s.date <= hi and not s.race)

    taper, before = running(race - 7 * day, race - day), running(race - 14 * day, race - 8 * day)
    cut = 100 - (100 * taper // before if before else 100)
    lines = [
        f"Taper: {taper // 60} min of running in the 7 days before the race, against "
        f"{before // 60} min in the 7 before them ({cut}% less); nothing the day before."
    ]
    training = [s for s in plan.sessions if s.kind == RUN_WALK and not s.race]
    rehearsal = next((s for s in plan.sessions if s.rehearsal), None)
    race_run = sum(s.run_seconds for s in plan.sessions if s.race)
    most = max((s.run_seconds for s in training), default=0)
    if rehearsal is not None:
        length = sum(seg.seconds for seg in rehearsal.segments[1:-1])
        lines.append(
            f"Dress rehearsal: {WEEKDAY_NAMES[rehearsal.date.weekday()]} "
            f"{rehearsal.date.isoformat()} ({(race - rehearsal.date).days} days out), race "
            f"rhythm for {clock(length)} with {clock(rehearsal.run_seconds)} of running."
        )
    if most:
        lines.append(
            f"Race day asks {clock(race_run)} of running; the most in one training session is "
            f"{clock(most)} (x{race_run / most:.2f})."
        )
    return lines


def render_text(plan: Plan, library: Library | None = None) -> str:
    """Readable week-by-week table of the plan, with each session's why-line, each week's hip
    grid, and the taper and dress rehearsal for a race."""
    library = library or load_library()
    p = plan.profile
    ability = _ABILITY.get(p.ability, f"runs {p.run_minutes} min")
    lines = [
        f"Hero plan (engine {plan.engine_version})",
        f"Runner: {ability}; days {', '.join(WEEKDAY_NAMES[d] for d in p.days)}; "
        f"equipment {', '.join(sorted(p.equipment))}; pain {p.pain_area} {p.pain_level}/10"
        + (f"; age {p.age}" if p.age else ""),
        f"Start {p.start_date.isoformat()}"
        + (f"; race {p.race_type} on {p.race_date.isoformat()}" if p.race_date else "; no race"),
    ]
    if plan.adjusted:
        lines.append(f"ADJUSTED: {plan.adjustment_reason}")
    if plan.race_strategy:
        rs = plan.race_strategy
        lines.append(f"Race strategy: {rs.summary}")
        lines.append(f"  Arithmetic: {rs.arithmetic}")
    lines += _race_lines(plan)
    for week in plan.weeks:
        training = [s for s in week.runs if not s.race]
        run_min = sum(s.run_seconds for s in training) // 60
        longest = max((s.longest_run_seconds for s in training), default=0)
        step = "race week" if any(s.race for s in week.sessions) else level_words(week.level)
        head = (
            f"Week {week.index + 1} from {week.start_date.isoformat()} | {step} | "
            f"running {run_min} min, longest {clock(longest)}"
        )
        if week.recovery:
            head += " | lighter week"
        lines += ["", head, f"  {hip_grid(week, library)}"]
        if week.note:
            lines.append(f"  Note: {week.note}")
        for s in week.sessions:
            day = f"{WEEKDAY_NAMES[s.date.weekday()]} {s.date.isoformat()}"
            mark = " [coach]" if s.coach_edited else ""
            mark += " [rehearsal]" if s.rehearsal else ""
            lines.append(f"  {day}  {s.title}{mark}")
            lines.append(f"      why: {s.why}")
            if s.kind == RUN_WALK:
                lines.append(f"      {_segments(s)}")
                if s.block:
                    lines.append("      then hip strength:")
                    lines += [f"        - {_item(i)}" for i in s.block]
            else:
                lines += [f"      - {_item(i)}" for i in s.items]
    if plan.changes:
        lines += ["", "Changes:"]
        lines += [f"  week {c.week + 1}: [{c.rule}] {c.summary}" for c in plan.changes]
    if plan.flags:
        lines += ["", "Coach flags:"]
        lines += [f"  {f.date.isoformat()}: [{f.rule}] {f.reason}" for f in plan.flags]
    return "\n".join(lines) + "\n"

"""A plain-text rendering of a plan, for the CLI, emails and golden-file tests."""

from __future__ import annotations

from .model import RUN_WALK, Plan, Session, StrengthItem
from .profile import WEEKDAY_NAMES
from .race import clock

_ABILITY = {"walk_only": "walks only", "run_5k": "runs 5K"}


def _segments(session: Session) -> str:
    """``5:00 walk | 6 x run 1:00, walk 1:00 between | 5:00 walk`` style summary."""
    segs = session.segments
    head, middle, tail = segs[:1], segs[1:-1], segs[-1:]
    runs = [s.seconds for s in middle if s.kind == "run"]
    walks = [s.seconds for s in middle if s.kind == "walk"]
    parts = [f"{clock(s.seconds)} walk" for s in head]
    distance = next((s.distance_m for s in middle if s.distance_m), None)
    if len(runs) == 1:
        parts.append(f"run {clock(runs[0])}" + (f" ({distance // 1000} km)" if distance else ""))
    elif len(set(runs)) == 1 and len(set(walks)) == 1:
        parts.append(f"{len(runs)} x run {clock(runs[0])}, walk {clock(walks[0])} between")
    elif len(set(runs[:-1])) == 1 and len(set(walks)) == 1:
        parts.append(
            f"{len(runs) - 1} x (run {clock(runs[0])}, walk {clock(walks[0])}), "
            f"then run {clock(runs[-1])}"
        )
    else:
        parts.append(", ".join(f"{s.kind} {clock(s.seconds)}" for s in middle))
    parts += [f"{clock(s.seconds)} walk" for s in tail]
    return " | ".join(parts)


def _item(item: StrengthItem) -> str:
    amount = f"{item.reps} reps" if item.reps is not None else f"{item.seconds} s hold"
    side = " each side" if item.per_side else ""
    return f"{item.name}: {item.sets} x {amount}{side}, rest {item.rest_seconds} s"


def render_text(plan: Plan) -> str:
    """Readable week-by-week table of the plan, with each session's why-line."""
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
    for week in plan.weeks:
        run_min = week.run_seconds // 60
        head = (
            f"Week {week.index + 1} from {week.start_date.isoformat()} | rung {week.level} | "
            f"running {run_min} min, longest {clock(week.longest_run_seconds)}"
        )
        if week.recovery:
            head += " | lighter week"
        lines += ["", head]
        if week.note:
            lines.append(f"  Note: {week.note}")
        for s in week.sessions:
            day = f"{WEEKDAY_NAMES[s.date.weekday()]} {s.date.isoformat()}"
            mark = " [coach]" if s.coach_edited else ""
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

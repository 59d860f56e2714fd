"""The runner's word on each exercise shapes her next strength sessions. Pure: plan, feedback and
library in, plan out.

After a strength session she rates each exercise "too easy", "about right" or "too hard" and
says whether it hurt (0-10). Read in date order, per exercise:

* pain above 3/10: from the next day on, the exercise is swapped for another of the same
  direction and knee position that she owns the equipment for and has not reported pain on
  (the same body position first); the coach is flagged with the exercise that hurt;
* "too hard": its easier variant when that one keeps the knee position, else one step less dose;
* "too easy" twice in a row ("about right" in between starts the count again): its harder
  variant when that one keeps the knee position, else one step more dose.

Each change is recorded with the rule that fired (``plan.changes``), like run adaptation. Only
sessions after the feedback are touched, never a day already logged or changed by the coach, and
never an exercise the coach pinned. Every item keeps its direction and knee position, so the
weekly coverage (all six directions, knee straight and bent) is exactly what it was.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .library import Exercise, Library
from .model import Change, CoachFlag, Plan, StrengthItem
from .strength import eligible, in_slot

RULES: dict[str, str] = {
    "strength-pain-swap": (
        "Pain above 3/10 on an exercise: swapped for another of the same direction and knee "
        "position she tolerates; the coach is told which exercise hurt."
    ),
    "strength-too-hard": "Rated too hard: its easier variant, or one step less dose.",
    "strength-too-easy": "Rated too easy twice in a row: its harder variant, or one more step.",
}
RATINGS = ("easy", "right", "hard")
PAIN_LIMIT = 3  # pain above this on an exercise swaps it out
EASY_TIMES = 2
REP_STEP, SECOND_STEP = 2, 10
MIN_REPS, MIN_SECONDS = 4, 10
MAX_REPS, MAX_SECONDS, MAX_SETS = 30, 90, 5


class FeedbackError(ValueError):
    """A feedback entry is malformed."""


@dataclass(frozen=True, slots=True)
class ExerciseFeedback:
    """How one exercise of the session on ``session_date`` felt."""

    session_date: date
    exercise_id: str
    rating: str | None = None  # easy | right | hard
    pain: int | None = None  # 0-10

    def __post_init__(self) -> None:
        if self.rating is not None and self.rating not in RATINGS:
            raise FeedbackError(f"rating must be one of {', '.join(RATINGS)}")
        if self.pain is not None and not 0 <= self.pain <= 10:
            raise FeedbackError("pain is 0 to 10")


def _week_of(plan: Plan, day: date) -> int:
    for week in plan.weeks:
        if week.start_date <= day and (day - week.start_date).days < 7:
            return week.index
    return plan.weeks[-1].index if day > plan.weeks[-1].start_date else plan.weeks[0].index


def _dose_step(item: StrengthItem, up: bool) -> StrengthItem | None:
    """``item`` one step of dose up or down, or None when it is already at the limit."""
    if item.reps is not None:
        reps = item.reps + (REP_STEP if up else -REP_STEP)
        if MIN_REPS <= reps <= MAX_REPS:
            return replace(item, reps=reps)
    elif item.seconds is not None:
        seconds = item.seconds + (SECOND_STEP if up else -SECOND_STEP)
        if MIN_SECONDS <= seconds <= MAX_SECONDS:
            return replace(item, seconds=seconds)
    sets = item.sets + (1 if up else -1)
    if 1 <= sets <= MAX_SETS:
        return replace(item, sets=sets)
    return None


class _Rewriter:
    """Applies one decision to every later, untouched session that has the exercise."""

    def __init__(
        self, plan: Plan, library: Library, pinned: Collection[str], logged: Collection[date]
    ) -> None:
        self.plan = plan
        self.library = library
        self.pinned = frozenset(pinned)
        self.logged = frozenset(logged)
        profile = plan.profile
        self.allowed = {
            ex.id
            for ex in eligible(
                library,
                frozenset(profile.equipment) | {"none"},
                profile.excluded_tags | {"impact"},
            )
        }
        self._substitutes: dict[str, list[Exercise]] = {}

    def rewrite(self, after: date, exercise_id: str, change) -> bool:
        """Replace items of ``exercise_id`` in sessions dated after ``after`` with
        ``change(item, session_ids)`` (None: leave it). True when anything changed."""
        changed = False
        weeks = []
        for week in self.plan.weeks:
            if week.start_date + timedelta(days=6) <= after:
                weeks.append(week)
                continue
            sessions = []
            for s in week.sessions:
                if (
                    s.date <= after
                    or s.date in self.logged
                    or s.coach_edited
                    or not any(i.exercise_id == exercise_id for i in (*s.items, *s.block))
                ):
                    sessions.append(s)
                    continue
                fields = {}
                for name in ("items", "block"):
                    items = getattr(s, name)
                    ids = {i.exercise_id for i in items}
                    new = []
                    for item in items:
                        out = change(item, ids) if item.exercise_id == exercise_id else None
                        new.append(out or item)
                        changed |= out is not None and out != item
                    fields[name] = tuple(new)
                sessions.append(replace(s, **fields))
            weeks.append(replace(week, sessions=tuple(sessions)))
        self.plan = replace(self.plan, weeks=tuple(weeks))
        return changed

    def variant(self, ex: Exercise | None, key: str, avoid: Collection[str]) -> Exercise | None:
        """Its easier/harder variant if she can do it and it keeps the knee position."""
        if ex is None or getattr(ex, key) is None:
            return None
        other = self.library.by_id.get(getattr(ex, key))
        if (
            other is None
            or other.id not in self.allowed
            or other.id in avoid
            or other.knee != ex.knee
            or other.direction != ex.direction
        ):
            return None
        return other

    def substitutes(self, ex: Exercise, avoid: Collection[str]) -> list[Exercise]:
        """Same direction and knee position, hers to do, not hurting: same body position first."""
        found = self._substitutes.get(ex.id)
        if found is None:
            found = self._substitutes[ex.id] = sorted(
                (
                    o
                    for o in self.library.exercises
                    if o.id != ex.id
                    and o.id in self.allowed
                    and o.direction == ex.direction
                    and o.knee == ex.knee
                ),
                key=lambda o: o.position != ex.position,
            )
        return [o for o in found if o.id not in avoid]


def apply_feedback(
    plan: Plan,
    feedback: Iterable[ExerciseFeedback],
    library: Library,
    *,
    pinned: Collection[str] = (),
    logged: Collection[date] = (),
) -> Plan:
    """``plan`` with the feedback rules applied (see the module's docstring), each change added
    to ``plan.changes`` with its rule and each exercise that hurt to ``plan.flags``.

    ``pinned``: exercise ids the coach fixed (no rule changes them; pain on one is still
    flagged). ``logged``: days already logged, never rewritten. Deterministic and idempotent for
    the same inputs (it is applied to the adapted base plan each time)."""
    # One entry per day and exercise: a later one for the same pair supersedes an earlier one.
    latest = {(f.session_date, f.exercise_id): f for f in feedback}
    entries = [latest[k] for k in sorted(latest)]
    if not entries:
        return plan
    rw = _Rewriter(plan, library, pinned, logged)
    hurt: set[str] = set()
    easy: dict[str, int] = {}
    changes: list[Change] = []
    hurt_on: dict[date, list[str]] = {}
    for fb in entries:
        ex = library.by_id.get(fb.exercise_id)
        name = ex.name if ex else fb.exercise_id
        week = _week_of(rw.plan, fb.session_date)
        when = fb.session_date.strftime("%a %d %b")
        if fb.pain is not None and fb.pain > PAIN_LIMIT:
            hurt.add(fb.exercise_id)
            easy.pop(fb.exercise_id, None)
            if fb.exercise_id in rw.pinned or ex is None:
                hurt_on.setdefault(fb.session_date, []).append(
                    f"{name} (pain {fb.pain}/10; pinned by you, left as it is)"
                    if fb.exercise_id in rw.pinned
                    else f"{name} (pain {fb.pain}/10)"
                )
                continue
            chosen: list[str] = []

            def swap(item: StrengthItem, ids: set[str], ex=ex, chosen=chosen):
                for other in rw.substitutes(ex, hurt | ids):
                    chosen.append(other.name)
                    return in_slot(other, item)
                return _dose_step(item, up=False)

            rw.rewrite(fb.session_date, fb.exercise_id, swap)
            instead = chosen[0] if chosen else None
            outcome = f"swapped for {instead}" if instead else "no other fits: eased one step"
            hurt_on.setdefault(fb.session_date, []).append(f"{name} (pain {fb.pain}/10, {outcome})")
            changes.append(
                Change(
                    "strength-pain-swap",
                    week,
                    f"{name} hurt ({fb.pain}/10) on {when}: {outcome} from then on.",
                )  # fmt: skip
            )
            continue
        if fb.exercise_id in rw.pinned or ex is None or fb.rating is None:
            continue
        if fb.rating == "right":
            easy.pop(fb.exercise_id, None)
            continue
        if fb.rating == "easy":
            easy[fb.exercise_id] = easy.get(fb.exercise_id, 0) + 1
            if easy[fb.exercise_id] < EASY_TIMES:
                continue
            easy.pop(fb.exercise_id)
        up = fb.rating == "easy"
        rule = "strength-too-easy" if up else "strength-too-hard"
        other = rw.variant(ex, "harder" if up else "easier", hurt)
        if other is not None:

            def to_variant(item: StrengthItem, ids: set[str], other=other):
                return None if other.id in ids else in_slot(other, item)

            if rw.rewrite(fb.session_date, ex.id, to_variant):
                feel = "easy" if up else "hard"
                summary = f"{name} felt too {feel} on {when}: {other.name} instead from then on."
                changes.append(Change(rule, week, summary))
                continue

        def step(item: StrengthItem, ids: set[str], up=up):
            return _dose_step(item, up=up)

        if rw.rewrite(fb.session_date, ex.id, step):
            more = "one step more" if up else "one step less"
            changes.append(
                Change(
                    rule,
                    week,
                    f"{name} felt too {'easy' if up else 'hard'} on {when}: "
                    f"{more} of it from then on.",
                )  # fmt: skip
            )
    flags = tuple(
        CoachFlag(
            "strength-pain-swap",
            _week_of(rw.plan, day),
            day,
            f"Hurt during hip strength on {day.strftime('%a %d %b')}: {'; '.join(what)}.",
        )
        for day, what in sorted(hurt_on.items())
    )
    return replace(rw.plan, changes=plan.changes + tuple(changes), flags=plan.flags + flags)


__all__ = ["RULES", "ExerciseFeedback", "FeedbackError", "apply_feedback"]

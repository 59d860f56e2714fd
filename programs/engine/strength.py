"""Hip-strength sessions: every direction, both knee positions, all body positions, varied.

Each week has two sessions, A and B. Each one trains all six hip directions with the knee both
straight and bent; together they use standing, lying and sitting moves. Every two weeks ("a
period") each slot moves on to the next exercise of the same direction, which is its harder
variant when the runner owns what it needs. Dose rises by at most one step a week.

The rotation depends only on the library, the equipment and whether knee-loading moves are
excluded, so it is computed once per combination and memoised on the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

from .library import BODY_POSITIONS, DIRECTIONS, KNEE_POSITIONS, Exercise, Library
from .model import StrengthItem

EXCLUDED_WHEN_RESTRICTED = frozenset({"knee_dominant", "impact"})
LOADED = frozenset({"dumbbell", "ankle_weight", "machine"})
MAX_DOSE_STEP = 3
# How many candidates per direction the search looks at; the library has far more than
# enough variety for this to find a valid pair quickly.
_SEARCH_WIDTH = 4

Pick = tuple[Exercise, ...]  # one exercise per direction, in DIRECTIONS order


def eligible(library: Library, equipment: frozenset[str], restricted: bool) -> list[Exercise]:
    """Exercises the runner can do with what they own and their pain allows."""
    return [
        ex
        for ex in library.exercises
        if ex.equipment in equipment and not (restricted and ex.tags & EXCLUDED_WHEN_RESTRICTED)
    ]


def _cycle(exercises: Sequence[Exercise]) -> list[Exercise]:
    """Order one direction's exercises so each is followed by its harder variant when that is
    available: walking the cycle is "progress, then swap for something new"."""
    ids = {ex.id for ex in exercises}
    by_id = {ex.id: ex for ex in exercises}
    out: list[Exercise] = []
    seen: set[str] = set()
    for ex in exercises:
        if ex.id in seen or (ex.easier in ids):
            continue
        cur: Exercise | None = ex
        while cur is not None and cur.id not in seen:
            out.append(cur)
            seen.add(cur.id)
            cur = by_id.get(cur.harder) if cur.harder else None
    out.extend(ex for ex in exercises if ex.id not in seen)
    return out


def _covers_knees(pick: Pick) -> bool:
    return {ex.knee for ex in pick} >= set(KNEE_POSITIONS)


def _candidates(cycle: list[Exercise], start: int, exclude: set[str]) -> list[Exercise]:
    n = len(cycle)
    ordered = [cycle[(start + j) % n] for j in range(n)]
    return [ex for ex in ordered if ex.id not in exclude][:_SEARCH_WIDTH]


class Rotation:
    """Lazily computed sequence of (A, B) picks, one pair per two-week period."""

    def __init__(self, exercises: list[Exercise]) -> None:
        self.cycles = []
        for direction in DIRECTIONS:
            cyc = _cycle([ex for ex in exercises if ex.direction == direction])
            if len(cyc) < 2:
                raise ValueError(f"need at least two eligible {direction} exercises")
            self.cycles.append(cyc)
        self.periods: list[tuple[Pick, Pick]] = []

    def period(self, k: int) -> tuple[Pick, Pick]:
        while len(self.periods) <= k:
            self.periods.append(self._next(len(self.periods)))
        return self.periods[k]

    def _next(self, k: int) -> tuple[Pick, Pick]:
        prev = self.periods[k - 1] if k else None
        a_lists = []
        for i, cyc in enumerate(self.cycles):
            exclude = {prev[0][i].id} if prev else set()
            a_lists.append(_candidates(cyc, k, exclude))
        for a in product(*a_lists):
            # The week boundary can put last period's B right before this period's A.
            if not _covers_knees(a) or (prev and a == prev[1]):
                continue
            b_lists = []
            for i, cyc in enumerate(self.cycles):
                exclude = {a[i].id} | ({prev[1][i].id} if prev else set())
                b_lists.append(_candidates(cyc, k + (len(cyc) + 1) // 2, exclude))
            for b in product(*b_lists):
                positions = {ex.position for ex in a} | {ex.position for ex in b}
                if prev and b == prev[0]:
                    continue
                if _covers_knees(b) and positions >= set(BODY_POSITIONS):
                    return a, b
        raise ValueError("library too small to vary hip work for this equipment")


def rotation(library: Library, equipment: frozenset[str], restricted: bool) -> Rotation:
    key = ("rotation", equipment, restricted)
    rot = library.memo.get(key)
    if rot is None:
        rot = library.memo[key] = Rotation(eligible(library, equipment, restricted))
    return rot


def dose_step(week: int) -> int:
    """Weeks 0 | 1-2 | 3-4 | 5+ -> steps 0..3: one step at most from one week to the next."""
    return min((week + 1) // 2, MAX_DOSE_STEP)


def _item(ex: Exercise, step: int) -> StrengthItem:
    d = ex.dose
    sets = min(d.sets + (1 if step >= 2 else 0), max(d.sets, 3))
    bump = (1 if step >= 1 else 0) + (1 if step >= 3 else 0)
    reps = min(d.reps + 2 * bump, max(d.reps, 20)) if d.reps is not None else None
    seconds = min(d.seconds + 10 * bump, max(d.seconds, 60)) if d.seconds is not None else None
    # Loaded moves get longer rest; body-weight and band moves keep the session short.
    rest = 60 if ex.equipment in LOADED else 30
    return StrengthItem(
        exercise_id=ex.id,
        name=ex.name,
        direction=ex.direction,
        sets=sets,
        reps=reps,
        seconds=seconds,
        per_side=d.per_side,
        rest_seconds=rest,
        cue=ex.cue,
    )


def week_sessions(
    library: Library, equipment: frozenset[str], restricted: bool, week: int
) -> tuple[tuple[StrengthItem, ...], tuple[StrengthItem, ...]]:
    """Items for sessions A and B of plan week ``week`` (0-based)."""
    key = ("items", equipment, restricted, week)
    hit = library.memo.get(key)
    if hit is not None:
        return hit
    a, b = rotation(library, equipment, restricted).period(week // 2)
    step = dose_step(week)
    result = (tuple(_item(ex, step) for ex in a), tuple(_item(ex, step) for ex in b))
    library.memo[key] = result
    return result

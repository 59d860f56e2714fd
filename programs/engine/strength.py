"""Hip-strength sessions: every direction with the knee straight and bent, every position.

Each week has two sessions, A and B, of six exercises each: one per hip direction. For every
direction A and B use opposite knee positions, so each full week covers the coach's whole grid of
twelve cells (six directions x knee straight / bent); together they use standing, lying and
sitting moves. Every two weeks ("a period") each slot moves on to another exercise of the same
direction and knee position, its harder variant when the runner owns what it needs. Dose rises by
at most one step a week. Impact moves (hops, jumps, bounds) never come in the first four weeks,
and only for runners the plan allows them (see ``Profile.impact_ok``).

The rotation depends only on the library, the equipment and the excluded tags, so it is computed
once per combination and memoised on the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

from .library import BODY_POSITIONS, DIRECTIONS, KNEE_POSITIONS, Exercise, Library
from .model import StrengthItem

KNEE_DOMINANT = "knee_dominant"
IMPACT = "impact"
EXCLUDED_WHEN_RESTRICTED = frozenset({KNEE_DOMINANT, IMPACT})
# No hops, jumps or bounds while tendons are still adapting to running again.
IMPACT_FREE_WEEKS = 4
LOADED = frozenset({"dumbbell", "ankle_weight", "machine"})
MAX_DOSE_STEP = 3
# How many candidates per direction the search looks at; the library has far more than
# enough variety for this to find a valid pair quickly.
_SEARCH_WIDTH = 4
# Timing used to state a session's length: a slow rep (about three seconds), a few seconds to
# change sides, and half a minute to set up each exercise.
REP_SECONDS = 3
SWITCH_SECONDS = 10
SETUP_SECONDS = 30

Pick = tuple[Exercise, ...]  # one exercise per direction, in DIRECTIONS order


def eligible(
    library: Library, equipment: frozenset[str], excluded: frozenset[str]
) -> list[Exercise]:
    """Exercises the runner can do with what they own, without the tags her plan leaves out."""
    return [ex for ex in library.exercises if ex.equipment in equipment and not ex.tags & excluded]


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


def covers_grid(a: Pick, b: Pick) -> bool:
    """A and B together train every direction with the knee straight and with it bent."""
    cells = {(ex.direction, ex.knee) for ex in (*a, *b)}
    return len(cells) == len(DIRECTIONS) * len(KNEE_POSITIONS)


class Rotation:
    """Lazily computed sequence of (A, B) picks, one pair per two-week period."""

    def __init__(self, exercises: list[Exercise], impact: bool) -> None:
        safe = [ex for ex in exercises if IMPACT not in ex.tags]
        self.safe = self._cycles(safe)
        self.full = self._cycles(exercises) if impact else self.safe
        self.periods: list[tuple[Pick, Pick]] = []

    @staticmethod
    def _cycles(exercises: list[Exercise]) -> list[list[Exercise]]:
        cycles = []
        for direction in DIRECTIONS:
            cyc = _cycle([ex for ex in exercises if ex.direction == direction])
            if len(cyc) < 2:
                raise ValueError(f"need at least two eligible {direction} exercises")
            cycles.append(cyc)
        return cycles

    def period(self, k: int) -> tuple[Pick, Pick]:
        while len(self.periods) <= k:
            self.periods.append(self._next(len(self.periods)))
        return self.periods[k]

    def _next(self, k: int) -> tuple[Pick, Pick]:
        cycles = self.full if 2 * k >= IMPACT_FREE_WEEKS else self.safe
        # The whole grid every week when the library allows it; otherwise (a coach library
        # with a cell switched off) each session still covers both knee positions.
        found = self._search(k, cycles, grid=True) or self._search(k, cycles, grid=False)
        if found is None:
            raise ValueError("library too small to vary hip work for this equipment")
        return found

    def _search(self, k: int, cycles: list[list[Exercise]], grid: bool) -> tuple[Pick, Pick] | None:
        prev = self.periods[k - 1] if k else None
        a_lists = []
        for i, cyc in enumerate(cycles):
            exclude = {prev[0][i].id} if prev else set()
            a_lists.append(_candidates(cyc, k, exclude))
        for a in product(*a_lists):
            # The week boundary can put last period's B right before this period's A.
            if (prev and a == prev[1]) or (not grid and not _covers_knees(a)):
                continue
            b_lists = []
            for i, cyc in enumerate(cycles):
                exclude = {a[i].id} | ({prev[1][i].id} if prev else set())
                pool = [ex for ex in cyc if not grid or ex.knee != a[i].knee]
                b_lists.append(_candidates(pool, k + (len(pool) + 1) // 2, exclude))
            for b in product(*b_lists):
                positions = {ex.position for ex in a} | {ex.position for ex in b}
                if prev and b == prev[0]:
                    continue
                if not positions >= set(BODY_POSITIONS):
                    continue
                if (grid and covers_grid(a, b)) or (not grid and _covers_knees(b)):
                    return a, b
        return None


def rotation(library: Library, equipment: frozenset[str], excluded: frozenset[str]) -> Rotation:
    key = ("rotation", equipment, excluded)
    rot = library.memo.get(key)
    if rot is None:
        exercises = eligible(library, equipment, excluded)
        rot = library.memo[key] = Rotation(exercises, IMPACT not in excluded)
    return rot


def dose_step(week: int) -> int:
    """Weeks 0 | 1-2 | 3-4 | 5+ -> steps 0..3: one step at most from one week to the next."""
    return min((week + 1) // 2, MAX_DOSE_STEP)


# One exercise, all its sets, fits in a sixth of the half hour a session may take.
MAX_ITEM_SECONDS = 300


def _item(ex: Exercise, step: int) -> StrengthItem:
    """The exercise at dose ``step``, or the highest lower step that keeps it within
    ``MAX_ITEM_SECONDS`` (a property of the exercise, so doses still rise one step at most)."""
    item = _dosed(ex, step)
    while step > 0 and item_seconds(item) > MAX_ITEM_SECONDS:
        step -= 1
        item = _dosed(ex, step)
    return item


def _dosed(ex: Exercise, step: int) -> StrengthItem:
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


def in_slot(ex: Exercise, like: StrengthItem, *, sets: int | None = None) -> StrengthItem:
    """``ex`` in place of ``like``: its own reps or hold and cue, the slot's rest; ``sets`` from
    the caller (the slot's own when not given)."""
    return StrengthItem(
        exercise_id=ex.id,
        name=ex.name,
        direction=ex.direction,
        sets=like.sets if sets is None else sets,
        reps=ex.dose.reps,
        seconds=ex.dose.seconds,
        per_side=ex.dose.per_side,
        rest_seconds=like.rest_seconds,
        cue=ex.cue,
    )


def week_sessions(
    library: Library, equipment: frozenset[str], excluded: frozenset[str], week: int
) -> tuple[tuple[StrengthItem, ...], tuple[StrengthItem, ...]]:
    """Items for sessions A and B of plan week ``week`` (0-based)."""
    key = ("items", equipment, excluded, week)
    hit = library.memo.get(key)
    if hit is not None:
        return hit
    a, b = rotation(library, equipment, excluded).period(week // 2)
    step = dose_step(week)
    result = (tuple(_item(ex, step) for ex in a), tuple(_item(ex, step) for ex in b))
    library.memo[key] = result
    return result


def item_seconds(item: StrengthItem) -> int:
    """How long one prescribed exercise takes: every set (both sides), rests and set-up."""
    work = item.reps * REP_SECONDS if item.reps is not None else item.seconds or 0
    sides = 2 if item.per_side else 1
    per_set = work * sides + (SWITCH_SECONDS if item.per_side else 0)
    return SETUP_SECONDS + item.sets * per_set + (item.sets - 1) * item.rest_seconds


def session_minutes(items: Sequence[StrengthItem]) -> int:
    """A session's length as the runner is told it: rounded up to the next 5 minutes."""
    total = sum(item_seconds(i) for i in items)
    return max(5, -(-total // 300) * 5)

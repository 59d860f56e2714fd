"""Which weekdays carry runs and which carry hip strength.

The pattern repeats every week, so run days are chosen to be non-adjacent *around the week*
(Sunday and Monday count as consecutive): that keeps a rest day between runs across week
boundaries too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import combinations


@dataclass(frozen=True, slots=True)
class WeekTemplate:
    run_days: tuple[int, ...]
    strength_days: tuple[int, ...]
    block_day: int | None  # run day followed by a strength block (3-day runners only)


def runs_per_week(n_days: int) -> int:
    """Fewer training days, fewer runs: 3-4 days -> 2 runs, 5-6 days -> 3 runs."""
    return 2 if n_days <= 4 else 3


def _cyclic_gap(a: int, b: int) -> int:
    d = abs(a - b) % 7
    return min(d, 7 - d)


def _spacing(days: tuple[int, ...]) -> tuple[int, int]:
    """Score a day set: larger smallest gap first, then larger sum of gaps."""
    gaps = [_cyclic_gap(a, b) for a, b in combinations(days, 2)]
    return (min(gaps), sum(gaps)) if gaps else (7, 0)


def _run_days(days: tuple[int, ...], n_runs: int, must: int | None) -> tuple[int, ...] | None:
    best: tuple[int, ...] | None = None
    best_key: tuple[int, int, tuple[int, ...]] | None = None
    for combo in combinations(days, n_runs):
        if must is not None and must not in combo:
            continue
        if any(_cyclic_gap(a, b) < 2 for a, b in combinations(combo, 2)):
            continue
        spacing = _spacing(combo)
        # Deterministic tie-break: prefer earlier weekdays.
        key = (-spacing[0], -spacing[1], combo)
        if best_key is None or key < best_key:
            best, best_key = combo, key
    return best


@cache
def week_template(days: tuple[int, ...], long_run_day: int | None) -> WeekTemplate:
    """Pick run days (spread out, including the long-run day) and two strength days.

    With only three training days, the second strength session becomes a block after the run
    that is furthest from the strength day, so hips still get two sessions a week.
    """
    best = _run_days(days, runs_per_week(len(days)), long_run_day)
    if best is None:
        # The long-run day has no spaced partners (say Mon with Sun and Tue): a rest day
        # between runs matters more than which day the longer run falls on.
        best = _run_days(days, runs_per_week(len(days)), None)
    if best is None:  # pragma: no cover - any 3+ days hold 2 spaced days, any 5+ hold 3
        raise AssertionError(f"no spaced run days in {days}")
    rest = tuple(d for d in days if d not in best)
    if len(days) == 3:
        strength = rest
        block = max(best, key=lambda r: (_cyclic_gap(r, strength[0]), -r))
        return WeekTemplate(best, strength, block)
    # Two strength days, as far apart as possible so the hips recover between them.
    pairs = sorted(
        combinations(rest, 2),
        key=lambda p: (-_cyclic_gap(p[0], p[1]), p),
    )
    return WeekTemplate(best, pairs[0], None)

"""The run/walk ladder and how a runner climbs it.

Each rung is one week's run/walk session. The ladder is built so that, rung to rung, total
running time grows by at most 25% and the longest continuous run never shrinks; the plan then
only has to pick where to enter and how many weeks to spend on each rung.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .model import Segment

WARMUP_SECONDS = 300
COOLDOWN_SECONDS = 300
FIVE_K_METRES = 5000


@dataclass(frozen=True, slots=True)
class Level:
    """One rung: runs of ``runs`` seconds separated by walks of ``walk`` seconds."""

    runs: tuple[int, ...]
    walk: int
    distance_m: int | None = None  # set on the final 5K rung

    @property
    def run_seconds(self) -> int:
        return sum(self.runs)

    @property
    def longest(self) -> int:
        return max(self.runs)

    @property
    def continuous(self) -> bool:
        return len(self.runs) == 1


def _reps(run: int, walk: int, n: int) -> Level:
    return Level((run,) * n, walk)


# 5K time at the easy-jog pace the race arithmetic assumes (13:00 per mile, 3.107 miles).
FIVE_K_SECONDS = 2424

LADDER: tuple[Level, ...] = (
    _reps(30, 90, 8),  # 0:  8 x 30 s jogs; total run 4:00
    _reps(60, 90, 5),  # 1:  5 x 1:00         5:00  (+25%)
    _reps(60, 60, 6),  # 2:  6 x 1:00         6:00  (+20%)
    _reps(90, 60, 5),  # 3:  5 x 1:30         7:30  (+25%)
    _reps(120, 60, 4),  # 4: 4 x 2:00         8:00
    _reps(150, 60, 4),  # 5: 4 x 2:30        10:00  (+25%)
    _reps(180, 60, 4),  # 6: 4 x 3:00        12:00  (+20%)
    _reps(300, 90, 3),  # 7: 3 x 5:00        15:00  (+25%)
    _reps(360, 90, 3),  # 8: 3 x 6:00        18:00  (+20%)
    _reps(450, 60, 3),  # 9: 3 x 7:30        22:30  (+25%)
    _reps(540, 60, 3),  # 10: 3 x 9:00       27:00  (+20%)
    _reps(900, 60, 2),  # 11: 2 x 15:00      30:00
    Level((1200, 600), 60),  # 12: 20:00 + 10:00
    Level((1800,), 0),  # 13: 30:00 without walking: the 0-to-5K goal
    Level((2100,), 0),  # 14: 35:00 (+17%), for runners who already run a 5K
    Level((FIVE_K_SECONDS,), 0, FIVE_K_METRES),  # 15: the full 5K (+15%)
)
THIRTY_MINUTES = 13
FIVE_K = 15


def final_level(ability: str) -> int:
    """Runners who can already run 5K aim at a full 5K; everyone else at 30 minutes."""
    return FIVE_K if ability == "run_5k" else THIRTY_MINUTES


def entry_level(ability: str, run_minutes: int | None, pain_level: int) -> int:
    """Where the runner enters the ladder.

    We start at the highest rung whose longest run is within three quarters of what they can
    run today (room to finish feeling good), one rung lower when pain is 4 or more, and at the
    gentlest rung when pain is above 5.
    """
    if pain_level > 5:
        return 0
    if ability == "walk_only":
        level = 0
    elif ability == "run_5k":
        level = THIRTY_MINUTES
    else:
        budget = (run_minutes or 1) * 60 * 3 // 4
        level = 0
        for i, rung in enumerate(LADDER[: THIRTY_MINUTES + 1]):
            if rung.longest <= budget:
                level = i
    if pain_level >= 4:
        level = max(0, level - 1)
    return level


@cache
def segments_for(level: int, taper: bool = False) -> tuple[Segment, ...]:
    """Warm-up walk, the rung's runs with walks between, cool-down walk.

    A taper session keeps the same rhythm but about half the running, so race week feels easy.
    """
    rung = LADDER[level]
    runs = rung.runs
    distance = rung.distance_m
    if taper:
        distance = None
        runs = runs[: max(1, (len(runs) + 1) // 2)] if len(runs) > 1 else (runs[0] // 2,)
    segs = [Segment("warmup", WARMUP_SECONDS)]
    for i, run in enumerate(runs):
        if i:
            segs.append(Segment("walk", rung.walk))
        segs.append(Segment("run", run, distance))
    segs.append(Segment("cooldown", COOLDOWN_SECONDS))
    return tuple(segs)


def spread_repeats(levels: list[int], slack: int) -> list[int]:
    """Spend ``slack`` spare weeks by repeating rungs, at most once each, spread evenly
    (a repeated week lets tendons catch up with lungs); anything left holds the last rung."""
    if slack <= 0 or not levels:
        return list(levels)
    climbing = levels[:-1]
    repeats = min(slack, len(climbing))
    chosen: set[int] = set()
    if repeats:
        # Evenly spaced positions, biased toward the later, bigger steps.
        n = len(climbing)
        chosen = {n - 1 - (2 * i + 1) * n // (2 * repeats) for i in range(repeats)}
    out: list[int] = []
    for i, lv in enumerate(climbing):
        out.append(lv)
        if i in chosen:
            out.append(lv)
    out.extend([levels[-1]] * (1 + slack - repeats))
    return out

"""Race-day strategy and its pace arithmetic, all in whole seconds (no float drift).

Assumptions, stated to the runner: an easy jog of 13:00 per mile and a brisk walk of 17:30 per
mile, typical for someone finishing a first 0-to-5K block. runDisney sweeps anyone slower than
16:00 per mile, so for runDisney we aim for 15:00 or better, leaving a minute per mile for
crowded corrals and photo stops.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from .model import RaceStrategy
from .progression import LADDER

RUN_PACE = 780  # s/mile, easy jog
WALK_PACE = 1050  # s/mile, brisk walk
RUNDISNEY_LIMIT = 960  # s/mile, the balloon ladies' pace
RUNDISNEY_TARGET = 900  # s/mile, our safety margin under the limit
FIVE_K_MILES = Fraction(3107, 1000)


def clock(seconds: int) -> str:
    """``754 -> '12:34'``; hours shown when needed."""
    h, rem = divmod(int(seconds), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def pace_for(run: int, walk: int) -> Fraction:
    """Average seconds per mile for a run/walk rhythm at the assumed paces."""
    miles = Fraction(run, RUN_PACE) + Fraction(walk, WALK_PACE)
    return Fraction(run + walk) / miles


def _round(x: Fraction) -> int:
    return int(x + Fraction(1, 2))


def race_strategy(race_type: str, race_date: date, level: int, reached_goal: bool) -> RaceStrategy:
    """Strategy for the race given the last rung trained (``level``).

    A runner who reached 30 non-stop minutes runs it continuously. Otherwise they race with the
    run/walk rhythm they have practised, shortening the walks only as far as runDisney's pace
    limit requires.
    """
    disney = race_type == "rundisney"
    limit_note = ""
    if reached_goal:
        pace = Fraction(RUN_PACE)
        finish = _round(pace * FIVE_K_MILES)
        summary = (
            "Run it without walking at an easy, chatty pace. If you need a breather, a one-minute "
            "walk is fine and still well on pace."
        )
        arithmetic = (
            f"At an easy jog of about {clock(RUN_PACE)} per mile, 3.1 miles takes about "
            f"{clock(finish)}."
        )
        run, walk = None, None
    else:
        rung = LADDER[level]
        run = rung.runs[0]
        walk = rung.walk or 60
        if disney:
            # Shorten walks in 15-second steps until the rhythm holds our target pace.
            while walk > 15 and pace_for(run, walk) > RUNDISNEY_TARGET:
                walk -= 15
        pace = pace_for(run, walk)
        finish = _round(pace * FIVE_K_MILES)
        summary = (
            f"Race with the rhythm you trained: run {clock(run)}, walk {clock(walk)}, from the "
            "very first minute, even when the crowd pulls you along. Walk breaks taken early "
            "are what keep you strong at the end."
        )
        arithmetic = (
            f"Assuming an easy jog of {clock(RUN_PACE)} per mile and a brisk walk of "
            f"{clock(WALK_PACE)} per mile, run {clock(run)} / walk {clock(walk)} averages about "
            f"{clock(_round(pace))} per mile, so 3.1 miles takes about {clock(finish)}."
        )
        if walk < (rung.walk or 60):
            summary += " The walks are a little shorter than in training to stay on pace."
    holds = None
    if disney:
        holds = _round(pace) <= RUNDISNEY_LIMIT
        limit = _round(RUNDISNEY_LIMIT * FIVE_K_MILES)
        if holds:
            limit_note = (
                f" runDisney asks for 16:00 per mile ({clock(limit)} for the 5K); this holds it "
                f"with about {clock(limit - finish)} to spare."
            )
        else:
            limit_note = (
                " That is slower than runDisney's 16:00 per mile; your coach will talk through "
                "options with you."
            )
    return RaceStrategy(
        race_type=race_type,
        race_date=race_date,
        continuous=reached_goal,
        run_seconds=run,
        walk_seconds=walk,
        assumed_run_pace=RUN_PACE,
        assumed_walk_pace=WALK_PACE,
        expected_pace=_round(pace),
        expected_finish_seconds=finish,
        holds_16_min_mile=holds,
        summary=summary,
        arithmetic=arithmetic + limit_note,
    )

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


# Run/walk rhythms a beginner can hold (Jeff Galloway's ratios), from most running to least.
# When training time is short the race walks more, never the other way round.
RHYTHMS: tuple[tuple[int, int], ...] = (
    (900, 60),
    (600, 60),
    (540, 60),
    (480, 60),
    (450, 60),
    (360, 60),
    (300, 60),
    (240, 60),
    (180, 60),
    (150, 60),
    (120, 60),
    (90, 60),
    (60, 60),
    (30, 30),
    (30, 60),
    (30, 90),
    (30, 120),
    (30, 180),
    (30, 240),
    (30, 300),
)
# The dress rehearsal covers at least this share of the race's expected time, in its rhythm.
REHEARSAL_SHARE = Fraction(4, 5)
# Race-day running is at most this multiple of the most running done in one session.
RACE_RUN_MULTIPLE = Fraction(5, 4)


def finish_seconds(run: int | None, walk: int | None) -> int:
    """Expected 5K time for a rhythm (``run`` None: running all the way)."""
    pace = Fraction(RUN_PACE) if run is None else pace_for(run, walk or 0)
    return _round(pace * FIVE_K_MILES)


def rhythm_running(run: int | None, walk: int | None, seconds: int) -> int:
    """Seconds of running in the first ``seconds`` of a rhythm."""
    if run is None or not walk:
        return seconds
    cycles, rest = divmod(seconds, run + walk)
    return cycles * run + min(rest, run)


def rehearsal_seconds(run: int | None, walk: int | None) -> int:
    """Length of the dress rehearsal: at least ``REHEARSAL_SHARE`` of the race's time, and long
    enough that race day holds at most ``RACE_RUN_MULTIPLE`` times its running."""
    finish = finish_seconds(run, walk)
    race_running = rhythm_running(run, walk, finish)
    seconds = -(-finish * REHEARSAL_SHARE.numerator // REHEARSAL_SHARE.denominator)
    while rhythm_running(run, walk, seconds) * RACE_RUN_MULTIPLE < race_running:
        seconds += 15
    if run is not None and walk:
        # Stop at the end of a run or a whole walk, never a few seconds into one.
        cycle = run + walk
        if seconds % cycle > run:
            seconds += cycle - seconds % cycle
    return seconds


def choose_rhythm(
    longest_done: int, running_cap: int, trained: tuple[int, int] | None
) -> tuple[int | None, int | None, bool]:
    """The race rhythm with the most running whose rehearsal fits what training allows: no run
    interval longer than she has run (a continuous race only if its rehearsal lengthens her
    longest run by a quarter at most), and rehearsal running within ``running_cap``.

    Returns (run, walk, fits); ``run`` None means running all the way. ``fits`` is False only
    when even the most walking rhythm asks for more than ``running_cap`` (then that rhythm)."""
    options: list[tuple[int | None, int | None]] = [(None, None)]
    rhythms = set(RHYTHMS) | ({trained} if trained else set())
    options += sorted(rhythms, key=lambda rw: (-Fraction(rw[0], rw[0] + rw[1]), -rw[0]))
    for run, walk in options:
        seconds = rehearsal_seconds(run, walk)
        if run is None:
            if seconds * 4 > longest_done * 5:
                continue
        elif run > longest_done:
            continue
        if rhythm_running(run, walk, seconds) <= running_cap:
            return run, walk, True
    run, walk = RHYTHMS[-1]
    return run, walk, False


def race_strategy(
    race_type: str, race_date: date, run: int | None, walk: int | None
) -> RaceStrategy:
    """The race at the rhythm ``choose_rhythm`` picked, with its pace arithmetic and, for
    runDisney, whether it holds 16:00 per mile said in plain words."""
    disney = race_type == "rundisney"
    finish = finish_seconds(run, walk)
    if run is None:
        pace = Fraction(RUN_PACE)
        summary = (
            "Run it without walking at an easy, chatty pace: you ran most of this distance at "
            "your dress rehearsal. If you need a breather, a one-minute walk is fine."
        )
        arithmetic = (
            f"At an easy jog of about {clock(RUN_PACE)} per mile, 3.1 miles takes about "
            f"{clock(finish)}."
        )
    else:
        walk = walk or 0
        pace = pace_for(run, walk)
        summary = (
            f"Race with the rhythm you rehearsed: run {clock(run)}, walk {clock(walk)}, from the "
            "very first minute, even when the crowd pulls you along. Walk breaks taken early "
            "are what keep you strong at the end."
        )
        arithmetic = (
            f"Assuming an easy jog of {clock(RUN_PACE)} per mile and a brisk walk of "
            f"{clock(WALK_PACE)} per mile, run {clock(run)} / walk {clock(walk)} averages about "
            f"{clock(_round(pace))} per mile, so 3.1 miles takes about {clock(finish)}."
        )
    holds = None
    limit_note = ""
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
                f" That is slower than runDisney's 16:00 per mile ({clock(limit)} for the 5K): "
                "there isn't enough training time before this race to run more of it safely. "
                "Your coach knows and will talk through options with you, such as a later race."
            )
    return RaceStrategy(
        race_type=race_type,
        race_date=race_date,
        continuous=run is None,
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

"""What the runner reads: session titles and the one-line "why" under each.

Written the way the coach talks to a client: short, warm, concrete, no jargon. Lines rotate by
week so the same sentence does not greet the runner every single day.
"""

from __future__ import annotations

from datetime import date

from .progression import FIVE_K, LADDER, THIRTY_MINUTES
from .race import clock

DIRECTION_WORDS = {
    "flexion": "forward",
    "extension": "back",
    "abduction": "out to the side",
    "adduction": "in toward the other leg",
    "external_rotation": "rotating out",
    "internal_rotation": "rotating in",
}

PAIN_WORDS = {
    "knee": "knee",
    "shin": "shin",
    "hip": "hip",
    "it_band": "IT band",
    "foot": "foot",
}


def _minutes(seconds: int) -> str:
    if seconds % 60 == 0:
        m = seconds // 60
        return f"{m} minute" + ("" if m == 1 else "s")
    if seconds < 60:
        return f"{seconds} seconds"
    return clock(seconds)


def run_title(level: int, taper: bool = False) -> str:
    rung = LADDER[level]
    if taper:
        return "Easy shake-out run/walk"
    if level == FIVE_K:
        return "Run 5K without walking"
    if rung.continuous:
        return f"Run {_minutes(rung.longest)} without walking"
    if len(set(rung.runs)) == 1:
        return f"Run/walk: {len(rung.runs)} x {_minutes(rung.longest)} running"
    return "Run/walk: " + " + ".join(_minutes(r) for r in rung.runs) + " running"


def run_why(phase: str, level: int, week: int, pain_area: str) -> str:
    """``phase`` is first | new | repeat | hold | goal | taper | eased | repeated."""
    rung = LADDER[level]
    sore = PAIN_WORDS.get(pain_area)
    if phase == "first":
        line = (
            "We start where you are today, not at square one. Finish feeling you could have "
            "done a little more: that is exactly the right spot."
        )
        if sore:
            line += f" If your {sore} goes above 3 out of 10, walk the rest and log it."
        return line
    if phase == "goal":
        if level == FIVE_K:
            return "A full 5K without walking. Start slower than feels necessary and enjoy it."
        return (
            "This is the one you've been building to: 30 minutes without walking. Start slower "
            "than feels necessary; slow is how you finish."
        )
    if phase == "hold":
        if level >= THIRTY_MINUTES:
            return [
                "You can do this now. Keep it easy and steady; this week is about owning it.",
                "Same distance, less effort: notice how much easier it feels than it did.",
            ][week % 2]
        return "Holding this step until race week, so your legs arrive rested and sure of it."
    if phase == "repeat":
        return (
            "Same as last week, on purpose. A second week on a step gives your muscles and "
            "tendons time to catch up with your lungs."
        )
    if phase == "repeated":
        return (
            "We're repeating last week's step, based on what you logged. Nothing is lost; "
            "this is how the plan keeps you running."
        )
    if phase == "eased":
        return (
            "We've eased back one step after the pain you logged, and your coach knows. "
            "Easy effort today; pain should stay at 2 out of 10 or lower."
        )
    if phase == "taper":
        return "Shorter on purpose. Fresh legs on race day matter more than one more hard workout."
    if rung.continuous:
        return f"New step: {_minutes(rung.longest)} without a break. Go slow enough to chat."
    return [
        f"New step: runs of {_minutes(rung.longest)}. Keep them easy enough to talk; the walks "
        "are part of the plan, not a failure.",
        f"A little more running this week ({_minutes(rung.longest)} at a time). If breathing "
        "gets hard, slow the jog down rather than cutting it short.",
    ][week % 2]


def race_title(race_type: str) -> str:
    return "Race day: your runDisney 5K" if race_type == "rundisney" else "Race day: your 5K"


RACE_WHY = (
    "Race day! Warm up with an easy walk, stick to your plan from the first minute, and enjoy "
    "it: you earned this."
)


def strength_title(which: str, block: bool = False) -> str:
    return "Hip strength after your run" if block else f"Hip strength {which}"


def strength_why(which: str, week: int, pain_area: str) -> str:
    sore = PAIN_WORDS.get(pain_area)
    if which == "A" and week == 0:
        if pain_area == "knee":
            return (
                "Your hips decide where your knee lands with every step. We train them in all "
                "six directions instead of loading a sore knee with squats and lunges."
            )
        return (
            "Your hips place your leg under you with every step, so we train them in every "
            "direction they move: forward, back, out, in, and rotating both ways."
        )
    if week % 2 == 0 and which == "A":
        return "New moves this fortnight: variety keeps your hips adapting, and keeps it fun."
    if which == "B" and sore:
        return (
            f"Stronger hips take strain off your {sore}. Move slowly, and stop any exercise "
            "that sharpens the pain."
        )
    return [
        "Slow and controlled beats fast and heavy. The last few reps should feel like work.",
        "Lying, sitting and standing moves, knee straight and bent: every angle your hip uses.",
    ][(week + (which == "B")) % 2]


BLOCK_WHY = "Afterwards, while you're warm: hip work in every direction, about 15 minutes."


def short_date(d: date) -> str:
    """A day as the coach reads it in a flag or a note: "Mon 4 Mar"."""
    return d.strftime("%a %-d %b")

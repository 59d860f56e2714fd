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


def level_words(level: int) -> str:
    """A step of the plan as the runner knows it: "runs of 2 minutes", "30 minutes without
    walking"."""
    rung = LADDER[level]
    if level == FIVE_K:
        return "a 5K without walking"
    if rung.continuous:
        return f"{_minutes(rung.longest)} without walking"
    if len(set(rung.runs)) > 1:
        return "runs of " + " and ".join(_minutes(r) for r in rung.runs)
    return f"runs of {_minutes(rung.longest)}"


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


def pain_guide(pain_area: str) -> str:
    """The pain-monitoring model in her words: the same whatever pain she starts with."""
    sore = PAIN_WORDS.get(pain_area)
    where = f"in your {sore} " if sore else ""
    return (
        f"Pain {where}up to 3 out of 10 is fine; 4 or 5 is acceptable if it has settled by "
        "next morning; above 5, stop, walk home and tell your coach."
    )


def run_why(
    phase: str, level: int, week: int, pain_area: str, pain_level: int = 0, because: str = ""
) -> str:
    """``phase`` is first | new | repeat | hold | goal | taper | eased | repeated; for the
    last two, ``because`` says what she logged that led here (see ``adapt``)."""
    rung = LADDER[level]
    sore = PAIN_WORDS.get(pain_area)
    if phase == "first":
        if pain_level > 5:
            line = (
                "We start at the gentlest step because of the pain you told us about, and your "
                "coach will check in with you. Finish feeling you could have done more."
            )
        else:
            line = (
                "We start where you are today, not at square one. Finish feeling you could "
                "have done a little more: that is exactly the right spot."
            )
        if sore or pain_level:
            line += " " + pain_guide(pain_area)
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
        return f"{because} Nothing is lost; this is how the plan keeps you running.".strip()
    if phase == "eased":
        return f"{because} Easy effort today. {pain_guide(pain_area)}".strip()
    if phase == "taper":
        return "Shorter on purpose. Fresh legs on race day matter more than one more hard workout."
    if rung.continuous:
        return f"New step: {_minutes(rung.longest)} without a break. Go slow enough to chat."
    if len(set(rung.runs)) > 1:
        return (
            f"New step: {level_words(level)}, a short walk between. Keep them easy enough to "
            "talk; the walk is part of the plan, not a failure."
        )
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


def strength_title(which: str, minutes: int | None = None) -> str:
    title = f"Hip strength {which}"
    return f"{title} (about {minutes} minutes)" if minutes else title


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


def block_why(minutes: int) -> str:
    return (
        "Afterwards, while you're warm: hip work in every direction, knee straight and bent, "
        f"about {minutes} minutes."
    )


def rehearsal_title(seconds: int) -> str:
    return f"Dress rehearsal: your race rhythm for {round(seconds / 60)} minutes"


def rehearsal_why(run: int | None, walk: int | None, race: date) -> str:
    rhythm = "running all the way" if run is None else f"run {clock(run)}, walk {clock(walk or 0)}"
    return (
        f"Race day, rehearsed: {rhythm}, just as you will on {short_date(race)}, for most of the "
        "race's length. Easy pace; on race day this will feel familiar."
    )


def taper_note(race: date, note: str | None = None) -> str:
    line = (
        f"Lighter on purpose: your race is on {short_date(race)}, so this week holds less "
        "running and the day before it stays free."
    )
    return f"{note} {line}" if note else line


def short_date(d: date) -> str:
    """A day as the coach reads it in a flag or a note: "Mon 4 Mar"."""
    return d.strftime("%a %-d %b")

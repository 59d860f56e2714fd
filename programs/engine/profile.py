"""The runner's profile: everything the engine needs, validated with a message per field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .library import EQUIPMENT

ABILITIES: tuple[str, ...] = ("walk_only", "run_minutes", "run_5k")
PAIN_AREAS: tuple[str, ...] = ("knee", "shin", "hip", "it_band", "foot", "none")
RACE_TYPES: tuple[str, ...] = ("5k", "rundisney")
WEEKDAY_NAMES: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# A plan is a few months of coaching, not a year-round schedule; further races get a plan
# later, when they are closer.
MAX_RACE_LEAD = timedelta(days=366)
# Two weeks is the least a plan needs to rehearse race day 8-14 days out and then taper.
MIN_RACE_LEAD = timedelta(days=14)
# Pain above this at intake: the coach hears at once and the plan starts at its gentlest step.
HIGH_PAIN = 5
# Impact moves (hops, jumps, bounds) only for pain-free runners up to this age.
IMPACT_MAX_AGE = 50


class ProfileError(ValueError):
    """Invalid profile; ``messages`` maps each bad field to a sentence a form can show."""

    def __init__(self, messages: Mapping[str, str]) -> None:
        self.messages = dict(messages)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.messages.items())))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Profile:
    """What the runner told us at intake. Construct directly or via ``from_dict``; both
    validate. ``days`` is stored sorted, and ``equipment`` always contains ``"none"``."""

    ability: str
    days: tuple[int, ...]
    start_date: date
    run_minutes: int | None = None
    long_run_day: int | None = None
    equipment: frozenset[str] = frozenset({"none"})
    pain_area: str = "none"
    pain_level: int = 0
    race_date: date | None = None
    race_type: str | None = None
    age: int | None = None

    def __post_init__(self) -> None:
        # Normalise before validating so equal intents compare (and serialise) equal.
        if isinstance(self.days, Iterable) and not isinstance(self.days, str | bytes):
            days = tuple(self.days)
            if all(_is_int(d) for d in days):
                object.__setattr__(self, "days", tuple(sorted(days)))
        if isinstance(self.equipment, Iterable) and not isinstance(self.equipment, str | bytes):
            object.__setattr__(self, "equipment", frozenset(self.equipment) | {"none"})
        if self.race_date is not None and self.race_type is None:
            object.__setattr__(self, "race_type", "5k")
        errors = self._errors()
        if errors:
            raise ProfileError(errors)

    def _errors(self) -> dict[str, str]:
        e: dict[str, str] = {}
        if self.ability not in ABILITIES:
            e["ability"] = "Choose walk only, run for some minutes, or run 5K."
        if self.ability == "run_minutes":
            if not _is_int(self.run_minutes) or not 1 <= self.run_minutes <= 60:
                e["run_minutes"] = "How many minutes can you run without stopping? 1 to 60."
        elif self.run_minutes is not None:
            e["run_minutes"] = "Only needed when you can run for some minutes."
        if (
            not isinstance(self.days, tuple)
            or not all(_is_int(d) and 0 <= d <= 6 for d in self.days)
            or len(set(self.days)) != len(self.days)
        ):
            e["days"] = "Pick different weekdays (Monday to Sunday)."
        elif not 3 <= len(self.days) <= 6:
            e["days"] = "Pick 3 to 6 days a week; at least one day stays for rest."
        if self.long_run_day is not None and (
            not _is_int(self.long_run_day) or self.long_run_day not in self.days
        ):
            e["long_run_day"] = "Your longer-run day must be one of your training days."
        if not isinstance(self.equipment, frozenset) or not self.equipment <= set(EQUIPMENT):
            e["equipment"] = "Equipment can be: " + ", ".join(EQUIPMENT) + "."
        if self.pain_area not in PAIN_AREAS:
            e["pain_area"] = "Choose knee, shin, hip, IT band, foot, or none."
        if not _is_int(self.pain_level) or not 0 <= self.pain_level <= 10:
            e["pain_level"] = "Pain is a number from 0 (none) to 10 (worst)."
        if not isinstance(self.start_date, date):
            e["start_date"] = "Pick the date you want to start."
        if self.race_date is not None:
            if not isinstance(self.race_date, date):
                e["race_date"] = "Race date must be a date."
            elif isinstance(self.start_date, date):
                if self.race_date <= self.start_date:
                    e["race_date"] = "The race must be after your start date."
                elif self.race_date - self.start_date < MIN_RACE_LEAD:
                    e["race_date"] = (
                        "The race must be at least two weeks after your start date, so there "
                        "is time to rehearse it and rest before it."
                    )
                elif self.race_date - self.start_date > MAX_RACE_LEAD:
                    e["race_date"] = "That race is over a year away; plan it closer to the day."
        if self.race_type is not None and self.race_type not in RACE_TYPES:
            e["race_type"] = "Race type is a 5K or a runDisney 5K."
        elif self.race_type is not None and self.race_date is None:
            e["race_date"] = "Add the race date so the plan can build toward it."
        if self.age is not None and (not _is_int(self.age) or not 13 <= self.age <= 100):
            e["age"] = "Age must be between 13 and 100."
        return e

    @property
    def restricted(self) -> bool:
        """Knee-dominant and impact moves are left out for a sore knee or real pain."""
        return self.pain_area == "knee" or self.pain_level > 3

    @property
    def impact_ok(self) -> bool:
        """Hops, jumps and bounds (after the first four weeks) only for a runner with no pain
        area, pain 2/10 or less, and an age up to ``IMPACT_MAX_AGE`` (or not given)."""
        return (
            self.pain_area == "none"
            and self.pain_level <= 2
            and (self.age is None or self.age <= IMPACT_MAX_AGE)
        )

    @property
    def excluded_tags(self) -> frozenset[str]:
        """Exercise tags her plan never uses: knee-dominant moves for a sore knee or pain
        above 3/10, impact moves unless ``impact_ok``."""
        tags = set()
        if self.restricted:
            tags.add("knee_dominant")
        if self.restricted or not self.impact_ok:
            tags.add("impact")
        return frozenset(tags)

    @property
    def high_pain(self) -> bool:
        return self.pain_level > HIGH_PAIN

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Profile:
        """Parse a JSON/form-shaped dict (dates as ISO strings). Collects every field error."""
        errors: dict[str, str] = {}
        known = {f for f in cls.__dataclass_fields__}
        for key in sorted(set(data) - known):
            errors[key] = "Unknown field."

        def parse_date(key: str, required: bool) -> date | None:
            value = data.get(key)
            if value is None or value == "":
                if required:
                    errors[key] = "This date is required."
                return None
            if isinstance(value, date):
                return value
            try:
                return date.fromisoformat(str(value))
            except ValueError:
                errors[key] = "Use a date like 2025-03-01."
                return None

        start = parse_date("start_date", True)
        race = parse_date("race_date", False)
        for key in ("ability", "days"):
            if key not in data:
                errors[key] = "This field is required."
        days = data.get("days", ())
        equipment = data.get("equipment", ("none",))
        if isinstance(days, str) or not isinstance(days, Iterable):
            errors["days"] = "Pick different weekdays (Monday to Sunday)."
            days = ()
        if isinstance(equipment, str) or not isinstance(equipment, Iterable):
            errors["equipment"] = "Equipment must be a list."
            equipment = ("none",)
        if errors:
            raise ProfileError(errors)
        try:
            return cls(
                ability=data["ability"],
                days=tuple(days),
                start_date=start,  # type: ignore[arg-type]
                run_minutes=data.get("run_minutes"),
                long_run_day=data.get("long_run_day"),
                equipment=frozenset(equipment),
                pain_area=data.get("pain_area", "none"),
                pain_level=data.get("pain_level", 0),
                race_date=race,
                race_type=data.get("race_type"),
                age=data.get("age"),
            )
        except TypeError as exc:  # unhashable equipment items and the like
            message = f"Could not read the equipment list ({exc})."
            raise ProfileError({"equipment": message}) from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``Profile.from_dict(p.to_dict()) == p``."""
        return {
            "ability": self.ability,
            "run_minutes": self.run_minutes,
            "days": list(self.days),
            "long_run_day": self.long_run_day,
            "equipment": sorted(self.equipment),
            "pain_area": self.pain_area,
            "pain_level": self.pain_level,
            "start_date": self.start_date.isoformat(),
            "race_date": self.race_date.isoformat() if self.race_date else None,
            "race_type": self.race_type,
            "age": self.age,
        }

"""The hip-exercise library: plain data in ``exercises.yaml``, validated into frozen objects.

The coach adds exercises through a form, so every check names the field it is about and
``validate_exercise`` is the one entry point the form and the YAML loader share.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

DIRECTIONS: tuple[str, ...] = (
    "flexion",
    "extension",
    "abduction",
    "adduction",
    "external_rotation",
    "internal_rotation",
)
KNEE_POSITIONS: tuple[str, ...] = ("straight", "bent")
BODY_POSITIONS: tuple[str, ...] = ("standing", "lying", "sitting")
EQUIPMENT: tuple[str, ...] = ("none", "band", "dumbbell", "ankle_weight", "machine")
KNOWN_TAGS: frozenset[str] = frozenset({"knee_dominant", "impact"})

DEFAULT_PATH = Path(__file__).with_name("exercises.yaml")

_FIELDS = (
    "id",
    "name",
    "instructions",
    "cue",
    "direction",
    "knee",
    "position",
    "equipment",
    "dose",
    "tags",
    "easier",
    "harder",
)


class LibraryError(ValueError):
    """An exercise (or the library as a whole) is invalid; ``field`` names what to fix.

    ``problems`` holds every problem found at once (``validate_exercise`` checks all the fields
    so a form can mark each); ``message``, ``exercise_id`` and ``field`` are the first one's."""

    def __init__(
        self, message: str, exercise_id: str | None = None, field: str | None = None
    ) -> None:
        where = " / ".join(p for p in (exercise_id, field) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.exercise_id = exercise_id
        self.field = field
        self.problems: tuple[LibraryError, ...] = (self,)

    @classmethod
    def all_of(cls, problems: Sequence[LibraryError]) -> LibraryError:
        """One error for ``problems`` (at least one): it reads as the first and lists them all."""
        if len(problems) == 1:
            return problems[0]
        first = problems[0]
        error = cls(first.message, first.exercise_id, first.field)
        error.args = ("; ".join(str(p) for p in problems),)
        error.problems = tuple(problems)
        return error


@dataclass(frozen=True, slots=True)
class Dose:
    """Starting dose: ``sets`` of either ``reps`` or a hold of ``seconds``."""

    sets: int
    reps: int | None
    seconds: int | None
    per_side: bool


@dataclass(frozen=True, slots=True)
class Exercise:
    id: str
    name: str
    instructions: str
    cue: str
    direction: str
    knee: str
    position: str
    equipment: str
    dose: Dose
    tags: frozenset[str] = field(default_factory=frozenset)
    easier: str | None = None
    harder: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The exercise as ``exercises.yaml`` spells it (what ``validate_exercise`` takes)."""
        dose: dict[str, Any] = {"sets": self.dose.sets, "per_side": self.dose.per_side}
        if self.dose.reps is not None:
            dose["reps"] = self.dose.reps
        if self.dose.seconds is not None:
            dose["seconds"] = self.dose.seconds
        return {
            "id": self.id,
            "name": self.name,
            "instructions": self.instructions,
            "cue": self.cue,
            "direction": self.direction,
            "knee": self.knee,
            "position": self.position,
            "equipment": self.equipment,
            "dose": dose,
            "tags": sorted(self.tags),
            "easier": self.easier,
            "harder": self.harder,
        }


def _text(raw: Mapping[str, Any], key: str, ex_id: str | None, *, max_len: int) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LibraryError("is required and must be text", exercise_id=ex_id, field=key)
    value = value.strip()
    if len(value) > max_len:
        raise LibraryError(f"must be at most {max_len} characters", exercise_id=ex_id, field=key)
    return value


def _choice(raw: Mapping[str, Any], key: str, ex_id: str | None, allowed: tuple[str, ...]) -> str:
    value = raw.get(key)
    if value not in allowed:
        raise LibraryError(
            f"must be one of {', '.join(allowed)} (got {value!r})", exercise_id=ex_id, field=key
        )
    return value


def _count(raw: Mapping[str, Any], key: str, ex_id: str | None, lo: int, hi: int) -> int:
    value = raw.get(key)
    # bool is an int subclass; "reps: yes" in YAML must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise LibraryError(
            f"must be a whole number from {lo} to {hi}", exercise_id=ex_id, field=f"dose.{key}"
        )
    return value


def _slug(value: Any, key: str, ex_id: str | None) -> str:
    ok = (
        isinstance(value, str)
        and 0 < len(value) <= 64
        and all(c.islower() or c.isdigit() or c == "-" for c in value)
        and value[0].isalnum()
    )
    if not ok:
        raise LibraryError(
            "must be a slug: lowercase letters, digits and dashes", exercise_id=ex_id, field=key
        )
    return value


T = TypeVar("T")


class _Problems(list[LibraryError]):
    """The problems found so far in one exercise, so every field is checked and all reported."""

    def check(self, validate: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``validate(*args, **kwargs)``, or None with its problems noted."""
        try:
            return validate(*args, **kwargs)
        except LibraryError as exc:
            self.extend(exc.problems)
            return None

    def raise_any(self) -> None:
        if self:
            raise LibraryError.all_of(self)


def validate_exercise(raw: Mapping[str, Any]) -> Exercise:
    """Validate one exercise dict (YAML entry or admin form) and return an ``Exercise``.

    Raises ``LibraryError`` naming the first bad field, with every bad field in its
    ``problems`` (checked in a fixed order, so the first is the same whatever else is wrong).
    Links (easier/harder) are only checked for shape here; whether they point anywhere is a
    library-level check.
    """
    if not isinstance(raw, Mapping):
        raise LibraryError("each exercise must be a mapping of fields")
    problems = _Problems()
    ex_id = problems.check(_slug, raw.get("id"), "id", None)
    for key in sorted(set(raw) - set(_FIELDS)):
        problems.append(LibraryError("is not a known field", exercise_id=ex_id, field=key))
    dose = problems.check(_dose, raw.get("dose"), ex_id)
    tags = problems.check(_tags, raw.get("tags") or [], ex_id)
    links = {}
    for key in ("easier", "harder"):
        value = raw.get(key)
        links[key] = None if value is None else problems.check(_slug, value, key, ex_id)
        if links[key] is not None and links[key] == ex_id:
            problems.append(
                LibraryError("cannot point to the exercise itself", exercise_id=ex_id, field=key)
            )
    name = problems.check(_text, raw, "name", ex_id, max_len=80)
    instructions = problems.check(_text, raw, "instructions", ex_id, max_len=400)
    cue = problems.check(_text, raw, "cue", ex_id, max_len=160)
    direction = problems.check(_choice, raw, "direction", ex_id, DIRECTIONS)
    knee = problems.check(_choice, raw, "knee", ex_id, KNEE_POSITIONS)
    position = problems.check(_choice, raw, "position", ex_id, BODY_POSITIONS)
    equipment = problems.check(_choice, raw, "equipment", ex_id, EQUIPMENT)
    problems.raise_any()
    return Exercise(
        id=ex_id,
        name=name,
        instructions=instructions,
        cue=cue,
        direction=direction,
        knee=knee,
        position=position,
        equipment=equipment,
        dose=dose,
        tags=tags,
        easier=links["easier"],
        harder=links["harder"],
    )


def _dose(raw: Any, ex_id: str | None) -> Dose:
    if not isinstance(raw, Mapping):
        raise LibraryError("is required: {sets, reps or seconds, per_side}", ex_id, field="dose")
    problems = _Problems()
    sets = problems.check(_count, raw, "sets", ex_id, 1, 5)
    reps = seconds = None
    if ("reps" in raw) == ("seconds" in raw):
        problems.append(
            LibraryError("give exactly one of reps or seconds", exercise_id=ex_id, field="dose")
        )
    elif "reps" in raw:
        reps = problems.check(_count, raw, "reps", ex_id, 1, 30)
    else:
        seconds = problems.check(_count, raw, "seconds", ex_id, 5, 120)
    per_side = raw.get("per_side")
    if not isinstance(per_side, bool):
        problems.append(
            LibraryError("must be true or false", exercise_id=ex_id, field="dose.per_side")
        )
    problems.raise_any()
    return Dose(sets=sets, reps=reps, seconds=seconds, per_side=per_side)


def _tags(raw: Any, ex_id: str | None) -> frozenset[str]:
    if not isinstance(raw, list | tuple | set | frozenset) or not all(
        isinstance(t, str) for t in raw
    ):
        raise LibraryError("must be a list of words", exercise_id=ex_id, field="tags")
    bad_tags = sorted(set(raw) - KNOWN_TAGS)
    if bad_tags:
        raise LibraryError(
            f"unknown tag {bad_tags[0]!r}; known: {', '.join(sorted(KNOWN_TAGS))}",
            exercise_id=ex_id,
            field="tags",
        )
    return frozenset(raw)


@dataclass(frozen=True)
class Library:
    """An ordered, validated set of exercises. Order is the YAML order and is part of the
    engine's determinism: the rotation walks exercises in this order."""

    exercises: tuple[Exercise, ...]
    by_id: Mapping[str, Exercise] = field(init=False, repr=False, compare=False)
    # Per-library memo for derived data (strength rotations); never part of equality.
    memo: dict[Any, Any] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Exercise] = {}
        for ex in self.exercises:
            if ex.id in by_id:
                raise LibraryError("appears twice", exercise_id=ex.id, field="id")
            by_id[ex.id] = ex
        object.__setattr__(self, "by_id", by_id)
        object.__setattr__(self, "memo", {})
        for ex in self.exercises:
            for key, back in (("easier", "harder"), ("harder", "easier")):
                target = getattr(ex, key)
                if target is None:
                    continue
                if target not in by_id:
                    raise LibraryError(f"points to unknown id {target!r}", ex.id, field=key)
                if getattr(by_id[target], back) != ex.id:
                    raise LibraryError(
                        f"{target!r} must name {ex.id!r} as its {back} (links are mutual)",
                        exercise_id=ex.id,
                        field=key,
                    )
                if by_id[target].direction != ex.direction:
                    raise LibraryError(
                        "variants must train the same direction", exercise_id=ex.id, field=key
                    )

    def __len__(self) -> int:
        return len(self.exercises)

    def __getitem__(self, exercise_id: str) -> Exercise:
        return self.by_id[exercise_id]

    def __contains__(self, exercise_id: object) -> bool:
        return exercise_id in self.by_id

    def merged(self, extra: Iterable[Mapping[str, Any]]) -> Library:
        """A new library with coach-added exercises appended (validated the same way)."""
        return Library(self.exercises + tuple(validate_exercise(raw) for raw in extra))

    @property
    def fingerprint(self) -> str:
        """Short stable id of the content, so cached rotations never mix two libraries."""
        blob = json.dumps([e.to_dict() for e in self.exercises], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def library_from_data(data: Any) -> Library:
    """Build a library from already-parsed YAML/JSON data (a list of exercise dicts)."""
    if not isinstance(data, list):
        raise LibraryError("the library must be a list of exercises")
    return Library(tuple(validate_exercise(raw) for raw in data))


@cache
def _default_library() -> Library:
    return load_library(DEFAULT_PATH)


def load_library(
    path: str | Path | None = None, extra: Iterable[Mapping[str, Any]] = ()
) -> Library:
    """Load and validate a library; with no path, the packaged one (cached, so it is parsed
    once per process). ``extra`` holds coach-added exercise dicts to merge in."""
    extra = tuple(extra)
    if path is None:
        base = _default_library()
    else:
        with open(path, encoding="utf-8") as fh:
            base = library_from_data(yaml.safe_load(fh))
    return base.merged(extra) if extra else base

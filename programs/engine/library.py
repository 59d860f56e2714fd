"""The hip-exercise library: plain data in ``exercises.yaml``, validated into frozen objects.

The coach adds exercises through a form, so every check names the field it is about and
``validate_exercise`` is the one entry point the form and the YAML loader share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

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
    """An exercise (or the library as a whole) is invalid; ``field`` names what to fix."""

    def __init__(
        self, message: str, exercise_id: str | None = None, field: str | None = None
    ) -> None:
        where = " / ".join(p for p in (exercise_id, field) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.exercise_id = exercise_id
        self.field = field


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
        dose: dict[str, Any] = {"sets": self.dose.sets, "per_side": self.dose.per_side}
        if self.dose.reps is not None:
            dose["reps"] = self.dose.reps
        else:
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


def validate_exercise(raw: Mapping[str, Any]) -> Exercise:
    """Validate one exercise dict (YAML entry or admin form) and return an ``Exercise``.

    Raises ``LibraryError`` naming the first bad field. Links (easier/harder) are only checked
    for shape here; whether they point anywhere is a library-level check.
    """
    if not isinstance(raw, Mapping):
        raise LibraryError("each exercise must be a mapping of fields")
    ex_id = _slug(raw.get("id"), "id", None)
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise LibraryError("is not a known field", exercise_id=ex_id, field=unknown[0])
    dose_raw = raw.get("dose")
    if not isinstance(dose_raw, Mapping):
        raise LibraryError("is required: {sets, reps or seconds, per_side}", ex_id, field="dose")
    sets = _count(dose_raw, "sets", ex_id, 1, 5)
    has_reps, has_secs = "reps" in dose_raw, "seconds" in dose_raw
    if has_reps == has_secs:
        raise LibraryError("give exactly one of reps or seconds", exercise_id=ex_id, field="dose")
    reps = _count(dose_raw, "reps", ex_id, 1, 30) if has_reps else None
    seconds = _count(dose_raw, "seconds", ex_id, 5, 120) if has_secs else None
    per_side = dose_raw.get("per_side")
    if not isinstance(per_side, bool):
        raise LibraryError("must be true or false", exercise_id=ex_id, field="dose.per_side")
    tags_raw = raw.get("tags") or []
    if not isinstance(tags_raw, list | tuple | set | frozenset) or not all(
        isinstance(t, str) for t in tags_raw
    ):
        raise LibraryError("must be a list of words", exercise_id=ex_id, field="tags")
    bad_tags = sorted(set(tags_raw) - KNOWN_TAGS)
    if bad_tags:
        raise LibraryError(
            f"unknown tag {bad_tags[0]!r}; known: {', '.join(sorted(KNOWN_TAGS))}",
            exercise_id=ex_id,
            field="tags",
        )
    links = {}
    for key in ("easier", "harder"):
        value = raw.get(key)
        links[key] = None if value is None else _slug(value, key, ex_id)
        if links[key] == ex_id:
            raise LibraryError("cannot point to the exercise itself", exercise_id=ex_id, field=key)
    return Exercise(
        id=ex_id,
        name=_text(raw, "name", ex_id, max_len=80),
        instructions=_text(raw, "instructions", ex_id, max_len=400),
        cue=_text(raw, "cue", ex_id, max_len=160),
        direction=_choice(raw, "direction", ex_id, DIRECTIONS),
        knee=_choice(raw, "knee", ex_id, KNEE_POSITIONS),
        position=_choice(raw, "position", ex_id, BODY_POSITIONS),
        equipment=_choice(raw, "equipment", ex_id, EQUIPMENT),
        dose=Dose(sets=sets, reps=reps, seconds=seconds, per_side=per_side),
        tags=frozenset(tags_raw),
        easier=links["easier"],
        harder=links["harder"],
    )


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
        import hashlib
        import json

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

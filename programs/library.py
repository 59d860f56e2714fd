"""The exercise library: the engine's built-in exercises followed by the coach's own, her
catalogue and coverage grid, and adding, editing and switching off her exercises."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from programs.engine import Exercise, Library, LibraryError, load_library, validate_exercise
from programs.engine.library import DIRECTIONS, KNEE_POSITIONS
from programs.models import CoachExercise

logger = logging.getLogger(__name__)


_OTHER_SIDE = {"easier": "harder", "harder": "easier"}


def _merge_library(
    base: Library, extra: Sequence[Exercise], check: str | None = None
) -> tuple[Library, list[LibraryError]]:
    """The built-in library with the coach's exercises appended, her variant links made mutual.

    Her exercise may name as easier/harder variant any exercise of the same direction whose
    opposite slot is free (the engine needs links both ways); the merge fills that slot in. A
    link that can't be made (target missing or switched off, another direction, slot taken)
    is left out and reported, so switching one exercise off never breaks the library. Links
    of ``check`` are resolved last, so a conflict it would create is reported against it."""
    problems: list[LibraryError] = []
    known: dict[str, Exercise] = dict(base.by_id)
    added: list[Exercise] = []
    for ex in extra:
        if ex.id in known:
            problems.append(LibraryError("is already used by another exercise", ex.id, "id"))
            continue
        known[ex.id] = ex
        added.append(ex)
    links = {e.id: {"easier": e.easier, "harder": e.harder} for e in base.exercises}
    links.update({e.id: {"easier": None, "harder": None} for e in added})
    for ex in sorted(added, key=lambda e: e.id == check):  # stable: everyone else first
        for key in ("easier", "harder"):
            target = getattr(ex, key)
            if target is None:
                continue
            back = _OTHER_SIDE[key]
            if target not in known:
                message = "must be an exercise in the library (not one that is switched off)"
            elif known[target].direction != ex.direction:
                message = "must train the same direction"
            elif links[target][back] not in (None, ex.id):
                holder = known[links[target][back]].name
                message = f"{known[target].name} already has {holder} as its {back} variant"
            elif links[ex.id][key] not in (None, target):
                holder = known[links[ex.id][key]].name
                message = f"{holder} already names this exercise as its {back} variant"
            else:
                links[ex.id][key] = target
                links[target][back] = ex.id
                continue
            problems.append(LibraryError(message, ex.id, key))
    exercises = tuple(replace(e, **links[e.id]) for e in (*base.exercises, *added))
    return Library(exercises), problems


@lru_cache(maxsize=16)
def _library_for(extra_json: str) -> Library:
    # Keyed by the content of her active exercises, so any process sees a change at once
    # and the engine's per-library memo (strength rotations) is reused between requests.
    extra = []
    for raw in json.loads(extra_json):
        try:
            extra.append(validate_exercise(raw))
        except LibraryError as exc:  # saved before a stricter engine; leave it out, say so
            logger.warning("coach exercise left out of the library: %s", exc)
    library, problems = _merge_library(load_library(), extra)
    for problem in problems:
        logger.warning("coach exercise link left out of the library: %s", problem)
    return library


def _coach_rows(session: DbSession, *, active_only: bool) -> list[CoachExercise]:
    query = select(CoachExercise).order_by(CoachExercise.id)
    if active_only:
        query = query.where(CoachExercise.active.is_(True))
    return list(session.scalars(query))


def current_library(session: DbSession) -> Library:
    """The library every plan, adaptation, swap and article uses: the built-in exercises
    followed by the coach's active ones (in the order she added them). One query."""
    rows = _coach_rows(session, active_only=True)
    if not rows:
        return load_library()
    return _library_for(json.dumps([r.to_engine_dict() for r in rows], sort_keys=True))


@dataclass(frozen=True)
class CatalogueEntry:
    """One exercise on the coach's library page."""

    exercise: Exercise
    builtin: bool
    active: bool = True


def exercise_catalogue(session: DbSession, **filters: str) -> list[CatalogueEntry]:
    """Every exercise, built-in and hers (switched-off ones too, marked), by direction.

    ``filters``: ``q`` (words in the name, id, cue or instructions) and exact ``direction``,
    ``knee``, ``position``, ``equipment``; empty values don't filter."""
    library = current_library(session)
    base_ids = load_library().by_id
    entries = [CatalogueEntry(ex, ex.id in base_ids) for ex in library.exercises]
    for row in _coach_rows(session, active_only=False):
        if not row.active:
            try:
                entries.append(
                    CatalogueEntry(validate_exercise(row.to_engine_dict()), False, False)
                )
            except LibraryError:
                continue
    words = (filters.get("q") or "").lower().split()
    wanted = {k: v for k in ("direction", "knee", "position", "equipment") if (v := filters.get(k))}

    def keep(ex: Exercise) -> bool:
        text = f"{ex.id} {ex.name} {ex.cue} {ex.instructions}".lower()
        return all(w in text for w in words) and all(getattr(ex, k) == v for k, v in wanted.items())

    entries = [e for e in entries if keep(e.exercise)]
    # Stable sort: the YAML order within a direction, her own after the built-in ones.
    return sorted(entries, key=lambda e: DIRECTIONS.index(e.exercise.direction))


@dataclass(frozen=True)
class CoverageCell:
    total: int
    no_equipment: int


def library_coverage(library: Library) -> dict[str, dict[str, CoverageCell]]:
    """Direction × knee position → how many exercises, and how many need no equipment (the
    coach's rule: every cell has at least one that needs nothing)."""
    grid = {}
    for direction in DIRECTIONS:
        grid[direction] = {}
        for knee in KNEE_POSITIONS:
            cell = [e for e in library.exercises if e.direction == direction and e.knee == knee]
            grid[direction][knee] = CoverageCell(
                len(cell), sum(1 for e in cell if e.equipment == "none")
            )
    return grid


# The runner the grid must always work for: nothing at home and a sore knee (no knee-dominant
# or impact moves). Two exercises per cell let her plan change moves every fortnight.
_SAFE_EVERYWHERE = frozenset({"knee_dominant", "impact"})
GRID_MIN_PER_CELL = 2


@dataclass(frozen=True)
class GridGap:
    """A cell of the twelve-cell grid the engine can't vary for every runner."""

    direction: str
    knee: str
    available: tuple[str, ...]  # names of the equipment-free, knee-safe exercises left
    switched_off: tuple[str, ...]  # names of her switched-off exercises that would fill it


def grid_gaps(library: Library, switched_off: Sequence[Exercise] = ()) -> list[GridGap]:
    """Cells (direction x knee position) with fewer than two equipment-free moves a sore knee
    can do: there, a runner with nothing at home can't get the whole grid with variety, and her
    plan falls back to covering both knee positions in each session. ``switched_off`` names the
    coach's exercises that would fill the gap if she switched them back on."""
    gaps = []
    for direction in DIRECTIONS:
        for knee in KNEE_POSITIONS:

            def fits(e: Exercise, d: str = direction, k: str = knee) -> bool:
                return (
                    e.direction == d
                    and e.knee == k
                    and e.equipment == "none"
                    and not e.tags & _SAFE_EVERYWHERE
                )

            available = tuple(e.name for e in library.exercises if fits(e))
            if len(available) < GRID_MIN_PER_CELL:
                off = tuple(e.name for e in switched_off if fits(e))
                gaps.append(GridGap(direction, knee, available, off))
    return gaps


def library_grid_gaps(session: DbSession) -> list[GridGap]:
    """``grid_gaps`` of the library plans use now, with her switched-off exercises named."""
    off = []
    for row in _coach_rows(session, active_only=False):
        if not row.active:
            try:
                off.append(validate_exercise(row.to_engine_dict()))
            except LibraryError:
                continue
    return grid_gaps(current_library(session), off)


def coach_exercise(session: DbSession, slug: str) -> CoachExercise | None:
    return session.scalar(select(CoachExercise).where(CoachExercise.slug == slug))


def _id_problems(session: DbSession, ex_id: str, *, new: bool) -> list[LibraryError]:
    """Why a well-formed id can't be one of hers: a built-in's, or (adding) one she has."""
    if ex_id in load_library():
        return [LibraryError("is a built-in exercise's id; pick another", ex_id, "id")]
    if new and coach_exercise(session, ex_id) is not None:
        return [LibraryError("is already used by one of your exercises; pick another", ex_id, "id")]
    return []


def _link_problems(session: DbSession, ex: Exercise) -> list[LibraryError]:
    """Every variant link of ``ex`` the library can't make (see ``_merge_library``)."""
    others = []
    for row in _coach_rows(session, active_only=True):
        if row.slug != ex.id:
            try:
                others.append(validate_exercise(row.to_engine_dict()))
            except LibraryError:
                continue
    _, problems = _merge_library(load_library(), [*others, ex], check=ex.id)
    return [p for p in problems if p.exercise_id == ex.id]


def save_coach_exercise(
    session: DbSession, values: Mapping[str, Any], slug: str | None = None
) -> CoachExercise:
    """Add one of the coach's exercises (``slug`` None) or edit it (its id never changes).

    ``values`` is an exercise dict as in ``exercises.yaml``. Raises ``LibraryError`` with every
    problem in ``problems``, each naming its field (the engine's checks; built-in or taken id;
    easier/harder not an exercise of the same direction with that slot free; the links are
    checked once the fields are valid); nothing is written then. Commits."""
    row = None
    if slug is not None:
        row = coach_exercise(session, slug)
        if row is None:
            raise LibraryError("no such exercise of yours", slug, "id")
        values = {**values, "id": row.slug}
    problems: list[LibraryError] = []
    try:
        ex = validate_exercise(values)
    except LibraryError as exc:
        ex, problems = None, list(exc.problems)
    if not any(p.field == "id" for p in problems):
        problems += _id_problems(session, values["id"], new=row is None)
    if ex is not None and not problems:
        # Checked as if active, even when switched off: turning it back on must then just work.
        problems += _link_problems(session, ex)
    if problems:
        raise LibraryError.all_of(problems)
    if row is None:
        row = CoachExercise(slug=ex.id, active=True)
        session.add(row)
    row.name, row.instructions, row.cue = ex.name, ex.instructions, ex.cue
    row.direction, row.knee, row.position = ex.direction, ex.knee, ex.position
    row.equipment = ex.equipment
    row.sets, row.reps, row.seconds = ex.dose.sets, ex.dose.reps, ex.dose.seconds
    row.per_side = ex.dose.per_side
    row.tags = sorted(ex.tags)
    row.easier, row.harder = ex.easier, ex.harder
    try:
        session.commit()
    except IntegrityError as exc:  # the same id saved at the same moment by another request
        session.rollback()
        raise LibraryError("is already used by one of your exercises", ex.id, "id") from exc
    return row


def set_coach_exercise_active(session: DbSession, slug: str, active: bool) -> CoachExercise:
    """Switch one of the coach's exercises off (new plans stop using it; plans that have it
    keep it) or back on (refused with ``LibraryError`` if its links no longer fit). Commits."""
    row = coach_exercise(session, slug)
    if row is None:
        raise LibraryError("no such exercise of yours", slug, "id")
    if active and not row.active:
        ex = validate_exercise(row.to_engine_dict())
        problems = _id_problems(session, ex.id, new=False) or _link_problems(session, ex)
        if problems:
            raise LibraryError.all_of(problems)
    row.active = active
    session.commit()
    return row


def library_message(exc: LibraryError) -> str:
    """One problem's sentence without its "id / field:" prefix (for a form)."""
    return exc.message

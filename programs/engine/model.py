"""Plan value objects and their JSON form.

Everything is a frozen dataclass of ints, strings, dates and tuples: no floats, so the JSON is
byte-identical across machines, and ``Plan.from_dict(plan.to_dict()) == plan``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from .profile import Profile

RUN_WALK = "run_walk"
STRENGTH = "strength"


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a run/walk session: warmup | run | walk | cooldown."""

    kind: str
    seconds: int
    distance_m: int | None = None  # only for a run meant to cover a distance (the 5K)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "seconds": self.seconds}
        if self.distance_m is not None:
            d["distance_m"] = self.distance_m
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        return cls(d["kind"], d["seconds"], d.get("distance_m"))


@dataclass(frozen=True, slots=True)
class StrengthItem:
    """One prescribed exercise: ``sets`` of ``reps`` or of a ``seconds`` hold."""

    exercise_id: str
    name: str
    direction: str
    sets: int
    reps: int | None
    seconds: int | None
    per_side: bool
    rest_seconds: int
    cue: str

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "exercise_id": self.exercise_id,
            "name": self.name,
            "direction": self.direction,
            "sets": self.sets,
            "per_side": self.per_side,
            "rest_seconds": self.rest_seconds,
            "cue": self.cue,
        }
        if self.reps is not None:
            d["reps"] = self.reps
        else:
            d["seconds"] = self.seconds
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StrengthItem:
        return cls(
            exercise_id=d["exercise_id"],
            name=d["name"],
            direction=d["direction"],
            sets=d["sets"],
            reps=d.get("reps"),
            seconds=d.get("seconds"),
            per_side=d["per_side"],
            rest_seconds=d["rest_seconds"],
            cue=d["cue"],
        )


@dataclass(frozen=True, slots=True)
class Session:
    """A day's work. Run/walk sessions carry ``segments`` (and, for 3-day runners, a strength
    ``block`` done straight after); strength sessions carry ``items``."""

    date: date
    kind: str
    title: str
    why: str
    segments: tuple[Segment, ...] = ()
    block: tuple[StrengthItem, ...] = ()
    items: tuple[StrengthItem, ...] = ()
    race: bool = False
    coach_edited: bool = False
    rehearsal: bool = False

    @property
    def run_seconds(self) -> int:
        return sum(s.seconds for s in self.segments if s.kind == "run")

    @property
    def longest_run_seconds(self) -> int:
        return max((s.seconds for s in self.segments if s.kind == "run"), default=0)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "date": self.date.isoformat(),
            "kind": self.kind,
            "title": self.title,
            "why": self.why,
        }
        if self.kind == RUN_WALK:
            d["segments"] = [s.to_dict() for s in self.segments]
            d["block"] = [i.to_dict() for i in self.block]
        else:
            d["items"] = [i.to_dict() for i in self.items]
        if self.race:
            d["race"] = True
        if self.rehearsal:
            d["rehearsal"] = True
        if self.coach_edited:
            d["coach_edited"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Session:
        return cls(
            date=date.fromisoformat(d["date"]),
            kind=d["kind"],
            title=d["title"],
            why=d["why"],
            segments=tuple(Segment.from_dict(s) for s in d.get("segments", ())),
            block=tuple(StrengthItem.from_dict(i) for i in d.get("block", ())),
            items=tuple(StrengthItem.from_dict(i) for i in d.get("items", ())),
            race=d.get("race", False),
            coach_edited=d.get("coach_edited", False),
            rehearsal=d.get("rehearsal", False),
        )


@dataclass(frozen=True, slots=True)
class Week:
    """Seven days from ``start_date``. ``level`` is the run/walk step on the ladder;
    ``recovery`` marks a deliberately lighter week (race taper), with ``note`` saying why."""

    index: int
    start_date: date
    level: int
    sessions: tuple[Session, ...]
    recovery: bool = False
    note: str | None = None

    @property
    def runs(self) -> tuple[Session, ...]:
        return tuple(s for s in self.sessions if s.kind == RUN_WALK)

    @property
    def run_seconds(self) -> int:
        return sum(s.run_seconds for s in self.runs)

    @property
    def longest_run_seconds(self) -> int:
        return max((s.longest_run_seconds for s in self.runs), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_date": self.start_date.isoformat(),
            "level": self.level,
            "recovery": self.recovery,
            "note": self.note,
            "sessions": [s.to_dict() for s in self.sessions],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Week:
        return cls(
            index=d["index"],
            start_date=date.fromisoformat(d["start_date"]),
            level=d["level"],
            sessions=tuple(Session.from_dict(s) for s in d["sessions"]),
            recovery=d["recovery"],
            note=d["note"],
        )


@dataclass(frozen=True, slots=True)
class RaceStrategy:
    """How to race, with the pace arithmetic spelled out. Paces are whole seconds per mile."""

    race_type: str
    race_date: date
    continuous: bool
    run_seconds: int | None
    walk_seconds: int | None
    assumed_run_pace: int
    assumed_walk_pace: int
    expected_pace: int
    expected_finish_seconds: int
    holds_16_min_mile: bool | None
    summary: str
    arithmetic: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "race_type": self.race_type,
            "race_date": self.race_date.isoformat(),
            "continuous": self.continuous,
            "run_seconds": self.run_seconds,
            "walk_seconds": self.walk_seconds,
            "assumed_run_pace_s_per_mile": self.assumed_run_pace,
            "assumed_walk_pace_s_per_mile": self.assumed_walk_pace,
            "expected_pace_s_per_mile": self.expected_pace,
            "expected_finish_seconds": self.expected_finish_seconds,
            "holds_16_min_mile": self.holds_16_min_mile,
            "summary": self.summary,
            "arithmetic": self.arithmetic,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RaceStrategy:
        return cls(
            race_type=d["race_type"],
            race_date=date.fromisoformat(d["race_date"]),
            continuous=d["continuous"],
            run_seconds=d["run_seconds"],
            walk_seconds=d["walk_seconds"],
            assumed_run_pace=d["assumed_run_pace_s_per_mile"],
            assumed_walk_pace=d["assumed_walk_pace_s_per_mile"],
            expected_pace=d["expected_pace_s_per_mile"],
            expected_finish_seconds=d["expected_finish_seconds"],
            holds_16_min_mile=d["holds_16_min_mile"],
            summary=d["summary"],
            arithmetic=d["arithmetic"],
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One adaptation, with the rule that made it (see ``adapt.RULES``)."""

    rule: str
    week: int
    summary: str
    level_from: int | None = None
    level_to: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "week": self.week,
            "summary": self.summary,
            "level_from": self.level_from,
            "level_to": self.level_to,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        return cls(d["rule"], d["week"], d["summary"], d.get("level_from"), d.get("level_to"))


@dataclass(frozen=True, slots=True)
class CoachFlag:
    """Something the coach should look at, raised by an adaptation rule."""

    rule: str
    week: int
    date: date
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "week": self.week,
            "date": self.date.isoformat(),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CoachFlag:
        return cls(d["rule"], d["week"], date.fromisoformat(d["date"]), d["reason"])


@dataclass(frozen=True, slots=True)
class Plan:
    """A runner's whole plan. ``reviewed_weeks`` lists weeks adaptation has already judged,
    so running ``adapt`` again with the same logs changes nothing."""

    engine_version: str
    profile: Profile
    weeks: tuple[Week, ...]
    adjusted: bool = False
    adjustment_reason: str | None = None
    race_strategy: RaceStrategy | None = None
    changes: tuple[Change, ...] = ()
    flags: tuple[CoachFlag, ...] = ()
    reviewed_weeks: tuple[int, ...] = field(default=())

    @property
    def sessions(self) -> tuple[Session, ...]:
        return tuple(s for w in self.weeks for s in w.sessions)

    def replace(self, **changes: Any) -> Plan:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine_version": self.engine_version,
            "profile": self.profile.to_dict(),
            "weeks": [w.to_dict() for w in self.weeks],
            "adjusted": self.adjusted,
            "adjustment_reason": self.adjustment_reason,
            "race_strategy": self.race_strategy.to_dict() if self.race_strategy else None,
            "changes": [c.to_dict() for c in self.changes],
            "flags": [f.to_dict() for f in self.flags],
            "reviewed_weeks": list(self.reviewed_weeks),
        }

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, UTF-8 text kept as is."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        rs = d.get("race_strategy")
        return cls(
            engine_version=d["engine_version"],
            profile=Profile.from_dict(d["profile"]),
            weeks=tuple(Week.from_dict(w) for w in d["weeks"]),
            adjusted=d["adjusted"],
            adjustment_reason=d["adjustment_reason"],
            race_strategy=RaceStrategy.from_dict(rs) if rs else None,
            changes=tuple(Change.from_dict(c) for c in d.get("changes", ())),
            flags=tuple(CoachFlag.from_dict(f) for f in d.get("flags", ())),
            reviewed_weeks=tuple(d.get("reviewed_weeks", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))

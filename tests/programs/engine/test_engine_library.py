"""The exercise library: coverage the coach's method needs, and validation a form can show."""

from __future__ import annotations

import pytest

from programs.engine import LibraryError, load_library, validate_exercise
from programs.engine.library import BODY_POSITIONS, DIRECTIONS, EQUIPMENT, KNEE_POSITIONS

LIB = load_library()


def _valid(**overrides):
    raw = {
        "id": "wall-sit-march",
        "name": "Wall march",
        "instructions": "Back to a wall, march slowly.",
        "cue": "Stay tall.",
        "direction": "flexion",
        "knee": "bent",
        "position": "standing",
        "equipment": "none",
        "dose": {"sets": 2, "reps": 10, "per_side": True},
        "tags": [],
        "easier": None,
        "harder": None,
    }
    raw.update(overrides)
    return raw


def test_library_has_at_least_36_exercises():
    assert len(LIB) >= 36


def test_every_direction_and_knee_position_has_a_body_weight_option():
    for direction in DIRECTIONS:
        for knee in KNEE_POSITIONS:
            assert any(
                e.direction == direction and e.knee == knee and e.equipment == "none"
                for e in LIB.exercises
            ), (direction, knee)


def test_every_direction_is_trained_in_at_least_two_body_positions():
    for direction in DIRECTIONS:
        assert len({e.position for e in LIB.exercises if e.direction == direction}) >= 2


def test_every_equipment_type_and_body_position_appears():
    assert {e.equipment for e in LIB.exercises} == set(EQUIPMENT)
    assert {e.position for e in LIB.exercises} == set(BODY_POSITIONS)


def test_variant_links_exist_and_are_mutual():
    for e in LIB.exercises:
        if e.harder:
            assert LIB[e.harder].easier == e.id
        if e.easier:
            assert LIB[e.easier].harder == e.id


def test_knee_loading_and_impact_moves_are_tagged_so_the_filter_has_work_to_do():
    tagged = {e.id for e in LIB.exercises if e.tags & {"knee_dominant", "impact"}}
    assert {"bodyweight-squat", "reverse-lunge", "step-down", "skater-hop"} <= tagged


def test_default_library_is_parsed_once():
    assert load_library() is LIB


def test_coach_added_exercise_is_merged():
    merged = load_library(extra=[_valid()])
    assert "wall-sit-march" in merged and len(merged) == len(LIB) + 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"knee": "wobbly"}, "knee"),
        ({"position": "kneeling"}, "position"),
        ({"equipment": "kettlebell"}, "equipment"),
        ({"name": ""}, "name"),
        ({"id": "Not A Slug"}, "id"),
        ({"dose": {"sets": 2, "per_side": True}}, "dose"),
        ({"dose": {"sets": 0, "reps": 10, "per_side": True}}, "dose.sets"),
        ({"dose": {"sets": 2, "reps": True, "per_side": True}}, "dose.reps"),
        ({"tags": ["spicy"]}, "tags"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_exercise_names_the_bad_field(overrides, field):
    with pytest.raises(LibraryError) as err:
        validate_exercise(_valid(**overrides))
    assert err.value.field == field
    assert field in str(err.value)


def test_every_bad_field_is_reported_at_once_led_by_the_first():
    raw = _valid(
        id="Not A Slug",
        colour="red",
        dose={"sets": 0, "reps": 31, "per_side": "yes"},
        tags="impact",
        name="",
        direction="sideways",
    )
    with pytest.raises(LibraryError) as err:
        validate_exercise(raw)
    fields = [p.field for p in err.value.problems]
    assert fields == ["id", "colour", "dose.sets", "dose.reps", "dose.per_side", "tags", "name",
                      "direction"]  # fmt: skip
    assert (err.value.field, err.value.message) == (
        "id", "must be a slug: lowercase letters, digits and dashes",
    )  # fmt: skip
    assert all(f"{field}: " in str(err.value) for field in fields)


def test_one_bad_field_is_the_only_problem():
    with pytest.raises(LibraryError) as err:
        validate_exercise(_valid(cue=" "))
    assert err.value.problems == (err.value,)
    assert str(err.value) == "wall-sit-march / cue: is required and must be text"


def test_link_to_unknown_exercise_is_refused_when_merging():
    with pytest.raises(LibraryError) as err:
        load_library(extra=[_valid(harder="no-such-move")])
    assert err.value.field == "harder"


def test_duplicate_id_is_refused():
    with pytest.raises(LibraryError) as err:
        load_library(extra=[_valid(id="clamshell")])
    assert err.value.field == "id"

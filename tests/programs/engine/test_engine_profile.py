"""Profile validation: one clear message per bad field, and a lossless dict round trip."""

from __future__ import annotations

from datetime import date

import pytest

from programs.engine import Profile, ProfileError

GOOD = {
    "ability": "run_minutes",
    "run_minutes": 10,
    "days": [4, 0, 2],
    "long_run_day": 4,
    "equipment": ["band"],
    "pain_area": "knee",
    "pain_level": 3,
    "start_date": "2025-03-03",
    "race_date": "2025-06-01",
    "race_type": "rundisney",
    "age": 40,
}


def test_profile_round_trips_through_a_dict():
    profile = Profile.from_dict(GOOD)
    assert profile.days == (0, 2, 4)
    assert profile.equipment == {"band", "none"}
    assert Profile.from_dict(profile.to_dict()) == profile


def test_every_bad_field_gets_its_own_message():
    bad = dict(
        GOOD,
        run_minutes=0,
        days=[1, 1, 2],
        pain_level=11,
        pain_area="elbow",
        equipment=["rowing boat"],
        age=8,
    )
    with pytest.raises(ProfileError) as err:
        Profile.from_dict(bad)
    assert set(err.value.messages) >= {
        "run_minutes",
        "days",
        "pain_level",
        "pain_area",
        "equipment",
        "age",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"days": [0, 2]}, "days"),
        ({"days": [0, 1, 2, 3, 4, 5, 6]}, "days"),
        ({"long_run_day": 6}, "long_run_day"),
        ({"race_date": "2025-03-01"}, "race_date"),
        ({"race_date": "2026-06-01"}, "race_date"),
        ({"race_date": None}, "race_date"),
        ({"start_date": "someday"}, "start_date"),
        ({"ability": "sprint"}, "ability"),
        ({"ability": "walk_only"}, "run_minutes"),
    ],
)
def test_invalid_profile_names_the_field(changes, field):
    with pytest.raises(ProfileError) as err:
        Profile.from_dict(dict(GOOD, **changes))
    assert field in err.value.messages


def test_race_date_alone_means_a_5k():
    p = Profile(
        ability="walk_only", days=(0, 2, 4), start_date=date(2025, 1, 6), race_date=date(2025, 4, 6)
    )
    assert p.race_type == "5k"


def test_a_race_needs_two_weeks_to_rehearse_and_taper():
    start = date(2025, 3, 3)
    with pytest.raises(ProfileError) as caught:
        Profile(ability="walk_only", days=(0, 2, 4), start_date=start, race_date=date(2025, 3, 16))
    assert "at least two weeks" in caught.value.messages["race_date"]
    Profile(ability="walk_only", days=(0, 2, 4), start_date=start, race_date=date(2025, 3, 17))

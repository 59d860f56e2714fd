"""Hero's plan engine: a pure function from a runner's profile to a dated plan.

No Flask and no database here; the app persists ``Plan.to_json()`` and calls ``adapt`` with
workout logs. See ``plan`` for the invariants every plan satisfies.
"""

from .adapt import RULES, CoachEdit, WorkoutLog, adapt, coach_flags, keep_as_logged
from .library import Exercise, Library, LibraryError, load_library, validate_exercise
from .model import Change, CoachFlag, Plan, RaceStrategy, Segment, Session, StrengthItem, Week
from .plan import generate_plan
from .profile import Profile, ProfileError
from .render import render_text
from .version import ENGINE_VERSION

__all__ = [
    "ENGINE_VERSION",
    "RULES",
    "Change",
    "CoachEdit",
    "CoachFlag",
    "Exercise",
    "Library",
    "LibraryError",
    "Plan",
    "Profile",
    "ProfileError",
    "RaceStrategy",
    "Segment",
    "Session",
    "StrengthItem",
    "Week",
    "WorkoutLog",
    "adapt",
    "coach_flags",
    "keep_as_logged",
    "generate_plan",
    "load_library",
    "render_text",
    "validate_exercise",
]

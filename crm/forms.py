"""Form helpers shared by every feature package."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import SelectChoice


def choices(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """`(value, label)` pairs as the `SelectChoice` list a Select/Radio field takes.

    WTForms 3.3 deprecates tuple choices (gone in 3.4). Values stay as given: with
    `coerce=int` an int value still matches, as WTForms compares `coerce(value) == data`.
    """
    return [SelectChoice(value, label) for value, label in pairs]

"""Form helpers shared by every feature package."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from wtforms import SelectChoice


def choices(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """`(value, label)` pairs as the `SelectChoice` list a Select/Radio field takes.

    WTForms 3.3 deprecates tuple choices (gone in 3.4). Values stay as given: with
    `coerce=int` an int value still matches, as WTForms compares `coerce(value) == data`.
    """
    return [SelectChoice(value, label) for value, label in pairs]


def normalise_email(email: str) -> str:
    """An address as Hero stores and compares it: trimmed and lower-cased."""
    return email.strip().lower()


def safe_next(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default`: every `next=` goes through here,
    since an absolute, scheme-relative or backslashed URL would be an open redirect. Browsers
    drop tabs and newlines from a URL (a slash, a tab, then "/evil.com" is "//evil.com" to them),
    so a target with any control character or space is refused too."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target

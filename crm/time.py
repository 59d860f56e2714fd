"""Time helpers: the database stores UTC; pages convert at the edges with zoneinfo."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no time zones and hands back naive values; this type stores UTC and always returns
    aware UTC datetimes, so comparisons never mix naive and aware values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_ZONES: frozenset[str] | None = None


def is_valid_timezone(name: str) -> bool:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return name in _ZONES


def zone(name: str) -> ZoneInfo:
    """ZoneInfo for a validated IANA name; raises ValueError for unknown names."""
    if not name or not is_valid_timezone(name):
        raise ValueError(f"unknown time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:  # pragma: no cover - guarded above
        raise ValueError(f"unknown time zone: {name!r}") from exc


DEFAULT_TIMEZONE = "America/Los_Angeles"


def safe_zone(name: str | None) -> ZoneInfo:
    """ZoneInfo for a stored zone name; a bad name falls back to the business default."""
    return zone(name if name and is_valid_timezone(name) else DEFAULT_TIMEZONE)


def local_moment(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz`."""
    return datetime.combine(day, at, tzinfo=safe_zone(tz)).astimezone(UTC)


def format_when(start: datetime, tz: str, *, with_zone: bool = False) -> str:
    """'Monday 10 March 2025, 9:00 AM' in zone `tz` (plus ' (tz)' with_zone)."""
    local = start.astimezone(zone(tz))
    text = f"{local:%A} {local.day} {local:%B %Y}, {local:%I:%M %p}".replace(", 0", ", ")
    return f"{text} ({tz})" if with_zone else text

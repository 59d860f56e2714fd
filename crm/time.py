"""Time helpers: the database stores UTC; pages convert at the edges with zoneinfo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from functools import cache, lru_cache
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
    try:
        return _SAFE_ZONES[name]
    except KeyError:
        found = zone(name if name and is_valid_timezone(name) else DEFAULT_TIMEZONE)
        if len(_SAFE_ZONES) < 1000:  # names come from the database: a bound, not a leak
            _SAFE_ZONES[name] = found
        return found


# Every page formats its times through safe_zone (once per time shown): the zone database does
# not change while a process runs.
_SAFE_ZONES: dict[str | None, ZoneInfo] = {}


def local_moment(day: date, at: time, tz: str) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz`."""
    return datetime.combine(day, at, tzinfo=safe_zone(tz)).astimezone(UTC)


def format_when(start: datetime, tz: str, *, with_zone: bool = False) -> str:
    """'Monday 10 March 2025, 9:00 AM' in zone `tz` (plus ' (tz)' with_zone)."""
    local = start.astimezone(zone(tz))
    text = f"{local:%A} {local.day} {local:%B %Y}, {local:%I:%M %p}".replace(", 0", ", ")
    return f"{text} ({tz})" if with_zone else text


# --- one way to show a moment on the coach's pages -------------------------------------------


def place_name(tz: str) -> str:
    """'Tokyo' for Asia/Tokyo, 'New York' for America/New_York."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def zone_label(local: datetime) -> str:
    """'PST', 'CET'… or the place when the zone has no letters (São Paulo's '-03')."""
    abbreviation = local.tzname() or ""  # strftime("%Z"), without the format parsing
    if not abbreviation or abbreviation[0] in "+-" or abbreviation.startswith("UTC+"):
        return place_name(str(local.tzinfo))
    return abbreviation


Moment = datetime | date | None


# A clock time or a calendar day always reads the same: each is formatted once per process (a
# page shows dozens; strftime is most of what formatting one costs).


def _clock(local: datetime) -> str:
    return _clock_text(local.hour, local.minute)


@cache
def _clock_text(hour: int, minute: int) -> str:
    return time(hour, minute).strftime("%I:%M %p").lstrip("0")


def _day(local: datetime | date, today: date) -> str:
    return _day_text(date(local.year, local.month, local.day), local.year != today.year)


@lru_cache(maxsize=4096)
def _day_text(day: date, with_year: bool) -> str:
    text = f"{day:%a} {day.day} {day:%b}"
    return f"{text} {day.year}" if with_year else text


def day_formatter(coach_tz: str, now: datetime | None = None) -> Callable[[Moment], str]:
    """`coach_when(moment, coach_tz, date_only=True)` for many moments (a table's column): the
    zone and today are looked up once."""
    coach = safe_zone(coach_tz)
    today = (now or utcnow()).astimezone(coach).date()

    def day(moment: Moment) -> str:
        if moment is None:
            return ""
        return _day(moment.astimezone(coach) if isinstance(moment, datetime) else moment, today)

    day.year = today.year  # what its texts depend on besides the moment: the year is shown or not
    return day


def coach_when(
    moment: datetime | date | None,
    coach_tz: str,
    client_tz: str | None = None,
    *,
    date_only: bool = False,
    now: datetime | None = None,
) -> str:
    """The coach's one format: 'Mon 7 Dec, 9:00 AM PST' in her zone (the year only when it is
    not this year), then the client's own time where it differs: ' · 2:00 AM Tue in Tokyo'.
    `date_only` gives 'Mon 7 Dec'; a plain date is shown as it is."""
    if moment is None:
        return ""
    coach = safe_zone(coach_tz)
    today = (now or utcnow()).astimezone(coach).date()
    if not isinstance(moment, datetime):
        return _day(moment, today)
    if date_only:
        return _day(moment.astimezone(coach), today)
    return _when(moment, coach, client_tz, today.year)


def when_formatter(coach_tz: str, now: datetime | None = None) -> Callable[..., str]:
    """`coach_when(moment, coach_tz, client_tz)` for many moments (a list of calls): the zone
    and today are looked up once, not per moment."""
    coach = safe_zone(coach_tz)
    this_year = (now or utcnow()).astimezone(coach).year

    def when(moment: datetime, client_tz: str | None = None) -> str:
        return _when(moment, coach, client_tz, this_year)

    return when


# A call's time reads the same on every visit until the year turns: the dashboard and the lead
# pages show the same calls over and over, so each is formatted once per process.
@lru_cache(maxsize=4096)
def _when(moment: datetime, coach: ZoneInfo, client_tz: str | None, this_year: int) -> str:
    local = moment.astimezone(coach)
    day = _day_text(local.date(), local.year != this_year)
    text = f"{day}, {_clock(local)} {zone_label(local)}"
    if client_tz and is_valid_timezone(client_tz):
        theirs = moment.astimezone(zone(client_tz))
        if theirs.utcoffset() != local.utcoffset():
            weekday = f" {theirs:%a}" if theirs.date() != local.date() else ""
            text += f" · {_clock(theirs)}{weekday} in {place_name(client_tz)}"
    return text


def init_app(app, coach_timezone) -> None:
    """Register the `when` filter. `coach_timezone()` names the coach's zone for this request
    (the CRM supplies it: the kernel knows no settings table)."""
    from flask import has_request_context, request
    from jinja2 import pass_context

    def _coach_tz() -> str:
        if not has_request_context():
            return coach_timezone()
        # Looked up once per request (not per app context, which tests share between requests).
        if "hero.coach_tz" not in request.environ:
            request.environ["hero.coach_tz"] = coach_timezone()
        return request.environ["hero.coach_tz"]

    @pass_context
    def when(context, moment, client_tz: str | None = None, date_only: bool = False) -> str:
        # Pages that looked the zone up already pass it as tz_name.
        coach_tz = context.get("tz_name") or _coach_tz()
        return coach_when(moment, coach_tz, client_tz, date_only=date_only)

    app.add_template_filter(when, "when")

"""The coach's own calendar: the secret iCal address of her Google, Apple or Outlook calendar.

Beat fetches it every few minutes and a booking fetches it again (with a short timeout); its busy
events, recurring ones included, take the overlapping slots away with the same buffer as Hero's
own bookings. When the feed is down, the last good copy keeps counting and the coach is warned.

The address is the coach's own, but it is still fetched by the server: only http(s), a few
redirects at most and only to http(s), never a link-local address (a cloud's metadata service), a
time limit and a size limit.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

import recurring_ical_events
from celery import shared_task
from flask import current_app
from icalendar import Calendar
from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from crm.booking.errors import AvailabilityError
from crm.booking.models import BusyFeed, CoachSettings
from crm.time import utcnow, zone
from extensions import db

REFRESH_SECONDS = 300.0  # beat's refresh of the feed
FETCH_TIMEOUT = 10.0  # seconds, for beat's fetch
BOOKING_TIMEOUT = 3.0  # seconds: a visitor waits for this one
MAX_BYTES = 2 * 1024 * 1024
MAX_URL = 2000
STALE_AFTER = timedelta(minutes=30)  # a copy older than this gets a warning too
LOOK_BACK = timedelta(days=1)
LOOK_AHEAD = timedelta(days=400)  # past the longest horizon the settings allow (365 days)


class FeedError(Exception):
    """The feed could not be fetched or read; the message is fit to show the coach."""


def normalise_feed_url(raw: str) -> str:
    """The address to store ("" to remove the feed); webcal:// becomes https://.
    Raises AvailabilityError for anything but an http(s) address."""
    url = (raw or "").strip()
    if not url:
        return ""
    if url.lower().startswith("webcal://"):
        url = "https://" + url[len("webcal://") :]
    parts = urlsplit(url)
    if len(url) > MAX_URL:
        raise AvailabilityError({"busy_feed_url": "That address is too long."})
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AvailabilityError(
            {
                "busy_feed_url": "Paste the calendar's secret address in iCal format "
                "(it starts with https:// or webcal://)."
            }
        )
    return url


def mask_url(url: str) -> str:
    """The address as the page shows it: the site, and the secret part hidden."""
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/••••••{url[-4:] if len(url) > 12 else ''}"


def get_feed(session: Session) -> BusyFeed | None:
    return session.scalar(select(BusyFeed).order_by(BusyFeed.id).limit(1))


# Whether there is a feed, for a caller's own statement (load_rules reads it with the rules).
FEED_EXISTS = select(BusyFeed.id).exists()


def save_feed_url(session: Session, raw: str) -> BusyFeed | None:
    """Store (or, with "", remove) the coach's calendar address. A new address starts with no
    busy times until its first fetch. Commits. Raises AvailabilityError."""
    url = normalise_feed_url(raw)
    feed = get_feed(session)
    if not url:
        if feed is not None:
            session.delete(feed)
            session.commit()
        return None
    if feed is None:
        feed = BusyFeed(url="", busy=[], error="")
        session.add(feed)
    if feed.url != url:
        feed.url, feed.busy, feed.fetched_at, feed.checked_at, feed.error = url, [], None, None, ""
    session.commit()
    return feed


def _refuse_link_local(url: str) -> None:
    """A cloud machine's metadata service lives on a link-local address: never ask it."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FeedError("The calendar's site could not be found.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            raise FeedError("That address can't be a calendar.")


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 3

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-web address", headers, fp)
        _refuse_link_local(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_HttpOnlyRedirects)


def fetch_ics(url: str, *, timeout: float) -> bytes:
    """The feed's bytes. Raises FeedError (down, refused, too big, not a web address)."""
    try:
        normalise_feed_url(url)
    except AvailabilityError as exc:
        raise FeedError("That address can't be a calendar.") from exc
    _refuse_link_local(url)
    request = urllib.request.Request(
        url, headers={"User-Agent": "Hero calendar sync", "Accept": "text/calendar, */*"}
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise FeedError(f"The calendar answered {exc.code}.") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FeedError("The calendar could not be reached.") from exc
    if len(body) > MAX_BYTES:
        raise FeedError("The calendar is too large (over 2 MB).")
    return body


def _instant(value: date | datetime, tz) -> datetime:
    """An event's start or end as a UTC instant: dates (all-day) and floating times are read
    in the coach's zone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), tzinfo=tz)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def busy_intervals(
    ics: bytes, tz_name: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The busy (start, end) UTC intervals of a calendar overlapping [start, end): recurring
    events expanded (with their exceptions), free (TRANSPARENT) and cancelled events left out,
    all-day events blocking whole days in the coach's zone. Raises FeedError."""
    tz = zone(tz_name)
    try:
        calendar = Calendar.from_ical(ics)
        events = recurring_ical_events.of(calendar).between(start, end)
    except Exception as exc:  # icalendar and the expander raise many kinds on a broken feed
        raise FeedError("The calendar could not be read (is it an iCal address?).") from exc
    found = []
    for event in events:
        if event.name != "VEVENT":
            continue
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        try:
            begins, ends = event.start, event.end
        except Exception:  # no DTSTART, or an end before the start: nothing to block
            continue
        begins, ends = _instant(begins, tz), _instant(ends, tz)
        if ends > begins:
            found.append((begins, ends))
    return sorted(found)


def refresh_busy_feed(
    session: Session, *, timeout: float = FETCH_TIMEOUT, now: datetime | None = None
) -> bool | None:
    """Fetch the coach's calendar and keep its busy times; on failure keep the last good copy and
    note the error. Returns None when there is no feed, else whether the fetch worked. Commits."""
    feed = get_feed(session)
    if feed is None or not feed.url:
        return None
    now = now or utcnow()
    tz_name = session.scalar(select(CoachSettings.timezone).order_by(CoachSettings.id).limit(1))
    tz_name = tz_name or current_app.config.get("COACH_TIMEZONE", "America/Los_Angeles")
    url = feed.url
    try:
        body = fetch_ics(url, timeout=timeout)
        busy = busy_intervals(body, tz_name, now - LOOK_BACK, now + LOOK_AHEAD)
    except FeedError as exc:
        session.refresh(feed)
        feed.checked_at, feed.error = now, str(exc)[:300]
        session.commit()
        return False
    session.refresh(feed)
    if feed.url != url:  # the coach changed it meanwhile: this copy is of the old calendar
        return False
    feed.busy = [[s.isoformat(), e.isoformat()] for s, e in busy]
    feed.fetched_at = feed.checked_at = now
    feed.error = ""
    session.commit()
    return True


def feed_busy(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The last good copy's busy intervals overlapping [start, end)."""
    feed = get_feed(session)
    if feed is None or not feed.busy:
        return []
    found = []
    for s, e in feed.busy:
        begins, ends = datetime.fromisoformat(s), datetime.fromisoformat(e)
        if begins < end and ends > start:
            found.append((begins, ends))
    return found


@dataclass(frozen=True)
class FeedStatus:
    masked_url: str
    fetched_at: datetime | None
    checked_at: datetime | None
    error: str
    busy_count: int

    @property
    def warning(self) -> str:
        """What the coach should know, or "" when the calendar is in sync."""
        reason = self.error.rstrip(".")
        reason = reason[:1].lower() + reason[1:]
        if self.error and self.fetched_at:
            return (
                f"Your calendar could not be read just now ({reason}). Slots use the copy from "
                "the last successful check until it works again."
            )
        if self.error:
            return (
                f"Your calendar could not be read ({reason}). Its busy times are not blocking "
                "any slots yet: check the address."
            )
        if self.fetched_at is None:
            return "Your calendar has not been read yet: it will be within a few minutes."
        return ""


def feed_status_subquery() -> Subquery:
    """The feed's status (url, fetched_at, checked_at, error, busy_count) as a subquery of one
    row at most, to read along with another statement (outer-joined on true); pass what it
    gives to `status_from_row`. The busy times are counted, not loaded."""
    return (
        select(
            BusyFeed.url,
            BusyFeed.fetched_at,
            BusyFeed.checked_at,
            BusyFeed.error,
            func.json_array_length(BusyFeed.busy).label("busy_count"),
        )
        .order_by(BusyFeed.id)
        .limit(1)
        .subquery("busy_feed")
    )


def status_from_row(
    url: str | None,
    fetched_at: datetime | None,
    checked_at: datetime | None,
    error: str | None,
    busy_count: int | None,
    now: datetime | None = None,
) -> FeedStatus | None:
    """The status of `feed_status_subquery`'s columns (None: no feed)."""
    if not url:
        return None
    now = now or utcnow()
    error = error or ""
    if not error and fetched_at and now - fetched_at > STALE_AFTER:
        error = "no successful check for over 30 minutes"
    return FeedStatus(
        masked_url=mask_url(url),
        fetched_at=fetched_at,
        checked_at=checked_at,
        error=error,
        busy_count=busy_count or 0,
    )


def feed_status(session: Session, now: datetime | None = None) -> FeedStatus | None:
    """What the Availability page and the dashboard show about the feed (None: no feed)."""
    row = session.execute(select(feed_status_subquery())).first()
    return status_from_row(*row, now=now) if row else None


@shared_task(name="crm.booking.refresh_busy_feed", ignore_result=True)
def refresh_busy_feed_task() -> bool | None:
    """Beat's job: keep the coach's calendar fresh (safe to run twice)."""
    return refresh_busy_feed(db.session)

"""The coach's own calendar (an iCal feed served by a local HTTP server) takes slots away."""

from __future__ import annotations

import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from crm.booking import availability as coach_availability
from crm.booking import busy_feed, services
from crm.booking.errors import AvailabilityError, SlotTaken
from crm.booking.models import BusyFeed

LA = ZoneInfo("America/Los_Angeles")
# Monday 2 March 2026, 08:00 in Los Angeles; the clocks go forward on Sunday 8 March.
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


class _Feed:
    """What the local calendar server answers: a status, a body, an optional delay."""

    def __init__(self) -> None:
        self.status, self.body, self.delay, self.hits = 200, b"", 0.0, 0


@pytest.fixture
def calendar_server():
    feed = _Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            feed.hits += 1
            if feed.delay:
                clock.sleep(feed.delay)
            self.send_response(feed.status)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(feed.body)))
            self.end_headers()
            self.wfile.write(feed.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    feed.url = f"http://127.0.0.1:{server.server_address[1]}/calendar/secret-abc123/basic.ics"
    yield feed
    server.shutdown()
    server.server_close()


def ics(*events: str, extra: str = "") -> bytes:
    body = "\r\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Test//Hero//EN", extra, *events]
        + ["END:VCALENDAR", ""]
    )
    return "\r\n".join(line for line in body.split("\r\n") if line).encode() + b"\r\n"


def event(uid: str, *lines: str) -> str:
    return "\r\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", *lines,
                        "END:VEVENT"])  # fmt: skip


def local_slots(session, day: date) -> set[time]:
    slots = coach_availability.free_slots(session, start_day=day, days=1, now=NOW)
    return {s.start.astimezone(LA).time() for s in slots}


def connect(session, calendar_server, body: bytes) -> None:
    calendar_server.body = body
    busy_feed.save_feed_url(session, calendar_server.url)
    assert busy_feed.refresh_busy_feed(session, now=NOW) is True


ALL_DAY_SLOTS = {time(h, m) for h in (9, 10, 11, 13, 14, 15, 16) for m in (0, 30)}


def test_the_default_day_has_its_usual_slots(db_session, availability):
    assert local_slots(db_session, date(2026, 3, 4)) == ALL_DAY_SLOTS


def test_a_busy_event_takes_the_overlapping_slots_with_the_call_buffer(
    db_session, availability, calendar_server
):
    connect(
        db_session,
        calendar_server,
        ics(
            event(
                "dentist",
                "DTSTART;TZID=America/Los_Angeles:20260304T100000",
                "DTEND;TZID=America/Los_Angeles:20260304T104500",
                "SUMMARY:Dentist",
            )
        ),
    )
    # 10:00 and 10:30 overlap. 11:00 starts after 10:45 plus the 10-minute break, and 9:30
    # ends at 9:50, a break before 10:00: both stay.
    assert local_slots(db_session, date(2026, 3, 4)) == ALL_DAY_SLOTS - {time(10), time(10, 30)}


def test_times_in_utc_and_other_zones_are_read_as_instants(
    db_session, availability, calendar_server
):
    connect(
        db_session,
        calendar_server,
        ics(
            # 09:00-09:40 in Los Angeles, written in UTC.
            event("utc", "DTSTART:20260303T170000Z", "DTEND:20260303T174000Z"),
            # 23:00-23:15 in London is 15:00-15:15 in Los Angeles.
            event(
                "london",
                "DTSTART;TZID=Europe/London:20260303T230000",
                "DTEND;TZID=Europe/London:20260303T231500",
            ),
        ),
    )
    assert local_slots(db_session, date(2026, 3, 3)) == ALL_DAY_SLOTS - {
        time(9),
        time(9, 30),
        time(15),
    }


def test_a_weekly_event_with_exceptions_across_the_dst_change(
    db_session, availability, calendar_server
):
    connect(
        db_session,
        calendar_server,
        ics(
            event(
                "pilates",
                "DTSTART;TZID=America/Los_Angeles:20260305T130000",
                "DTEND;TZID=America/Los_Angeles:20260305T140000",
                "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=4",
                "EXDATE;TZID=America/Los_Angeles:20260312T130000",
            ),
            # The third one moved to 15:00 that week.
            event(
                "pilates",
                "RECURRENCE-ID;TZID=America/Los_Angeles:20260319T130000",
                "DTSTART;TZID=America/Los_Angeles:20260319T150000",
                "DTEND;TZID=America/Los_Angeles:20260319T160000",
            ),
        ),
    )
    # The hour and the call that would start within the 10-minute break after it.
    one_pm = {time(13), time(13, 30), time(14)}
    three_pm = {time(15), time(15, 30), time(16)}
    assert local_slots(db_session, date(2026, 3, 5)) == ALL_DAY_SLOTS - one_pm  # before DST
    assert local_slots(db_session, date(2026, 3, 12)) == ALL_DAY_SLOTS  # the EXDATE
    assert local_slots(db_session, date(2026, 3, 19)) == ALL_DAY_SLOTS - three_pm  # moved
    # After the clocks went forward it is still 13:00 on her wall clock (20:00 UTC, not 21:00).
    assert local_slots(db_session, date(2026, 3, 26)) == ALL_DAY_SLOTS - one_pm
    assert local_slots(db_session, date(2026, 3, 25)) == ALL_DAY_SLOTS  # Thursdays only


def test_all_day_events_block_the_day_and_free_events_block_nothing(
    db_session, availability, calendar_server
):
    connect(
        db_session,
        calendar_server,
        ics(
            event("trip", "DTSTART;VALUE=DATE:20260306", "DTEND;VALUE=DATE:20260307"),
            event(
                "free",
                "DTSTART;TZID=America/Los_Angeles:20260305T090000",
                "DTEND;TZID=America/Los_Angeles:20260305T170000",
                "TRANSP:TRANSPARENT",
            ),
            event(
                "cancelled",
                "DTSTART;TZID=America/Los_Angeles:20260304T090000",
                "DTEND;TZID=America/Los_Angeles:20260304T170000",
                "STATUS:CANCELLED",
            ),
        ),
    )
    assert local_slots(db_session, date(2026, 3, 6)) == set()
    assert local_slots(db_session, date(2026, 3, 5)) == ALL_DAY_SLOTS
    assert local_slots(db_session, date(2026, 3, 4)) == ALL_DAY_SLOTS
    assert local_slots(db_session, date(2026, 3, 9)) == ALL_DAY_SLOTS  # the Monday after


def test_a_feed_that_is_down_keeps_the_last_good_copy_and_warns_the_coach(
    db_session, availability, calendar_server, client, auth, coach
):
    connect(
        db_session,
        calendar_server,
        ics(event("x", "DTSTART;VALUE=DATE:20260306", "DTEND;VALUE=DATE:20260307")),
    )
    calendar_server.status, calendar_server.body = 503, b"down"
    assert busy_feed.refresh_busy_feed(db_session, now=NOW + timedelta(minutes=5)) is False
    assert local_slots(db_session, date(2026, 3, 6)) == set()  # still blocked
    status = busy_feed.feed_status(db_session, NOW + timedelta(minutes=6))
    assert "503" in status.warning and "last successful check" in status.warning
    assert status.busy_count == 1  # the last good copy's busy time, counted

    auth.login(coach)
    page = client.get("/coach/availability").get_data(as_text=True)
    assert 'id="calendar-warning"' in page and "503" in page
    dashboard = client.get("/coach").get_data(as_text=True)
    assert 'id="calendar-warning"' in dashboard

    calendar_server.status = 200
    calendar_server.body = ics()
    assert busy_feed.refresh_busy_feed(db_session, now=NOW + timedelta(minutes=10)) is True
    assert local_slots(db_session, date(2026, 3, 6)) == ALL_DAY_SLOTS
    assert busy_feed.feed_status(db_session, NOW + timedelta(minutes=11)).warning == ""


def test_a_slow_or_huge_feed_is_cut_off(db_session, availability, calendar_server):
    calendar_server.delay = 2.0
    with pytest.raises(busy_feed.FeedError, match="reached"):
        busy_feed.fetch_ics(calendar_server.url, timeout=0.5)
    calendar_server.delay = 0
    calendar_server.body = b"X" * (busy_feed.MAX_BYTES + 10)
    with pytest.raises(busy_feed.FeedError, match="too large"):
        busy_feed.fetch_ics(calendar_server.url, timeout=5)
    calendar_server.body = b"<html>not a calendar</html>"
    busy_feed.save_feed_url(db_session, calendar_server.url)
    assert busy_feed.refresh_busy_feed(db_session, now=NOW) is False
    assert "could not be read" in busy_feed.feed_status(db_session, NOW).warning


def test_booking_checks_the_calendar_again_at_booking_time(
    db_session, availability, calendar_server
):
    connect(db_session, calendar_server, ics())
    start = datetime(2026, 3, 4, 10, 0, tzinfo=LA)
    # She adds an appointment after beat's last read; the booking reads the calendar again.
    calendar_server.body = ics(
        event(
            "late",
            "DTSTART;TZID=America/Los_Angeles:20260304T100000",
            "DTEND;TZID=America/Los_Angeles:20260304T103000",
        )
    )
    hits = calendar_server.hits
    with pytest.raises(SlotTaken):
        services.book_call(
            db_session,
            name="Maria Lopez",
            email="maria@example.com",
            slot_start=start,
            timezone="America/New_York",
            now=NOW,
        )
    assert calendar_server.hits == hits + 1
    # When the calendar is down at booking time, the last good copy decides, quickly.
    calendar_server.status = 500
    with pytest.raises(SlotTaken):
        services.book_call(
            db_session,
            name="Maria Lopez",
            email="maria@example.com",
            slot_start=start,
            timezone="America/New_York",
            now=NOW,
        )
    booking = services.book_call(
        db_session,
        name="Maria Lopez",
        email="maria@example.com",
        slot_start=datetime(2026, 3, 4, 11, 0, tzinfo=LA),
        timezone="America/New_York",
        now=NOW,
    )
    assert booking.id


def test_a_link_local_address_is_never_fetched():
    with pytest.raises(busy_feed.FeedError, match="can't be a calendar"):
        busy_feed.fetch_ics("http://169.254.169.254/latest/meta-data/", timeout=1)


@pytest.mark.parametrize(
    "raw",
    ["file:///etc/passwd", "ftp://example.com/cal.ics", "javascript:alert(1)", "not a url"],
)
def test_only_web_addresses_are_accepted(db_session, raw):
    with pytest.raises(AvailabilityError):
        busy_feed.save_feed_url(db_session, raw)
    assert db_session.query(BusyFeed).count() == 0


def test_webcal_addresses_are_fetched_over_https(db_session):
    feed = busy_feed.save_feed_url(db_session, "webcal://p01-caldav.icloud.com/published/2/abc")
    assert feed.url == "https://p01-caldav.icloud.com/published/2/abc"


def test_the_page_saves_the_address_and_shows_it_masked(
    db_session, availability, calendar_server, client, auth, coach
):
    auth.login(coach)
    calendar_server.body = ics()
    response = client.post("/coach/availability/calendar", data={"url": calendar_server.url})
    assert response.status_code == 302
    page = client.get("/coach/availability").get_data(as_text=True)
    assert "secret-abc123" not in page
    assert "http://127.0.0.1/••••••" in page and "Connected" in page
    bad = client.post("/coach/availability/calendar", data={"url": "file:///etc/passwd"})
    assert bad.status_code == 422
    assert "https:// or webcal://" in bad.get_data(as_text=True)
    assert busy_feed.get_feed(db_session).url == calendar_server.url  # unchanged
    client.post("/coach/availability/calendar/remove")
    assert busy_feed.get_feed(db_session) is None


def test_beat_refreshes_the_feed_every_few_minutes(app):
    entry = app.extensions["celery"].conf.beat_schedule["busy-feed-refresh"]
    assert entry["task"] == "crm.booking.refresh_busy_feed"
    assert entry["schedule"] <= 600

"""The coach chooses how free calls happen: a phone call (a number is required and the emails
and invite name it) or a video call (its link in the confirmation, the .ics and the reminders:
her fixed link, or a private Jitsi Meet room per booking)."""

from __future__ import annotations

import pytest
from icalendar import Calendar
from sqlalchemy import select

from crm.booking import calls
from crm.booking.errors import AvailabilityError, BookingInvalid
from crm.booking.models import Booking
from tasks.models import OutboxEmail
from tasks.render import render_deferred


def _emails(db_session, booking: Booking) -> list[OutboxEmail]:
    """The booking's emails as the worker sends them: those queued with their data are rendered
    here as the sender renders them (the booking request only queues them)."""
    rows = list(
        db_session.scalars(select(OutboxEmail).where(OutboxEmail.lead_id == booking.lead_id))
    )
    for row in rows:
        if row.render is not None:
            row.subject, row.html, row.text, row.attachments = render_deferred(
                db_session, row.template, row.to_email, row.category, row.render
            )
    return rows


def _location(row: OutboxEmail) -> str:
    import base64

    (attachment,) = row.attachments
    event = Calendar.from_ical(base64.b64decode(attachment["data"])).walk("VEVENT")[0]
    return str(event["LOCATION"])


def test_a_phone_call_needs_a_number_and_the_emails_and_invite_name_it(db_session, book):
    calls.save_call_settings(db_session, call_kind="phone")
    with pytest.raises(BookingInvalid) as refused:
        book()
    assert refused.value.errors == {"phone": calls.PHONE_NEEDED}
    assert db_session.scalar(select(Booking.id)) is None

    booking = book(phone="+1 555 0142")
    assert booking.call_kind == "phone" and booking.meeting_url == ""
    emails = _emails(db_session, booking)
    confirmation = next(r for r in emails if r.template == "booking_confirmation")
    assert "Coach Ali will call you on +1 555 0142." in confirmation.text
    assert _location(confirmation) == "Phone call to +1 555 0142"
    reminders = [r for r in emails if r.template == "booking_reminder"]
    assert reminders and all("call you on +1 555 0142" in r.text for r in reminders)


def test_a_video_call_gets_its_own_jitsi_room_everywhere(db_session, book):
    first = book()  # video is the default
    second = book(email="keiko@example.com", slot_index=3)
    assert first.call_kind == "video"
    for booking in (first, second):
        assert booking.meeting_url.startswith("https://meet.jit.si/0to5KHero-")
        assert len(booking.meeting_url) > len("https://meet.jit.si/0to5KHero-") + 24
    assert first.meeting_url != second.meeting_url
    emails = _emails(db_session, first)
    confirmation = next(r for r in emails if r.template == "booking_confirmation")
    assert first.meeting_url in confirmation.text and first.meeting_url in confirmation.html
    assert "will call you" not in confirmation.text
    assert _location(confirmation) == first.meeting_url
    reminders = [r for r in emails if r.template == "booking_reminder"]
    assert reminders and all(first.meeting_url in r.text for r in reminders)


def test_the_coachs_fixed_link_is_used_for_every_call(db_session, book):
    calls.save_call_settings(db_session, call_kind="video", video_link="https://zoom.us/j/123")
    booking = book()
    assert booking.meeting_url == "https://zoom.us/j/123"


def test_a_bad_link_is_refused_with_a_message(db_session):
    with pytest.raises(AvailabilityError) as refused:
        calls.save_call_settings(db_session, call_kind="video", video_link="javascript:alert(1)")
    assert "video_link" in refused.value.errors


def test_the_coach_sets_the_call_type_on_a_page_and_the_booking_page_follows(
    client, auth, coach, availability
):
    auth.login(coach)
    page = client.get("/coach/call-settings")
    assert page.status_code == 200
    bad = client.post("/coach/call-settings", data={"call_kind": "video", "video_link": "zoom"})
    assert bad.status_code == 422
    assert "Paste the full https:// address" in bad.get_data(as_text=True)
    saved = client.post("/coach/call-settings", data={"call_kind": "phone", "video_link": ""})
    assert saved.status_code == 302
    auth.logout()
    book = client.get("/book").get_data(as_text=True)
    assert "Phone (Coach Ali will call you)" in book and "phone call with Coach Ali" in book
    refused = client.post("/book", data={"name": "Ana", "email": "ana@example.com", "tz": "UTC",
                                         "slot": "2030-01-01T10:00:00+00:00"})  # fmt: skip
    assert refused.status_code == 422
    assert calls.PHONE_NEEDED.replace("'", "&#39;") in refused.get_data(as_text=True)

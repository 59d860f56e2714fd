"""The booking pages: /book, the confirmation, the manage link, the coach's availability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm.booking import availability as coach_availability
from crm.booking import emails as booking_emails
from crm.booking.models import AvailabilityWindow, Booking, BookingStatus, DayOff
from crm.leads.models import Lead, Stage


def form_data(start: datetime, tz: str = "America/New_York", **kw) -> dict:
    data = {
        "slot": start.astimezone(ZoneInfo(tz)).isoformat(),
        "tz": tz,
        "name": "Jo Runner",
        "email": "jo@example.com",
        "phone": "",
        "goal_race": "Disney Princess 5K",
        "goal_date": "",
        "pain_notes": "Shin splints",
        "pain_level": "3",
        "heard_from": "Instagram",
    }
    data.update(kw)
    return data


def leads(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Lead))


def test_book_page_lists_free_slots_in_the_visitors_zone(client, free_slot):
    slot = free_slot(0)
    response = client.get("/book?tz=Europe/London")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Europe/London" in page
    assert slot.start.astimezone(ZoneInfo("Europe/London")).isoformat() in page
    assert (
        'name="marketing_consent"' in page
        and "checked" not in page.split('name="marketing_consent"')[1].split(">")[0]
    )
    assert "js/booking." in page and "<script>" not in page


def test_book_page_with_an_unknown_zone_says_so_and_uses_the_coachs(client, availability):
    response = client.get("/book?tz=Mars/Olympus")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "We don&#39;t know the time zone" in page
    assert 'name="tz" value="America/Los_Angeles"' in page


def test_book_page_without_availability_says_what_to_do(client):
    page = client.get("/book").get_data(as_text=True)
    assert "No free times on these days" in page


def test_booking_through_the_page_keeps_utm_and_shows_the_confirmation(
    client, db_session, free_slot
):
    slot = free_slot(0)
    landing = client.get("/book?tz=America/New_York&utm_source=newsletter&utm_campaign=may")
    assert 'name="utm_source" value="newsletter"' in landing.get_data(as_text=True)
    response = client.post(
        "/book",
        data=form_data(
            slot.start, utm_source="newsletter", utm_campaign="may", marketing_consent="y"
        ),
    )
    assert response.status_code == 302
    assert "/book/confirmed/" in response.headers["Location"]
    lead = db_session.scalar(select(Lead))
    assert lead.source == "newsletter"
    assert lead.utm == {"utm_source": "newsletter", "utm_campaign": "may"}
    assert lead.stage == Stage.CALL_BOOKED and lead.marketing_consent is True
    assert lead.pain_level == 3 and lead.heard_from == "Instagram"
    confirmation = client.get(response.headers["Location"])
    assert confirmation.status_code == 200
    text = confirmation.get_data(as_text=True)
    assert "You're booked!" in text and "jo@example.com" in text


BAD_FORM_INPUT = (
    ({"email": "nope"}, "Enter a valid email address."),
    ({"name": ""}, "Tell us your name."),
    ({"name": "x" * 500}, "Field cannot be longer than 120 characters."),
    ({"pain_notes": "x" * 5000}, "Field cannot be longer than 2000 characters."),
    ({"pain_level": "42"}, "Not a valid choice."),
    ({"goal_date": "31/31/2020"}, "Not a valid date value."),
    ({"slot": "yesterday"}, "Pick one of the times shown."),
    ({"slot": ""}, "Pick a time for your call."),
    ({"utm_source": "u" * 300}, "Field cannot be longer than 120 characters."),
)


def test_bad_form_input_shows_the_form_again_with_a_message(
    client, db_session, free_slot, subtests
):
    start = free_slot(0).start
    for change, message in BAD_FORM_INPUT:
        with subtests.test(change=str(change)[:40]):
            response = client.post("/book", data=form_data(start) | change)
            assert response.status_code == 422
            assert message in response.get_data(as_text=True)
    assert leads(db_session) == 0


def test_unknown_zone_on_post_is_a_field_error(client, db_session, free_slot):
    data = form_data(free_slot(0).start) | {"tz": "Mars/Olympus"}
    response = client.post("/book", data=data)
    assert response.status_code == 422
    assert "Pick your time zone from the list." in response.get_data(as_text=True)
    assert leads(db_session) == 0


RULE_BREAKERS = (
    (lambda slot: datetime.now(UTC) - timedelta(days=1), "already passed"),
    (lambda slot: datetime.now(UTC) + timedelta(hours=1), "at least 12 hours ahead"),
    (lambda slot: slot + timedelta(minutes=7), "Calls start at set times"),
    (lambda slot: slot + timedelta(days=60), "up to 30 days ahead"),
)


def test_slot_that_breaks_the_rules_shows_the_form_again(client, db_session, free_slot, subtests):
    first = free_slot(0).start
    for when, message in RULE_BREAKERS:
        with subtests.test(message):
            start = when(first).replace(second=0, microsecond=0)
            response = client.post("/book", data=form_data(start))
            assert response.status_code == 422
            assert message in response.get_data(as_text=True)
    assert leads(db_session) == 0


def test_slot_outside_availability_is_refused(client, db_session, free_slot, availability):
    start = free_slot(0).start.astimezone(availability.tz).replace(hour=12, minute=30)
    response = client.post("/book", data=form_data(start))
    assert response.status_code == 422
    assert "isn&#39;t taking calls at that time" in response.get_data(as_text=True)


def test_taken_slot_says_just_taken_and_offers_fresh_slots(client, db_session, book, free_slot):
    taken = book().start_at
    response = client.post("/book", data=form_data(taken, email="late@example.com"))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "that time was just taken" in page
    assert taken.astimezone(ZoneInfo("America/New_York")).isoformat() not in page
    assert free_slot(0).start.astimezone(ZoneInfo("America/New_York")).isoformat() in page
    assert 'value="late@example.com"' in page  # what they typed is kept


def test_booking_post_is_rate_limited(client, free_slot):
    codes = [client.post("/book", data={"tz": "UTC"}).status_code for _ in range(11)]
    assert codes[:10] == [422] * 10
    assert codes[10] == 429


# --- manage link -----------------------------------------------------------------------------


def test_manage_page_shows_the_booking_and_other_times(client, book):
    booking = book()
    token = booking_emails.make_manage_token(booking)
    page = client.get(f"/manage/{token}").get_data(as_text=True)
    assert "Your free call" in page and "Maria Lopez" in page
    assert "Move my call" in page and 'data-confirm="Cancel your free call' in page
    assert client.get(f"/manage/{token}/invite.ics").mimetype == "text/calendar"


def test_manage_page_rejects_a_tampered_token(client, book):
    token = booking_emails.make_manage_token(book())
    response = client.get(f"/manage/{token[:-3]}xyz")
    assert response.status_code == 404
    assert "This link is not valid" in response.get_data(as_text=True)


def test_rescheduling_from_the_manage_page_moves_the_call(client, db_session, book, free_slot):
    booking = book()
    token = booking_emails.make_manage_token(booking)
    target = free_slot(3).start
    response = client.post(
        f"/manage/{token}/reschedule",
        data={"slot": target.isoformat(), "tz": "America/New_York"},
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Booking, booking.id).slot_start is None
    new = db_session.scalar(select(Booking).where(Booking.rescheduled_from_id == booking.id))
    assert new.start_at == target
    assert "has been moved" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_rescheduling_to_a_bad_time_shows_the_error(client, db_session, book):
    booking = book()
    token = booking_emails.make_manage_token(booking)
    response = client.post(
        f"/manage/{token}/reschedule", data={"slot": "2001-01-01T09:00:00+00:00", "tz": "UTC"}
    )
    assert response.status_code == 422
    assert "already passed" in response.get_data(as_text=True)


def test_cancelling_from_the_manage_page_frees_the_slot(client, db_session, book):
    booking = book()
    token = booking_emails.make_manage_token(booking)
    response = client.post(f"/manage/{token}/cancel")
    assert response.status_code == 302
    db_session.expire_all()
    booking = db_session.get(Booking, booking.id)
    assert booking.status == BookingStatus.CANCELLED and booking.slot_start is None
    page = client.get(f"/manage/{token}").get_data(as_text=True)
    assert "This call is cancelled" in page


# --- the coach -------------------------------------------------------------------------------


COACH_ROUTES = [
    ("get", "/coach/availability"),
    ("post", "/coach/availability"),
    ("post", "/coach/availability/days-off"),
    ("post", "/coach/availability/days-off/1/delete"),
    ("post", "/coach/bookings/1/outcome"),
]


def test_coach_pages_send_anonymous_visitors_to_login(client, subtests):
    for method, url in COACH_ROUTES:
        with subtests.test(url):
            response = getattr(client, method)(url)
            assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_coach_pages_refuse_runners(client, auth, make_user, subtests):
    auth.login(make_user(role="runner"))
    for method, url in COACH_ROUTES:
        with subtests.test(url):
            assert getattr(client, method)(url).status_code == 403


def availability_form(**kw) -> dict:
    data = {
        "timezone": "America/Los_Angeles",
        "call_minutes": "30",
        "buffer_minutes": "0",
        "min_notice_hours": "2",
        "horizon_days": "10",
        "windows-0-weekday": "5",
        "windows-0-start": "08:00",
        "windows-0-end": "10:00",
        "windows-1-weekday": "0",
        "windows-1-start": "",
        "windows-1-end": "",
    }
    data.update(kw)
    return data


def test_coach_sees_and_saves_availability(client, auth, coach, db_session, availability):
    auth.login(coach)
    page = client.get("/coach/availability").get_data(as_text=True)
    assert 'value="09:00"' in page and "Days off" in page
    assert ">Availability</a>" in page  # the nav link
    response = client.post("/coach/availability", data=availability_form())
    assert response.status_code == 302
    rules = coach_availability.load_rules(db_session)
    assert rules.call_minutes == 30 and rules.horizon_days == 10
    assert [(w.weekday, w.start.hour, w.end.hour) for w in rules.windows] == [(5, 8, 10)]


AVAILABILITY_ERRORS = (
    ({"windows-0-end": "07:00"}, "The end must be after the start."),
    (
        {"windows-1-weekday": "5", "windows-1-start": "09:00", "windows-1-end": "11:00"},
        "Overlaps another Saturday window.",
    ),
    ({"windows-0-end": ""}, "Give both a start and an end."),
    ({"call_minutes": "0"}, "Number must be between 10 and 120."),
    ({"horizon_days": "abc"}, "Not a valid integer value."),
    ({"windows-0-start": "25:99"}, "Not a valid time value."),
)


def test_availability_form_errors_show_per_field(
    client, auth, coach, db_session, availability, subtests
):
    auth.login(coach)
    for change, message in AVAILABILITY_ERRORS:
        with subtests.test(message):
            response = client.post("/coach/availability", data=availability_form(**change))
            assert response.status_code == 422
            assert message in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(AvailabilityWindow)) == 10


def test_coach_adds_and_removes_a_day_off(client, auth, coach, db_session, availability):
    auth.login(coach)
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    response = client.post(
        "/coach/availability/days-off", data={"day": day.isoformat(), "note": "Race"}
    )
    assert response.status_code == 302
    day_off = db_session.scalar(select(DayOff))
    assert day_off.day == day
    again = client.post("/coach/availability/days-off", data={"day": day.isoformat()})
    assert again.status_code == 422 and "already off" in again.get_data(as_text=True)
    client.post(f"/coach/availability/days-off/{day_off.id}/delete")
    assert db_session.scalar(select(func.count()).select_from(DayOff)) == 0


def _past_booking(db_session, lead) -> Booking:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    booking = Booking(
        lead=lead,
        start_at=start,
        end_at=start + timedelta(minutes=20),
        slot_start=start,
        timezone="UTC",
    )
    db_session.add(booking)
    db_session.commit()
    return booking


def test_marking_a_call_held_redirects_to_a_local_next(client, auth, coach, db_session, make_lead):
    lead = make_lead(stage=Stage.CALL_BOOKED)
    booking = _past_booking(db_session, lead)
    auth.login(coach)
    response = client.post(
        f"/coach/bookings/{booking.id}/outcome",
        data={"outcome": "held", "next": "/coach/leads?x=1"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/coach/leads?x=1"
    db_session.expire_all()
    assert db_session.get(Lead, lead.id).stage == Stage.CALL_HELD


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:x", ""]
)
def test_outcome_never_redirects_off_site(client, auth, coach, db_session, make_lead, target):
    booking = _past_booking(db_session, make_lead(stage=Stage.CALL_BOOKED))
    auth.login(coach)
    response = client.post(
        f"/coach/bookings/{booking.id}/outcome", data={"outcome": "no_show", "next": target}
    )
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")


def test_outcome_for_an_unknown_booking_is_404(client, auth, coach):
    auth.login(coach)
    assert client.post("/coach/bookings/999/outcome", data={"outcome": "held"}).status_code == 404

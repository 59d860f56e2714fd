"""Booking services on the real databases: leads, stages, timeline, outbox, reschedule, cancel."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.booking import availability as coach_availability
from crm.booking import emails as booking_emails
from crm.booking import services
from crm.booking.errors import (
    AvailabilityError,
    BookingError,
    BookingInvalid,
    InvalidToken,
    SlotTaken,
)
from crm.booking.models import AvailabilityWindow, Booking, BookingStatus, DayOff
from crm.booking.slots import InvalidSlot
from crm.leads.models import Lead, LeadEvent, Stage
from crm.time import utcnow, zone
from tasks.models import OutboxEmail


def events(db_session, lead) -> list[str]:
    return list(
        db_session.scalars(
            select(LeadEvent.kind).where(LeadEvent.lead_id == lead.id).order_by(LeadEvent.id)
        )
    )


def outbox(db_session, template: str) -> list[OutboxEmail]:
    return list(db_session.scalars(select(OutboxEmail).where(OutboxEmail.template == template)))


def sent(db_session, row: OutboxEmail) -> OutboxEmail:
    """The row once the worker has sent it: a booking's emails are rendered, and their .ics
    built, at send time (SMTP is off in tests: "sent" to the outbox)."""
    from tasks.sender import send_email

    if row.render is not None:
        assert row.html == "" and row.attachments == []  # nothing rendered in the request
        assert send_email.apply(args=[row.id]).get() == "sent"
        db_session.refresh(row)
        assert row.render is None
    return row


def ics_of(row: OutboxEmail) -> Calendar:
    row = sent(_session_of(row), row)
    (attachment,) = row.attachments
    assert attachment["filename"].endswith(".ics")
    assert attachment["content_type"].startswith("text/calendar")
    return Calendar.from_ical(base64.b64decode(attachment["data"]))


def _session_of(row: OutboxEmail):
    from sqlalchemy.orm import object_session

    return object_session(row)


def test_booking_creates_the_lead_the_booking_the_stage_and_the_timeline(db_session, book):
    booking = book(
        phone="555 0100",
        goal_race="Disneyland 5K",
        goal_date=date.today() + timedelta(days=90),
        pain_level=4,
        pain_notes="Left knee after 2 miles",
        heard_from="Instagram",
        marketing_consent=True,
        utm={"utm_source": "instagram", "utm_campaign": "spring"},
    )
    lead = db_session.get(Lead, booking.lead_id)
    assert lead.email == "maria@example.com"
    assert lead.stage == Stage.CALL_BOOKED
    assert (lead.goal_race, lead.pain_level, lead.pain_notes) == (
        "Disneyland 5K",
        4,
        "Left knee after 2 miles",
    )
    assert lead.source == "instagram"
    assert lead.utm == {"utm_source": "instagram", "utm_campaign": "spring"}
    assert lead.marketing_consent is True and lead.consent_at is not None
    assert lead.timezone == "America/New_York"
    assert booking.slot_start == booking.start_at
    assert booking.end_at - booking.start_at == timedelta(minutes=20)
    assert booking.status == BookingStatus.BOOKED
    kinds = events(db_session, lead)
    assert kinds[:3] == ["created", "stage_changed", "booked"]
    assert "email_queued" in kinds


def test_lead_without_utm_is_direct_and_without_consent_stays_unconsented(db_session, book):
    lead = book().lead
    assert lead.source == "direct"
    assert lead.marketing_consent is False and lead.consent_at is None


def test_booking_again_with_the_same_email_in_other_case_updates_one_lead(db_session, book):
    first = book(email="Maria@Example.com", utm={"utm_source": "google"})
    services.cancel_booking(db_session, first.id)
    second = book(email="  MARIA@example.COM ", slot_index=3, phone="555 0199")
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 1
    assert second.lead_id == first.lead_id
    lead = second.lead
    assert lead.phone == "555 0199"
    assert lead.source == "google"  # first touch is kept
    assert lead.stage == Stage.CALL_BOOKED


def test_two_bookings_at_once_with_one_new_email_make_one_lead(db_session, book, monkeypatch):
    """Two tabs, two slots, one new email, at once: the second request looked for her before
    the first had made her lead, so its INSERT of the lead breaks the email's uniqueness. It is
    made once more, finds her lead and merges into it: two calls, one lead, no error."""
    first = book(email="twice@example.com")
    real = services._check_free  # which looks her lead up with the slot's clash check
    looks: list[str] = []

    def missed_once(*args, **kwargs):  # the second request's look-up, before the first commits
        looks.append(kwargs["lead_email"])
        lead_id = real(*args, **kwargs)
        return None if len(looks) == 1 else lead_id

    monkeypatch.setattr(services, "_check_free", missed_once)
    second = book(email="twice@example.com", slot_index=3)
    assert len(looks) >= 2  # looked, missed, broke the uniqueness, looked again
    assert second.lead_id == first.lead_id
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 1
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 2


def test_a_broken_uniqueness_that_is_not_that_race_still_fails(db_session, book, monkeypatch):
    """Her look-up misses every time (not a race): the booking is not tried forever."""
    book(email="stuck@example.com")
    real = services._check_free
    monkeypatch.setattr(services, "_check_free", lambda *a, **k: real(*a, **k) and None)
    with pytest.raises(IntegrityError):
        book(email="stuck@example.com", slot_index=3)


def test_confirmation_is_queued_with_ics_and_manage_link(db_session, book):
    booking = book()
    (row,) = outbox(db_session, "booking_confirmation")
    assert row.to_email == "maria@example.com"
    assert row.lead_id == booking.lead_id
    row = sent(db_session, row)
    assert "/manage/" in row.text
    cal = ics_of(row)
    assert str(cal["method"]) == "REQUEST"
    (event,) = cal.walk("VEVENT")
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start.astimezone(UTC) == booking.start_at
    assert end.astimezone(UTC) == booking.end_at
    assert event["dtstart"].params["TZID"] == "America/New_York"
    assert cal.walk("VTIMEZONE")[0]["tzid"] == "America/New_York"
    assert event.decoded("dtstamp").tzinfo is not None
    assert str(event["uid"]) == f"booking-{booking.id}@localhost"
    assert "maria@example.com" in str(event["attendee"])


def test_ics_uid_is_stable_across_a_reschedule_and_cancel_says_cancel(db_session, book, free_slot):
    booking = book()
    moved = services.reschedule_booking(db_session, booking.id, free_slot(5).start)
    (row,) = outbox(db_session, "booking_rescheduled")
    (event,) = ics_of(row).walk("VEVENT")
    assert str(event["uid"]) == f"booking-{booking.id}@localhost"
    assert int(event["sequence"]) == 1
    assert event.decoded("dtstart").astimezone(UTC) == moved.start_at
    services.cancel_booking(db_session, moved.id)
    (row,) = outbox(db_session, "booking_cancelled")
    cal = ics_of(row)
    assert str(cal["method"]) == "CANCEL"
    (event,) = cal.walk("VEVENT")
    assert str(event["uid"]) == f"booking-{booking.id}@localhost"
    assert int(event["sequence"]) == 2


def test_second_booking_of_a_slot_is_refused(db_session, book, free_slot):
    first = book()
    with pytest.raises(SlotTaken):
        book(email="other@example.com", slot_start=first.start_at)
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 1
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 1  # nothing half-written


def test_unique_slot_in_the_database_refuses_a_double_booking_past_the_check(
    db_session, book, free_slot, monkeypatch
):
    """Two visitors who both passed the free-slot check: the UNIQUE slot_start decides."""
    first = book()
    monkeypatch.setattr(services, "_check_free", lambda *a, **k: None)
    with pytest.raises(SlotTaken):
        book(email="other@example.com", slot_start=first.start_at)
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 1


def test_slot_inside_the_buffer_of_another_call_is_taken(db_session, book, free_slot):
    first = book()
    settings = coach_availability.coach_settings(db_session)
    settings.buffer_minutes = 0
    settings.call_minutes = 10  # the grid now has 10-minute steps
    db_session.commit()
    with pytest.raises(SlotTaken):
        book(email="b@example.com", slot_start=first.start_at + timedelta(minutes=10))


BAD_FIELDS = (
    ({"email": "not-an-email"}, "email"),
    ({"name": "  "}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"pain_notes": "x" * 2001}, "pain_notes"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"pain_level": 11}, "pain_level"),
    ({"goal_date": date(2000, 1, 1)}, "goal_date"),
    ({"utm": {"utm_source": "x" * 121}}, "utm"),
)


def test_bad_fields_are_refused_per_field_and_nothing_is_written(db_session, book, subtests):
    for overrides, field in BAD_FIELDS:
        with subtests.test(field):
            with pytest.raises(BookingInvalid) as caught:
                book(**overrides)
            assert field in caught.value.errors
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 0


def test_slot_outside_the_rules_is_refused(db_session, book, availability):
    with pytest.raises(InvalidSlot) as caught:
        book(slot_start=utcnow() - timedelta(hours=1))
    assert caught.value.reason == "past"
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 0


def test_reschedule_frees_the_old_slot_and_links_the_new_booking(db_session, book, free_slot):
    booking = book()
    old_start, target = booking.start_at, free_slot(4).start
    new = services.reschedule_booking(db_session, booking.id, target)
    db_session.refresh(booking)
    assert booking.status == BookingStatus.RESCHEDULED
    assert booking.slot_start is None
    assert new.rescheduled_from_id == booking.id
    assert new.slot_start == new.start_at == target
    assert old_start in [s.start for s in coach_availability.free_slots(db_session, days=14)]
    assert "rescheduled" in events(db_session, booking.lead)
    # and someone else can now book the old time
    other = book(email="other@example.com", slot_start=old_start)
    assert other.slot_start == old_start


def test_reschedule_to_a_taken_slot_keeps_the_original_booking(db_session, book, free_slot):
    mine = book()
    theirs = book(email="other@example.com", slot_index=1)
    with pytest.raises(SlotTaken):
        services.reschedule_booking(db_session, mine.id, theirs.start_at)
    db_session.refresh(mine)
    assert mine.status == BookingStatus.BOOKED and mine.slot_start == mine.start_at


def test_cancel_frees_the_slot_and_moves_the_lead_back_to_new(db_session, book):
    booking = book()
    services.cancel_booking(db_session, booking.id)
    db_session.refresh(booking)
    assert booking.status == BookingStatus.CANCELLED
    assert booking.slot_start is None and booking.cancelled_at is not None
    assert booking.start_at in [s.start for s in coach_availability.free_slots(db_session, days=14)]
    assert booking.lead.stage == Stage.NEW
    assert "cancelled" in events(db_session, booking.lead)
    with pytest.raises(BookingError):
        services.cancel_booking(db_session, booking.id)


def _past_booking(db_session, lead) -> Booking:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    booking = Booking(
        lead=lead,
        start_at=start,
        end_at=start + timedelta(minutes=20),
        slot_start=start,
        timezone="America/Los_Angeles",
    )
    db_session.add(booking)
    db_session.commit()
    return booking


def test_held_call_moves_the_lead_to_call_held_with_the_actor(db_session, make_lead, coach):
    lead = make_lead(stage=Stage.CALL_BOOKED)
    booking = _past_booking(db_session, lead)
    services.mark_call_outcome(db_session, booking.id, "held", coach.id)
    assert booking.status == BookingStatus.HELD
    assert lead.stage == Stage.CALL_HELD
    event = db_session.scalar(select(LeadEvent).where(LeadEvent.kind == "call_held"))
    assert event.actor_id == coach.id


def test_no_show_keeps_the_stage_and_goes_on_the_timeline(db_session, make_lead, coach):
    lead = make_lead(stage=Stage.CALL_BOOKED)
    booking = _past_booking(db_session, lead)
    services.mark_call_outcome(db_session, booking.id, "no_show", coach.id)
    assert booking.status == BookingStatus.NO_SHOW
    assert lead.stage == Stage.CALL_BOOKED
    assert "no_show" in events(db_session, lead)


def test_outcome_is_refused_for_a_future_call_or_an_unknown_outcome(db_session, book, coach):
    booking = book()
    with pytest.raises(BookingError):
        services.mark_call_outcome(db_session, booking.id, "held", coach.id)
    with pytest.raises(BookingError):
        services.mark_call_outcome(db_session, booking.id, "maybe", coach.id)
    assert booking.status == BookingStatus.BOOKED


def test_manage_token_finds_the_booking_and_follows_a_reschedule(db_session, book, free_slot):
    booking = book()
    token = booking_emails.make_manage_token(booking)
    assert services.booking_from_token(db_session, token).id == booking.id
    new = services.reschedule_booking(db_session, booking.id, free_slot(2).start)
    assert services.booking_from_token(db_session, token).id == new.id


def test_tampered_or_expired_manage_token_is_rejected(db_session, book):
    booking = book()
    token = booking_emails.make_manage_token(booking)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(InvalidToken):
        services.booking_from_token(db_session, tampered)
    with pytest.raises(InvalidToken):
        services.booking_from_token(db_session, "nonsense")
    with pytest.raises(InvalidToken, match="expired"):
        services.booking_from_token(db_session, token, now=booking.end_at + timedelta(seconds=1))


def test_token_signed_with_another_salt_is_rejected(db_session, book, app):
    from itsdangerous import URLSafeSerializer

    booking = book()
    forged = URLSafeSerializer(app.config["SECRET_KEY"], salt="password-reset").dumps(
        {"b": booking.id, "exp": 4102444800}
    )
    with pytest.raises(InvalidToken):
        services.booking_from_token(db_session, forged)


# --- availability ----------------------------------------------------------------------------


def test_default_availability_is_added_once(db_session):
    assert coach_availability.ensure_default_availability(db_session) is True
    assert coach_availability.ensure_default_availability(db_session) is False
    windows = db_session.scalars(select(AvailabilityWindow)).all()
    assert len(windows) == 10
    assert {(w.start_time, w.end_time) for w in windows} == {
        (time(9), time(12)),
        (time(13), time(17)),
    }
    assert {w.weekday for w in windows} == {0, 1, 2, 3, 4}


def save(db_session, **kw):
    kw.setdefault("timezone", "America/Los_Angeles")
    kw.setdefault("call_minutes", 30)
    kw.setdefault("buffer_minutes", 15)
    kw.setdefault("min_notice_hours", 24)
    kw.setdefault("horizon_days", 14)
    kw.setdefault("windows", [(0, time(9), time(12)), (0, time(14), time(16))])
    return coach_availability.save_availability(db_session, **kw)


def test_save_availability_replaces_windows_and_settings(db_session):
    coach_availability.ensure_default_availability(db_session)
    save(db_session)
    rules = coach_availability.load_rules(db_session)
    assert (rules.call_minutes, rules.buffer_minutes, rules.min_notice_hours) == (30, 15, 24)
    assert len(rules.windows) == 2


BAD_SETTINGS = (
    ({"windows": [(1, time(12), time(9))]}, "windows-0"),
    ({"windows": [(1, time(9), time(12)), (1, time(11), time(13))]}, "windows-1"),
    ({"windows": [(1, time(9), time(9, 20))]}, "windows-0"),  # shorter than one call
    ({"call_minutes": 0}, "call_minutes"),
    ({"buffer_minutes": 500}, "buffer_minutes"),
    ({"horizon_days": 0}, "horizon_days"),
    ({"min_notice_hours": -1}, "min_notice_hours"),
    ({"timezone": "Nowhere/Land"}, "timezone"),
)


def test_save_availability_refuses_bad_settings(db_session, subtests):
    coach_availability.ensure_default_availability(db_session)
    for overrides, field in BAD_SETTINGS:
        with subtests.test(field):
            with pytest.raises(AvailabilityError) as caught:
                save(db_session, **overrides)
            assert field in caught.value.errors
    assert coach_availability.load_rules(db_session).call_minutes == 20  # unchanged


def test_day_off_removes_that_days_slots(db_session, availability, free_slot):
    slot = free_slot(0)
    day = slot.start.astimezone(availability.tz).date()
    coach_availability.add_day_off(db_session, day, "Race weekend")
    assert all(
        s.start.astimezone(availability.tz).date() != day
        for s in coach_availability.free_slots(db_session, days=14)
    )
    with pytest.raises(AvailabilityError):
        coach_availability.add_day_off(db_session, day)
    with pytest.raises(AvailabilityError):
        coach_availability.add_day_off(db_session, day - timedelta(days=30))
    coach_availability.remove_day_off(db_session, db_session.scalar(select(DayOff.id)))
    assert slot.start in [s.start for s in coach_availability.free_slots(db_session, days=14)]


def test_invite_time_zone_gives_the_calls_own_offset(db_session, book):
    booking = book()
    cal = ics_of(outbox(db_session, "booking_confirmation")[0])
    (vtimezone,) = cal.walk("VTIMEZONE")
    start = booking.start_at.astimezone(vtimezone.to_tz())
    assert start.utcoffset() == booking.start_at.astimezone(zone("America/New_York")).utcoffset()
    # Only the years around the call, not every transition since 1970.
    assert len(vtimezone.to_ical()) < 1200


def test_the_booking_renders_no_email_and_the_worker_renders_it_when_it_sends(db_session, book):
    """The request stores each email's context; the worker renders the HTML (CSS inlined), the
    text and the .ics at send time — with the coach's wording as it is then — and keeps them."""
    from tasks.overrides import save_override

    booking = book()
    rows = {r.template: r for r in db_session.scalars(select(OutboxEmail))}
    confirmation = rows["booking_confirmation"]
    assert confirmation.html == confirmation.text == "" and confirmation.attachments == []
    assert confirmation.render["context"]["booking_id"] == booking.id
    assert confirmation.subject  # rendered in the request: the outbox list and timeline show it
    assert "email_queued" in events(db_session, booking.lead)

    save_override(db_session, "booking_confirmation", subject="", delays=None,
                  body="See you soon, {{ first_name }}! Manage it here: {{ manage_url }}",
                  preview_context=confirmation.render["context"])  # fmt: skip
    row = sent(db_session, confirmation)
    assert row.status.value == "sent" and row.render is None
    assert "See you soon, Maria!" in row.text and "/manage/" in row.text
    assert 'style="' in row.html and "<style" not in row.html  # CSS inlined
    assert ics_of(row)["method"] == "REQUEST"
    assert events(db_session, booking.lead)[-1] == "email_logged"


def test_an_email_that_cannot_be_rendered_fails_alone(db_session, book):
    from tasks.sender import send_emails

    book()
    rows = {r.template: r for r in db_session.scalars(select(OutboxEmail))}
    row = rows["booking_confirmation"]
    row.render = {**row.render, "attach": [{"builder": "no-such-builder", "args": {}}]}
    db_session.commit()
    assert send_emails.apply(args=[[row.id]]).get() == {"skipped": 0, "failed": 1}
    db_session.refresh(row)
    assert row.status.value == "failed" and "could not be rendered" in row.last_error

"""One date format on the coach's pages: her zone, labelled, with the client's time beside it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from crm.time import coach_when, when_formatter

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CALL = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)  # Monday 9:00 AM in Los Angeles


def test_a_call_reads_in_the_coachs_zone_with_the_clients_time_beside_it():
    la = "America/Los_Angeles"
    assert coach_when(CALL, la, now=NOW) == "Mon 7 Dec, 9:00 AM PST"
    assert coach_when(CALL, la, "Asia/Tokyo", now=NOW) == (
        "Mon 7 Dec, 9:00 AM PST · 2:00 AM Tue in Tokyo"
    )
    assert coach_when(CALL, la, "America/New_York", now=NOW) == (
        "Mon 7 Dec, 9:00 AM PST · 12:00 PM in New York"
    )
    # Same clock as the coach: nothing beside it.
    assert coach_when(CALL, la, "America/Tijuana", now=NOW) == "Mon 7 Dec, 9:00 AM PST"


def test_a_list_of_calls_reads_as_each_call_would_alone():
    la = "America/Los_Angeles"
    when = when_formatter(la, now=NOW)
    for client_tz in (None, "", "Asia/Tokyo", "America/New_York", "America/Tijuana", "Not/AZone"):
        for moment in (CALL, datetime(2027, 1, 4, 3, 30, tzinfo=UTC), NOW):
            assert when(moment, client_tz) == coach_when(moment, la, client_tz, now=NOW)
    assert when_formatter("America/Sao_Paulo", now=NOW)(CALL) == "Mon 7 Dec, 2:00 PM Sao Paulo"


def test_dates_share_the_format_and_name_the_year_only_when_it_is_not_this_year():
    la = "America/Los_Angeles"
    assert coach_when(CALL, la, date_only=True, now=NOW) == "Mon 7 Dec"
    assert coach_when(date(2025, 3, 2), la, now=NOW) == "Sun 2 Mar 2025"
    assert coach_when(None, la) == ""
    # A zone without letters is named by its place.
    assert coach_when(CALL, "America/Sao_Paulo", now=NOW) == "Mon 7 Dec, 2:00 PM Sao Paulo"


def test_coach_pages_use_the_one_format(client, auth, coach, db_session, booking_worker):
    from crm.booking import availability
    from crm.booking import services as booking_services

    availability.ensure_default_availability(db_session)
    slot = availability.free_slots(db_session, days=14)[0]
    booking = booking_services.book_call(
        db_session, name="Keiko", email="keiko@example.com", slot_start=slot.start,
        timezone="Asia/Tokyo",
    )  # fmt: skip
    booking_worker()  # her emails, for the outbox
    auth.login(coach)
    expected = coach_when(slot.start, "America/Los_Angeles", "Asia/Tokyo")
    assert " in Tokyo" in expected and ("PST" in expected or "PDT" in expected)
    for url in (f"/coach/leads/{booking.lead_id}", "/coach"):
        page = client.get(url).get_data(as_text=True)
        assert expected in page, url
    outbox = client.get("/coach/outbox").get_data(as_text=True)
    assert " UTC" not in outbox and ("PST" in outbox or "PDT" in outbox)

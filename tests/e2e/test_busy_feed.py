"""The coach connects her own calendar on the Availability page (375 px and desktop)."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.booking import availability as coach_availability
from tests.crm.booking.test_busy_feed import calendar_server, event, ics  # noqa: F401 - fixture
from tests.e2e.helpers import login, no_sideways_scroll
from tests.factories import create_user


def test_coach_connects_her_calendar_and_sees_it_masked_and_a_warning_when_down(
    live_server,
    phone,
    desktop,
    shots,
    db_session,
    calendar_server,  # noqa: F811
):
    coach = create_user(db_session, role="coach", first_name="Ali", email="coach@example.com")
    coach_availability.ensure_default_availability(db_session)
    calendar_server.body = ics(
        event("trip", "DTSTART;VALUE=DATE:20990306", "DTEND;VALUE=DATE:20990307")
    )
    page = desktop
    login(page, live_server, coach.email)
    page.goto(live_server + "/coach/availability")
    page.fill("input[name=url]", calendar_server.url)
    page.get_by_role("button", name="Connect calendar").click()
    page.wait_for_url("**/coach/availability#calendar")
    expect(page.get_by_text("Calendar connected")).to_be_visible()
    expect(page.get_by_text("http://127.0.0.1/••••••.ics")).to_be_visible()
    assert "secret-abc123" not in page.content()
    assert page.input_value("input[name=url]") == ""
    shots(page, "desktop-connected")

    calendar_server.status = 503
    page.fill("input[name=url]", calendar_server.url + "?v=2")
    page.get_by_role("button", name="Replace calendar").click()
    page.wait_for_url("**/coach/availability#calendar")
    expect(page.locator("#calendar-warning")).to_be_visible()
    page.goto(live_server + "/coach")
    expect(page.locator("#calendar-warning")).to_be_visible()
    shots(page, "desktop-dashboard-warning")

    login(phone, live_server, coach.email)
    phone.goto(live_server + "/coach/availability#calendar")
    expect(phone.locator("#calendar-warning")).to_be_visible()
    no_sideways_scroll(phone)
    shots(phone, "phone-warning")

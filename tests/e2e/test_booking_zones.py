"""/book in the visitor's own zone without reloading itself, a word when the coach's free times
fall at night for her, and a failed submit that keeps what she typed, her zone and the error."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from crm.booking.availability import ensure_default_availability
from extensions import db
from tests.e2e.conftest import PHONE

CLOCK = re.compile(r"^\d{1,2}:\d{2} (AM|PM)$")


@pytest.fixture
def tokyo_phone(browser):
    """A phone whose clock is set to Tokyo, 17 hours ahead of the coach in Los Angeles."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, timezone_id="Asia/Tokyo"
    )
    page = context.new_page()
    yield page
    context.close()


def _documents(page) -> list[str]:
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url) if r.resource_type == "document" else None)
    return loaded


def _hours(page) -> list[int]:
    labels = page.locator("#slot-picker label.slot-btn").all_text_contents()
    assert labels and all(CLOCK.match(text) for text in labels), labels
    return [int(t.split(":")[0]) % 12 + (12 if t.endswith("PM") else 0) for t in labels]


def test_book_shows_times_in_the_browsers_zone_without_a_reload(live_server, tokyo_phone, shots):
    ensure_default_availability(db.session)  # Mon–Fri 9–12 and 13–17, Los Angeles
    page = tokyo_phone
    documents = _documents(page)
    page.goto(live_server + "/book")
    expect(page.locator("#slot-zone")).to_have_text("Asia/Tokyo")
    page.wait_for_load_state("networkidle")
    assert documents == [live_server + "/book"]  # one request: no reload to learn the zone
    # 9 AM in Los Angeles is 2 AM in Tokyo: the times are Tokyo's, and she is told about the night.
    hours = _hours(page)
    assert min(hours) == 2 and 17 not in hours, hours
    expect(page.locator("#night-note")).to_be_visible()
    expect(page.locator("#night-note")).to_have_text(
        "Some of Coach Ali's free times fall at night for you. These are 2:00 AM–4:30 AM your time."
    )
    assert page.locator("form[method=post] input[name=tz]").input_value() == "Asia/Tokyo"
    shots(page, "tokyo-phone")

    # Switching to New York happens on the page too, and the night note goes away.
    page.select_option("#tz-select", "America/New_York")
    expect(page.locator("#slot-zone")).to_have_text("America/New York")
    assert min(_hours(page)) == 12  # 9 AM Pacific is noon Eastern
    expect(page.locator("#night-note")).to_be_hidden()
    assert len(documents) == 1
    assert "tz=America%2FNew_York" in page.url
    later = page.get_by_role("link", name="Later dates →")
    assert "tz=America%2FNew_York" in later.get_attribute("href")


def test_night_note_is_there_without_javascript_when_the_zone_is_in_the_url(client):
    ensure_default_availability(db.session)
    page = client.get("/book?tz=Asia/Tokyo").get_data(as_text=True)
    assert "These are 2:00 AM–4:30 AM your time." in page
    page = client.get("/book?tz=America/Chicago").get_data(as_text=True)
    assert 'id="night-note" class="alert alert-info py-2 small" role="status" hidden' in page


def test_a_failed_submit_keeps_her_details_zone_and_the_error(live_server, tokyo_phone, shots):
    ensure_default_availability(db.session)
    page = tokyo_phone
    page.goto(live_server + "/book")
    page.select_option("#tz-select", "Europe/London")
    expect(page.locator("#slot-zone")).to_have_text("Europe/London")
    shots(page, "london-phone")
    page.locator("details[open] label.slot-btn").first.click()
    chosen = page.locator("input[name=slot]:checked").get_attribute("value")
    page.fill("input[name=name]", "Keiko Tanaka")
    page.fill("input[name=email]", "keiko@example")  # the typo
    page.fill("input[name=phone]", "+81 90 1234 5678")
    page.fill("textarea[name=pain_notes]", "Shin splints after two weeks")
    page.get_by_role("button", name="Book my FREE call").click()
    page.wait_for_load_state("networkidle")

    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    assert page.input_value("input[name=name]") == "Keiko Tanaka"
    assert page.input_value("input[name=email]") == "keiko@example"
    assert page.input_value("input[name=phone]") == "+81 90 1234 5678"
    assert page.input_value("textarea[name=pain_notes]") == "Shin splints after two weeks"
    expect(page.locator("#slot-zone")).to_have_text("Europe/London")
    assert page.input_value("#tz-select") == "Europe/London"
    kept = page.locator("input[name=slot]:checked").get_attribute("value")
    assert datetime.fromisoformat(kept) == datetime.fromisoformat(chosen)
    expect(page.locator("#slot-summary")).to_contain_text("5:00 PM")  # 9 AM Pacific in London
    shots(page, "after-typo-phone")

    page.fill("input[name=email]", "keiko@example.com")
    page.get_by_role("button", name="Book my FREE call").click()
    expect(page.get_by_role("heading", name="You're booked!")).to_be_visible()

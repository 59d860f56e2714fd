"""Issue 2's journey in a real browser: a visitor from Instagram books a FREE call on a 375-px
phone; the coach, on a desktop, finds her in the pipeline and the lead list and reads her page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.booking.availability import ensure_default_availability
from extensions import db
from tests.e2e.helpers import login, no_sideways_scroll

NAME = "Jenna Whitfield"
EMAIL = "jenna.whitfield@example.com"


def test_visitor_books_a_call_on_a_phone_and_the_coach_finds_her(
    live_server, phone, desktop, shots, coach
):
    ensure_default_availability(db.session)

    # --- the visitor, on her phone, from an Instagram link -----------------------------------
    page = phone
    page.goto(live_server + "/?utm_source=instagram&utm_medium=social")
    shots(page, "1-landing-phone")
    page.get_by_role("link", name="Book a FREE call").first.click()
    page.wait_for_url(re.compile(r"/book\?.*utm_source=instagram"))
    # The times switch to the browser's own time zone on the page (no reload).
    browser_tz = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    expect(page.locator("#slot-help")).to_contain_text(browser_tz.replace("_", " "))
    no_sideways_scroll(page)
    shots(page, "2-slots-phone")

    first_slot = page.locator("details[open] label.slot-btn").first
    expect(first_slot).to_be_visible()
    first_slot.click()
    chosen = page.locator("details[open] input[name=slot]:checked")
    expect(chosen).to_have_count(1)
    expect(page.locator("#slot-summary")).to_have_text(chosen.get_attribute("data-label"))
    page.fill("input[name=name]", NAME)
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=phone]", "+1 555 0142")
    page.fill("input[name=goal_race]", "Disneyland 5K")
    page.fill("textarea[name=pain_notes]", "Left knee after 10 minutes")
    page.select_option("select[name=pain_level]", "4")
    no_sideways_scroll(page)
    shots(page, "3-form-phone")
    page.get_by_role("button", name="Book my FREE call").click()

    expect(page.get_by_role("heading", name="You're booked!")).to_be_visible()
    expect(page.get_by_text(EMAIL)).to_be_visible()
    no_sideways_scroll(page)
    shots(page, "4-confirmed-phone")

    # --- the coach, on her desktop -------------------------------------------------------------
    page = desktop
    login(page, live_server, coach.email)
    page.goto(live_server + "/coach/pipeline")
    column = page.locator("section", has=page.locator("#col-call_booked"))
    card = column.get_by_role("link", name=NAME)
    expect(card).to_be_visible()
    expect(column.get_by_text("instagram")).to_be_visible()
    shots(page, "5-pipeline-desktop")

    page.goto(live_server + "/coach/leads")
    page.get_by_label("Search").fill("Whitfield")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"[?&]q=Whitfield"))
    result = page.get_by_role("link", name=NAME)
    expect(result).to_have_count(1)
    shots(page, "6-lead-list-desktop")
    result.click()

    page.wait_for_url(re.compile(r"/coach/leads/\d+$"))
    expect(page.get_by_role("heading", level=1, name=NAME)).to_be_visible()
    contact = page.locator("section", has=page.locator("#contact-h"))
    source = contact.locator("dt:has-text('Source') + dd")
    expect(source).to_contain_text("instagram")
    expect(contact).to_contain_text("Left knee after 10 minutes")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Free call booked for")
    expect(timeline).to_contain_text("Lead created (instagram)")
    expect(page.locator("section", has=page.locator("#bookings-h"))).to_contain_text("Booked")
    shots(page, "7-lead-desktop")

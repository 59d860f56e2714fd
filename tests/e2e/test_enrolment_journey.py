"""Issue 4's journey in a real browser, in offline test mode (no Stripe key): the coach sends an
offer from the lead page; the runner opens the link on her phone, pays in the test checkout, sets
her password and lands on her intake; the coach sees the payment and the enrolled lead."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from crm.billing import catalogue
from crm.leads.models import Stage
from extensions import db
from tests.e2e.helpers import login, no_sideways_scroll

RUNNER_PASSWORD = "my knees are fine now"
NAME = "Jenna Whitfield"
EMAIL = "jenna.whitfield@example.com"


def test_offer_paid_on_a_phone_enrols_her_and_the_coach_sees_it(
    live_server, phone, desktop, shots, coach, make_lead
):
    programme = catalogue.save_programme(
        db.session, name="0 to 5K Hero — 12 weeks", description="Your first 5K.", weeks=12
    )
    catalogue.add_price(db.session, programme.id, kind="one_time", amount_cents=29900)
    catalogue.add_price(
        db.session, programme.id, kind="instalments", amount_cents=11000, instalments=3
    )
    lead = make_lead(name=NAME, email=EMAIL, stage=Stage.CALL_HELD, source="instagram")

    # --- the coach sends the offer from the lead page --------------------------------------------
    coach_page = desktop
    login(coach_page, live_server, coach.email)
    coach_page.goto(f"{live_server}/coach/leads/{lead.id}")
    offer_card = coach_page.locator("section", has=coach_page.locator("#offer-h"))
    offer_card.get_by_label("Programme").select_option(label=programme.name)
    shots(coach_page, "1-lead-before-offer-desktop")
    confirms: list[str] = []

    def accept(dialog) -> None:
        confirms.append(dialog.message)
        dialog.accept()

    coach_page.once("dialog", accept)
    offer_card.get_by_role("button", name="Send offer").click()
    flash = coach_page.get_by_text(f"Offer sent to {EMAIL}")
    expect(flash).to_be_visible()
    assert confirms == [f"Email {EMAIL} a payment link for this programme?"]
    expect(coach_page.locator(".badge", has_text="Offer sent").first).to_be_visible()
    expect(coach_page.locator("ol.timeline")).to_contain_text(f"Offer sent: {programme.name}")
    shots(coach_page, "2-lead-offer-sent-desktop")
    # The link the email carries (BASE_URL differs from the test server's port: keep the path).
    offer_path = re.search(r"/offer/[\w.-]+", flash.inner_text()).group(0)

    # --- the runner, on her phone ----------------------------------------------------------------
    page = phone
    page.goto(live_server + offer_path)
    expect(page.get_by_role("heading", level=1, name=programme.name)).to_be_visible()
    expect(page.get_by_text("Test mode — no money moves.")).to_be_visible()
    page.get_by_label("$299.00 in full").check()
    no_sideways_scroll(page)
    shots(page, "3-offer-phone")
    page.get_by_role("button", name="Continue to secure payment").click()

    page.wait_for_url(re.compile(r"/checkout/test/cs_offline_\w+$"))
    pay = page.get_by_role("button", name="Pay $299.00 (test)")
    expect(pay).to_be_visible()
    no_sideways_scroll(page)
    shots(page, "4-test-checkout-phone")
    pay.click()

    page.wait_for_url(re.compile(r"/checkout/success\?session_id=cs_offline_\w+$"))
    expect(page.get_by_role("heading", name="You're in, Jenna!")).to_be_visible()
    page.get_by_label("Choose a password").fill(RUNNER_PASSWORD)
    page.get_by_label("Repeat it").fill(RUNNER_PASSWORD)
    no_sideways_scroll(page)
    shots(page, "5-youre-in-phone")
    page.get_by_role("button", name="Set password and start my intake").click()

    page.wait_for_url(re.compile(r"/portal/intake$"))
    expect(page.get_by_role("heading", level=1, name="Let's make your plan")).to_be_visible()
    expect(page.get_by_text("Password set. Welcome aboard!")).to_be_visible()
    no_sideways_scroll(page)
    shots(page, "6-intake-phone")

    # --- the coach sees the payment and the enrolled lead -----------------------------------------
    coach_page.goto(live_server + "/coach/payments")
    row = coach_page.locator("tbody tr", has_text=NAME)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("$299.00")
    expect(row).to_contain_text("Paid in full")
    expect(row.locator(".badge")).to_have_text("paid")
    shots(coach_page, "7-payments-desktop")

    coach_page.goto(f"{live_server}/coach/leads/{lead.id}")
    expect(coach_page.locator(".badge", has_text="Enrolled").first).to_be_visible()
    client_card = coach_page.locator("section", has=coach_page.locator("#client-h"))
    expect(client_card).to_contain_text("Paid $299.00 in 1 payment")
    expect(coach_page.locator("#offer-h")).to_have_count(0)
    timeline = coach_page.locator("ol.timeline")
    expect(timeline).to_contain_text(f"Enrolled in {programme.name}")
    expect(timeline).to_contain_text("Payment received: $299.00")
    shots(coach_page, "8-lead-enrolled-desktop")
    client_card.get_by_role("link", name=programme.name).click()
    coach_page.wait_for_url(re.compile(r"/coach/enrolments/\d+$"))
    expect(coach_page.get_by_text("Access: active")).to_be_visible()
    shots(coach_page, "9-enrolment-desktop")

    coach_page.goto(live_server + "/coach/pipeline")
    enrolled = coach_page.locator("section", has=coach_page.locator("#col-enrolled"))
    expect(enrolled.get_by_role("link", name=NAME)).to_be_visible()
    shots(coach_page, "10-pipeline-desktop")

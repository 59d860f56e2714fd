"""The account pages in a real browser (CSRF on, the site's own confirm dialogs): sign out
everywhere, the coach's API tokens, and the page a client whose access ended sees."""

from __future__ import annotations

from playwright.sync_api import expect

from crm.accounts import services
from crm.billing.access import set_access
from extensions import db
from tests.e2e.helpers import login, no_sideways_scroll
from tests.security.test_access_ended import enrol


def test_sign_out_everywhere_ends_the_other_browser_too(live_server, browser, phone, shots, coach):
    other = browser.new_context().new_page()
    login(other, live_server, coach.email)
    login(phone, live_server, coach.email)
    phone.goto(live_server + "/account")
    no_sideways_scroll(phone)
    shots(phone, "account-phone")
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Sign out everywhere").click()
    phone.wait_for_url(lambda url: "/login" in url)
    other.goto(live_server + "/coach")
    assert "/login" in other.url
    other.context.close()


def test_the_coach_revokes_an_api_token_after_confirming(live_server, desktop, phone, shots, coach):
    services.issue_api_token(db.session, coach, "Zapier leads")
    for page, label in ((phone, "phone"), (desktop, "desktop")):
        login(page, live_server, coach.email)
        page.goto(live_server + "/coach/api-tokens")
        no_sideways_scroll(page)
        shots(page, f"api-tokens-{label}")
    desktop.once("dialog", lambda dialog: dialog.dismiss())
    desktop.get_by_role("button", name="Revoke").click()
    expect(desktop.get_by_role("button", name="Revoke")).to_be_visible()  # dismissed: nothing done
    desktop.once("dialog", lambda dialog: dialog.accept())
    desktop.get_by_role("button", name="Revoke").click()
    desktop.wait_for_load_state()
    expect(desktop.get_by_text("Revoked").first).to_be_visible()
    shots(desktop, "api-tokens-revoked")


def test_a_client_whose_access_ended_sees_a_kind_page(
    live_server, phone, desktop, shots, coach, make_client
):
    from datetime import date

    maya = make_client(date.today(), email="maya@example.com")
    enrolment = enrol(maya)
    set_access(db.session, enrolment.id, "end", actor_id=coach.id)
    for page, label in ((phone, "phone"), (desktop, "desktop")):
        login(page, live_server, maya.email)
        page.goto(live_server + "/portal/plan")
        expect(
            page.get_by_role("heading", name="Your time in the programme has ended")
        ).to_be_visible()
        expect(page.get_by_role("link", name="Book a FREE call").first).to_be_visible()
        no_sideways_scroll(page)
        shots(page, f"access-ended-{label}")

"""Articles and the community in a real browser: the coach publishes an article with a live
preview, a reader on a phone books a call from its CTA, and the coach's dashboard credits the
article. The article list, page and community feed are looked at at 375 px and on a desktop."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from crm.booking.availability import ensure_default_availability
from crm.time import utcnow
from extensions import db
from tests.e2e.helpers import login, no_sideways_scroll

TITLE = "How bad is running for my knees?"


def test_coach_publishes_a_reader_books_from_the_cta_and_the_dashboard_credits_it(
    live_server, desktop, phone, shots, coach
):
    ensure_default_availability(db.session)

    # --- the coach writes and publishes, watching the live preview ----------------------------
    page = desktop
    login(page, live_server, coach.email)
    page.get_by_role("link", name="Articles").first.click()
    page.get_by_role("link", name="Write an article").click()
    page.fill("input[name=title]", TITLE)
    page.fill("textarea[name=summary]", "Running is rarely the problem. How we come back is.")
    page.fill(
        "textarea[name=body]",
        "Running itself is **rarely** the problem.\n\n[[exercise:clamshell]]\n\n"
        "<script>alert(1)</script>\n\n[[cta]]\n\nMore below.",
    )
    preview = page.locator("#preview")
    expect(preview.get_by_text("Clamshell", exact=True)).to_be_visible()
    expect(preview.get_by_role("link", name="Book a FREE call")).to_be_visible()
    expect(preview).to_contain_text("<script>alert(1)</script>")  # shown as text, never run
    page.fill("input[name=tags]", "knee pain, running")
    page.select_option("select[name=status]", "published")
    shots(page, "1-editor-desktop")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("saved as published")).to_be_visible()

    # --- a reader on her phone finds it and books from its CTA ---------------------------------
    reader = phone
    dialogs: list[str] = []
    reader.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    reader.goto(live_server + "/articles")
    no_sideways_scroll(reader)
    shots(reader, "2-list-phone")
    reader.get_by_role("link", name=TITLE).click()
    reader.wait_for_url(re.compile(r"/articles/how-bad-is-running-for-my-knees$"))
    expect(reader.get_by_role("heading", level=1, name=TITLE)).to_be_visible()
    expect(reader.locator(".article-exercise")).to_contain_text("Clamshell")
    no_sideways_scroll(reader)
    shots(reader, "3-article-phone")
    assert dialogs == []

    inline_cta = reader.locator(".article-body .article-cta")
    inline_cta.get_by_role("link", name="Book a FREE call").click()
    reader.wait_for_url(re.compile(r"/book\?.*utm_campaign=how-bad-is-running-for-my-knees"))
    browser_tz = reader.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    if browser_tz != reader.locator("#booking").get_attribute("data-tz"):
        reader.wait_for_url(re.compile(r"[?&]tz="))
    slot = reader.locator("details[open] label.slot-btn").first
    expect(slot).to_be_visible()
    slot.click()
    reader.fill("input[name=name]", "Casey Reader")
    reader.fill("input[name=email]", "casey.reader@example.com")
    reader.get_by_role("button", name="Book my FREE call").click()
    expect(reader.get_by_role("heading", name="You're booked!")).to_be_visible()

    # --- the coach's dashboard credits the article ---------------------------------------------
    page.goto(live_server + "/coach")
    panel = page.locator("section", has=page.locator("#articles-attr-h"))
    row = panel.locator("tr", has=page.get_by_role("link", name=TITLE))
    expect(row.locator("[data-stat=calls]")).to_have_text("1")
    expect(row.locator("[data-stat=clients]")).to_have_text("0")
    panel.scroll_into_view_if_needed()
    shots(page, "4-dashboard-desktop")

    page.goto(live_server + "/articles")
    shots(page, "5-list-desktop")
    page.goto(live_server + "/articles/how-bad-is-running-for-my-knees")
    shots(page, "6-article-desktop")


def test_community_feed_reads_well_on_a_phone_and_a_desktop(
    live_server, phone, desktop, shots, coach, make_user
):
    from crm.billing.models import CheckoutAttempt, Enrolment, Offer, Price, PriceKind, Programme
    from programs.community.members import save_settings
    from programs.community.moderation import create_thread
    from programs.community.posts import share_milestone

    runner = make_user(role="runner", first_name="Jenna", email="jenna@example.com")
    programme = Programme(name="0 to 5K Hero")
    price = Price(programme=programme, kind=PriceKind.ONE_TIME, amount_cents=29900)
    db.session.add_all([programme, price])
    db.session.flush()
    from crm.leads.models import Lead, Stage

    lead = Lead(email=runner.email, name="Jenna", stage=Stage.ENROLLED, user_id=runner.id)
    db.session.add(lead)
    db.session.flush()
    offer = Offer(lead_id=lead.id, programme_id=programme.id, nonce="e2e",
                  expires_at=utcnow() + timedelta(days=3))  # fmt: skip
    db.session.add(offer)
    db.session.flush()
    attempt = CheckoutAttempt(offer_id=offer.id, price_id=price.id, mode="payment",
                              stripe_session_id="cs_e2e")  # fmt: skip
    db.session.add(attempt)
    db.session.flush()
    db.session.add(Enrolment(user_id=runner.id, lead_id=lead.id, programme_id=programme.id,
                             price_id=price.id, checkout_attempt_id=attempt.id,
                             stripe_checkout_session_id="cs_e2e"))  # fmt: skip
    db.session.commit()
    create_thread(db.session, coach.id, "This week's wins", "Tell us one good thing!")
    save_settings(db.session, runner.id, display_name="Jenna W.")
    share_milestone(db.session, runner.id, "continuous_10", "No walking breaks at all!")

    for page, label in ((phone, "phone"), (desktop, "desktop")):
        login(page, live_server, runner.email)
        page.goto(live_server + "/community")
        expect(page.get_by_role("heading", name="This week's wins")).to_be_visible()
        page.fill("textarea[name=body]", f"Week 3 done on my {label}!")
        page.get_by_role("button", name="Post").click()
        expect(page.get_by_text(f"Week 3 done on my {label}!")).to_be_visible()
        page.get_by_role("button", name=re.compile(r"^Cheer")).first.click()
        no_sideways_scroll(page)
        shots(page, f"7-community-{label}")

"""What a coach and a runner see on a 375-px phone: Payments fits (amounts on one line, Status
without a sideways swipe), and the plan opens on this week with the past folded away."""

from __future__ import annotations

from datetime import timedelta

from crm.billing import catalogue, checkout, offers
from crm.time import utcnow, zone
from extensions import db
from tests.e2e.helpers import login, no_sideways_scroll


def test_payments_fit_a_phone(live_server, phone, shots, coach, make_lead):
    programme = catalogue.save_programme(
        db.session, name="0 to 5K Hero", description="Your first 5K.", weeks=12
    )
    price = catalogue.add_price(db.session, programme.id, kind="one_time", amount_cents=163600)
    lead = make_lead(name="Priya Ramaswamy-Whitfield", email="priya@example.com")
    offer = offers.send_offer(db.session, lead.id, programme.id, actor_id=coach.id)
    sid = checkout.start_checkout(db.session, offers.offer_token(offer), price.id).rsplit("/")[-1]
    checkout.complete_offline_checkout(db.session, sid)
    checkout.fulfil_checkout(db.session, sid)

    login(phone, live_server, coach.email)
    phone.goto(live_server + "/coach/payments")
    no_sideways_scroll(phone)
    shots(phone, "payments-phone")
    table = phone.locator(".table-responsive")
    assert table.evaluate("el => el.scrollWidth <= el.clientWidth"), "Status needs a swipe"
    # Every "$1,636.00" on the page sits on one line (a wrapped text has several line boxes).
    lines = phone.evaluate(
        """() => {
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          const out = [];
          while (walker.nextNode()) {
            const node = walker.currentNode;
            const at = node.textContent.indexOf("$1,636.00");
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + 9);
            const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
            out.push(tops.size);
          }
          return out;
        }"""
    )
    assert lines and all(n == 1 for n in lines), lines


def test_the_plan_opens_on_this_week_with_past_weeks_folded(live_server, phone, shots, make_client):
    # Three weeks ago in her zone: the machine's date is a day ahead of Los Angeles' every
    # evening there (the test failed after midnight UTC, with her still in week 3).
    tz = "America/Los_Angeles"
    today = utcnow().astimezone(zone(tz)).date()
    runner = make_client(today - timedelta(weeks=3), timezone=tz)
    login(phone, live_server, runner.email)
    phone.goto(live_server + "/portal/plan")
    no_sideways_scroll(phone)
    shots(phone, "plan-phone")
    weeks = phone.locator("details.week-card")
    assert weeks.count() >= 8
    opened = phone.locator("details.week-card[open]")
    assert opened.count() == 1
    assert "is-current" in opened.get_attribute("class")
    assert opened.get_attribute("id") == "week-4"
    assert phone.locator("details.week-card.is-past").count() == 3
    assert phone.locator("details.week-card.is-past[open]").count() == 0
    height = phone.evaluate("document.documentElement.scrollHeight")
    assert height < 4000, height  # it was ~10,000 px with every week open
    # A folded week opens with a tap, no script needed.
    phone.locator("#week-1 > summary").click()
    assert phone.locator("#week-1").get_attribute("open") is not None

"""What every page carries: the favicon, and the test-mode banner only where money is concerned."""

from __future__ import annotations

from crm.billing import catalogue, offers
from extensions import db

BANNER = "Test mode — no money moves."


def test_favicon_and_touch_icon_are_served(client):
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200
        assert icon.mimetype == "image/vnd.microsoft.icon"
        assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/").get_data(as_text=True)
    assert 'rel="apple-touch-icon"' in page
    with client.get("/static/icons/apple-touch-icon.png") as touch:
        assert touch.status_code == 200 and touch.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_test_mode_banner_is_for_the_coach_and_checkout_not_for_visitors(
    client, auth, coach, make_lead
):
    assert BANNER not in client.get("/").get_data(as_text=True)
    assert BANNER not in client.get("/book").get_data(as_text=True)
    assert BANNER not in client.get("/articles").get_data(as_text=True)

    programme = catalogue.save_programme(db.session, name="0 to 5K Hero", description="x", weeks=12)
    catalogue.add_price(db.session, programme.id, kind="one_time", amount_cents=29900)
    lead = make_lead(name="Olga", email="olga@example.com")
    offer = offers.send_offer(db.session, lead.id, programme.id, actor_id=coach.id)
    assert BANNER in client.get(f"/offer/{offers.offer_token(offer)}").get_data(as_text=True)

    auth.login(coach)
    assert BANNER in client.get("/coach").get_data(as_text=True)
    assert BANNER in client.get("/coach/leads").get_data(as_text=True)

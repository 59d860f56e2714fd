"""Attribution: reading an article, booking from its CTA, enrolling — and the dashboard shows it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm.articles.models import BookingAttribution
from crm.articles.services import articles_attribution, record_booking_attribution
from crm.booking import availability as coach_availability
from crm.booking import services as booking_services
from crm.leads.models import Lead, LeadEvent, Stage
from crm.leads.services import change_stage


@pytest.fixture
def free_slot(db_session):
    coach_availability.ensure_default_availability(db_session)
    return lambda n=0: coach_availability.free_slots(db_session, days=14)[n]


def _book_form(start, email="jo@example.com", **kw):
    tz = "America/New_York"
    data = {"slot": start.astimezone(ZoneInfo(tz)).isoformat(), "tz": tz, "name": "Jo Runner",
            "email": email, "pain_level": "", "goal_date": ""}  # fmt: skip
    data.update(kw)
    return data


def _cta_query(client, slug: str) -> dict[str, str]:
    html = client.get(f"/articles/{slug}").get_data(as_text=True)
    href = html.split('<a class="btn btn-hero btn-lg" href="', 1)[1].split('"', 1)[0]
    href = href.replace("&amp;", "&")
    assert urlsplit(href).path == "/book"
    return {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}


def test_article_pages_set_no_cookie_and_name_themselves_for_the_browsers_touches(client, publish):
    """The article pages are served from a shared cache, so the touches live in the visitor's
    browser (static/js/touches.js) and the booking form posts them."""
    publish(title="Knees")
    response = client.get("/articles/knees")
    assert "Set-Cookie" not in response.headers
    assert 'data-article-touch="article:knees"' in response.get_data(as_text=True)
    page = client.get("/book").get_data(as_text=True)
    assert 'name="first_touch" data-touch="first_touch"' in page
    assert 'name="last_touch" data-touch="last_touch"' in page


def test_article_view_to_booking_to_enrolment_is_attributed(
    client, db_session, publish, free_slot, coach, login
):
    publish(title="How bad is running for my knees?")
    publish(title="Run without walking")
    client.get("/articles/how-bad-is-running-for-my-knees")  # first touch
    utm = _cta_query(client, "run-without-walking")  # last touch, and the CTA clicked
    assert utm == {"utm_source": "article", "utm_campaign": "run-without-walking"}
    page = client.get("/book", query_string=utm).get_data(as_text=True)
    assert 'name="utm_campaign" value="run-without-walking"' in page

    touches = {"first_touch": "article:how-bad-is-running-for-my-knees",  # as touches.js fills
               "last_touch": "article:run-without-walking"}  # fmt: skip
    response = client.post("/book", data=_book_form(free_slot(0).start, **utm, **touches))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]

    lead = db_session.scalar(select(Lead))
    assert lead.source == "article"
    assert lead.utm["utm_campaign"] == "run-without-walking"
    row = db_session.scalar(select(BookingAttribution))
    assert row.lead_id == lead.id
    assert row.first_touch == "article:how-bad-is-running-for-my-knees"
    assert row.last_touch == "article:run-without-walking"
    kinds = set(db_session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead.id)))
    assert "attribution" in kinds

    stats = {r["slug"]: r for r in articles_attribution(db_session)}
    assert stats["run-without-walking"]["calls_booked"] == 1
    assert stats["run-without-walking"]["clients_enrolled"] == 0
    assert stats["how-bad-is-running-for-my-knees"]["first_touch_calls"] == 1
    assert stats["how-bad-is-running-for-my-knees"]["calls_booked"] == 0

    change_stage(db_session, lead, Stage.ENROLLED, force=True)
    db_session.commit()
    stats = {r["slug"]: r for r in articles_attribution(db_session)}
    assert stats["run-without-walking"]["clients_enrolled"] == 1
    assert stats["how-bad-is-running-for-my-knees"]["first_touch_clients"] == 1

    login(coach)
    dashboard = client.get("/coach").get_data(as_text=True)
    section = dashboard.split('id="articles-attr-h"', 1)[1]
    row_html = section.split("Run without walking", 1)[1].split("</tr>", 1)[0]
    assert '<td class="text-end fw-bold" data-stat="calls">1</td>' in row_html
    assert '<td class="text-end fw-bold" data-stat="clients">1</td>' in row_html


def test_booking_without_reading_an_article_records_no_attribution(
    client, db_session, free_slot, publish
):
    publish(title="Unread")
    response = client.post("/book", data=_book_form(free_slot(0).start))
    assert response.status_code == 302
    assert db_session.scalar(select(BookingAttribution)) is None
    assert all(r["calls_booked"] == 0 for r in articles_attribution(db_session))


def test_failed_booking_records_nothing(client, db_session, free_slot, publish):
    publish(title="Knees")
    client.get("/articles/knees")
    response = client.post("/book", data=_book_form(free_slot(0).start, email="not-an-email"))
    assert response.status_code == 422
    assert db_session.scalar(select(BookingAttribution)) is None


def test_recording_twice_keeps_one_row(db_session, free_slot):
    booking = booking_services.book_call(
        db_session, name="Jo", email="jo@example.com", slot_start=free_slot(0).start,
        timezone="America/New_York",
    )  # fmt: skip
    for _ in range(2):
        record_booking_attribution(db_session, booking.id, last_touch="article:knees")
    rows = db_session.scalars(select(BookingAttribution)).all()
    assert len(rows) == 1 and rows[0].first_touch == ""
    stats = {r["slug"]: r for r in articles_attribution(db_session)}
    assert stats["knees"]["calls_booked"] == 1 and stats["knees"]["article_id"] is None


def test_calls_count_each_booking_and_clients_each_enrolled_lead_once(db_session, free_slot):
    def book(n: int, email: str):
        booking = booking_services.book_call(
            db_session, name="Jo", email=email, slot_start=free_slot(n).start,
            timezone="America/New_York",
        )  # fmt: skip
        record_booking_attribution(
            db_session, booking.id, first_touch="article:hips", last_touch="article:knees"
        )
        return booking

    first = book(0, "jo@example.com")
    book(1, "jo@example.com")  # she booked again, after the same article
    book(2, "ann@example.com")
    change_stage(db_session, first.lead, Stage.ENROLLED, force=True)
    db_session.commit()
    stats = {r["slug"]: r for r in articles_attribution(db_session)}
    assert stats["knees"]["calls_booked"] == 3 and stats["knees"]["clients_enrolled"] == 1
    assert stats["hips"]["first_touch_calls"] == 3 and stats["hips"]["first_touch_clients"] == 1
    assert stats["hips"]["calls_booked"] == 0 and stats["knees"]["first_touch_calls"] == 0

"""The booking JSON API: slots, bookings, and JSON errors with field messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from crm.booking import services
from crm.booking.models import Booking
from crm.leads.models import Lead


def body(slot_start: str, **kw) -> dict:
    data = {
        "name": "Api Runner",
        "email": "Api@Example.com",
        "slot_start": slot_start,
        "timezone": "Europe/Paris",
        "marketing_consent": False,
    }
    data.update(kw)
    return data


def test_slots_are_listed_with_offsets_in_the_requested_zone(client, free_slot):
    first = free_slot(0).start
    start = first.astimezone(services.zone("Asia/Tokyo")).date().isoformat()
    response = client.get(f"/api/v1/slots?start={start}&days=3&tz=Asia/Tokyo")
    assert response.status_code == 200
    slots = response.get_json()
    assert slots and all(s["start"].endswith("+09:00") for s in slots)
    parsed = datetime.fromisoformat(slots[0]["start"])
    assert datetime.fromisoformat(slots[0]["end"]) - parsed == timedelta(minutes=20)
    assert first.astimezone(services.zone("Asia/Tokyo")).isoformat() in [s["start"] for s in slots]


BAD_QUERIES = (
    ("tz=Mars/Olympus", "tz"),
    ("days=0", "days"),
    ("days=many", "days"),
    ("start=2025-13-45", "start"),
    ("colour=blue", "colour"),
)


def test_bad_slot_queries_are_422_with_field_errors(client, availability, subtests):
    for query, field in BAD_QUERIES:
        with subtests.test(query):
            response = client.get(f"/api/v1/slots?{query}")
            assert response.status_code == 422
            assert response.is_json
            assert field in response.get_json()["errors"]["query"]


def test_booking_through_the_api_returns_201_and_a_manage_url(client, db_session, free_slot):
    start = free_slot(0).start
    response = client.post("/api/v1/bookings", json=body(start.isoformat(), pain_level=0))
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert set(data) == {"id", "lead_id", "start", "end", "manage_url"}
    assert datetime.fromisoformat(data["start"]) == start
    assert data["start"].endswith(("+01:00", "+02:00"))  # Paris
    assert data["manage_url"].startswith("http://localhost/manage/")
    lead = db_session.get(Lead, data["lead_id"])
    assert lead.email == "api@example.com" and lead.pain_level == 0
    token = data["manage_url"].rsplit("/", 1)[1]
    assert services.booking_from_token(db_session, token).id == data["id"]


def test_taken_slot_is_409_json_with_fresh_slots(client, db_session, book):
    taken = book().start_at
    response = client.post("/api/v1/bookings", json=body(taken.isoformat()))
    assert response.status_code == 409
    data = response.get_json()
    assert "just taken" in data["message"]
    assert data["slots"] and taken.isoformat() not in [s["start"] for s in data["slots"]]
    assert db_session.scalar(select(func.count()).select_from(Booking)) == 1


BAD_BODIES = (
    ({"email": "nope"}, "email"),
    ({"name": ""}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"pain_level": 11}, "pain_level"),
    ({"pain_notes": "x" * 2001}, "pain_notes"),
    ({"slot_start": "2030-01-01T09:00:00"}, "slot_start"),  # no offset
    ({"slot_start": "tomorrow"}, "slot_start"),
    ({"goal_date": "1999-01-01"}, "goal_date"),
    ({"favourite_colour": "blue"}, "favourite_colour"),  # unknown fields are refused
    ({"utm": {"utm_evil": "x"}}, "utm"),
)


def test_bad_booking_bodies_are_422_with_field_errors(client, db_session, free_slot, subtests):
    start = free_slot(0).start.isoformat()
    for n, (change, field) in enumerate(BAD_BODIES):
        with subtests.test(field=field, change=str(change)[:40]):
            response = client.post(
                "/api/v1/bookings",
                json=body(start) | change,
                environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},  # one visitor each: no rate limit
            )
            assert response.status_code == 422
            assert field in response.get_json()["errors"]["json"]
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 0


def test_missing_required_fields_are_listed(client, availability):
    response = client.post("/api/v1/bookings", json={})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert {"name", "email", "slot_start", "timezone", "marketing_consent"} <= set(errors)


RULE_BREAKERS = (
    (lambda s: datetime.now(UTC) - timedelta(days=1), "already passed"),
    (lambda s: s + timedelta(minutes=5), "set times"),
    (lambda s: s + timedelta(days=45), "days ahead"),
)


def test_slot_breaking_the_rules_is_422_on_slot_start(client, free_slot, subtests):
    first = free_slot(0).start
    for shift, reason_text in RULE_BREAKERS:
        with subtests.test(reason_text):
            start = shift(first).replace(second=0, microsecond=0)
            response = client.post("/api/v1/bookings", json=body(start.isoformat()))
            assert response.status_code == 422
            assert reason_text in response.get_json()["errors"]["json"]["slot_start"][0]


def test_api_booking_needs_no_csrf_token_and_is_documented(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/slots" in spec["paths"] and "/api/v1/bookings" in spec["paths"]

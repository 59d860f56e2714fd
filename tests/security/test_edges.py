"""The inputs that used to answer 500, each refused at the edge with a 4xx that names the field.

Converters bound ids (`<int:…>`) and dates (`<date:…>`); one check before every view bounds a JSON
body's size and depth and refuses text that cannot be stored; forms and schemas hold dates to
crm.forms' range. tests/security/test_route_walk.py tries the same on every route."""

from __future__ import annotations

import json
from datetime import date

import pytest

from crm.accounts.services import issue_api_token
from crm.booking import availability as coach_availability
from crm.forms import DATE_MAX, DATE_MIN, ID_MAX
from crm.web import JSON_MAX_BYTES, JSON_MAX_DEPTH
from extensions import api
from tests.factories import PLAN_START

JSON_ENDPOINTS = ["/api/v1/bookings", "/api/v1/auth/token", "/api/v1/plans/preview",
                  "/api/v1/me/logs", "/book", "/portal/intake"]  # fmt: skip


@pytest.fixture
def slot(db_session):
    coach_availability.ensure_default_availability(db_session)
    return coach_availability.free_slots(db_session, days=14)[0]


def booking(slot, **overrides) -> dict:
    return {
        "name": "Maria Lopez",
        "email": "maria@example.com",
        "slot_start": slot.start.isoformat(),
        "timezone": "America/New_York",
        "marketing_consent": False,
        **overrides,
    }


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_json_nested_a_thousand_deep_is_a_400_saying_so(client, url):
    deep = "[" * 1000 + "]" * 1000
    response = client.post(url, data=deep, content_type="application/json")
    assert response.status_code == 400
    assert f"nested deeper than {JSON_MAX_DEPTH}" in response.get_data(as_text=True)


def test_json_just_within_the_depth_limit_reaches_the_view(client):
    body = {"name": "x"}
    for _ in range(JSON_MAX_DEPTH - 2):
        body = {"utm": body}
    response = client.post("/api/v1/bookings", json=body)
    assert response.status_code == 422  # the schema's answer, not the edge's


def test_a_json_body_over_the_size_limit_is_a_413(client):
    body = json.dumps({"name": "x" * JSON_MAX_BYTES})
    response = client.post("/api/v1/bookings", data=body, content_type="application/json")
    assert response.status_code == 413 and response.is_json


def test_a_lone_surrogate_in_a_booking_name_is_a_400_naming_the_field(client, slot):
    body = json.dumps(booking(slot)).replace("Maria Lopez", "Maria \\ud800")
    response = client.post("/api/v1/bookings", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "name" in response.get_json()["errors"]["json"]
    # A surrogate inside a nested key is found as well.
    body = json.dumps(booking(slot, utm={"utm_source": "x"})).replace('x"', '\\udfff"')
    response = client.post("/api/v1/bookings", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["errors"]["json"] == {
        "utm.utm_source": ["This text is not valid Unicode (a lone surrogate)."]
    }
    # And the same booking with a real name goes through.
    assert client.post("/api/v1/bookings", json=booking(slot)).status_code == 201


def test_a_far_start_date_on_the_slot_pages_is_refused_or_clamped(client, slot):
    response = client.get("/api/v1/slots?start=9999-12-31")
    assert response.status_code == 422
    assert "start" in response.get_json()["errors"]["query"]
    assert client.get("/book?start=9999-12-31").status_code == 200
    made = client.post("/api/v1/bookings", json=booking(slot)).get_json()
    manage = made["manage_url"].split("localhost", 1)[-1]
    assert client.get(f"{manage}?start=9999-12-31").status_code == 200
    assert client.get(f"{manage}?start=0001-01-01").status_code == 200


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_a_far_slot_start_is_a_field_error(client, slot, moment):
    response = client.post("/api/v1/bookings", json=booking(slot, slot_start=moment))
    assert response.status_code == 422
    assert "slot_start" in response.get_json()["errors"]["json"]
    page = client.post("/book", data={**booking(slot), "slot": moment, "tz": "America/New_York"})
    assert page.status_code < 500


@pytest.mark.parametrize("digits", ["99999999999999999999", str(ID_MAX + 1), "9" * 5000])
def test_an_id_too_large_for_a_row_is_a_404(client, auth, coach, digits):
    auth.login(coach)
    for url in (f"/coach/leads/{digits}", f"/api/v1/leads/{digits}",
                f"/coach/outbox/{digits}", f"/coach/clients/{digits}"):  # fmt: skip
        assert client.get(url).status_code == 404, url


def test_the_largest_id_is_still_a_page_that_is_not_found(client, auth, coach):
    auth.login(coach)
    assert client.get(f"/coach/leads/{ID_MAX}").status_code == 404


def test_the_api_document_states_the_id_bound(app_ctx):
    spec = api.spec.to_dict()
    [param] = [p for p in spec["paths"]["/api/v1/leads/{lead_id}"]["parameters"]]
    assert param["schema"]["maximum"] == ID_MAX


def test_a_day_page_outside_the_date_range_is_a_404(client, auth, make_client):
    auth.login(make_client(PLAN_START))
    assert client.get("/portal/day/0001-01-01").status_code == 404
    assert client.get("/portal/day/9999-12-31").status_code == 404
    assert client.get("/portal/day/2030-02-30").status_code == 404
    assert client.get(f"/portal/day/{PLAN_START.isoformat()}").status_code == 200


def test_far_dates_in_the_coachs_filters_are_field_errors(client, auth, coach, db_session):
    auth.login(coach)
    page = client.get("/coach/leads?created_from=9999-12-31&created_to=0001-01-01")
    assert page.status_code == 400  # the list, re-rendered with the filter's field errors
    assert f"between {DATE_MIN.year} and {DATE_MAX.year}" in page.get_data(as_text=True)
    token = issue_api_token(db_session, coach)
    response = client.get(
        "/api/v1/leads?created_from=9999-12-31", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert "created_from" in response.get_json()["errors"]["query"]
    assert client.get("/coach/payments?from=9999-12-31&to=0001-01-01").status_code == 200


def test_a_far_start_date_in_the_plan_preview_is_a_field_error(client, coach, db_session):
    token = issue_api_token(db_session, coach)
    body = {"ability": "run_minutes", "run_minutes": 1, "days": [0, 2, 4],
            "start_date": "9999-12-31"}  # fmt: skip
    response = client.post(
        "/api/v1/plans/preview", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["start_date"] == [
        f"Pick a date between {DATE_MIN.year} and {DATE_MAX.year}."
    ]
    body["start_date"] = date.today().isoformat()
    response = client.post(
        "/api/v1/plans/preview", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


def test_a_far_date_in_the_intake_form_is_a_field_error(client, auth, make_user):
    auth.login(make_user(role="runner"))
    response = client.post(
        "/portal/intake",
        data={"ability": "run_minutes", "run_minutes": "1", "days": ["0", "2", "4"],
              "start_date": "9999-12-31", "pain_area": "none", "pain_level": "0",
              "equipment": ["none"], "timezone": "America/New_York"},
    )  # fmt: skip
    assert response.status_code in {200, 400, 422}
    assert f"between {DATE_MIN.year} and {DATE_MAX.year}" in response.get_data(as_text=True)

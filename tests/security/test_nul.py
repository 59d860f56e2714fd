"""NUL characters are refused at the door (PostgreSQL text cannot store them)."""

from crm.booking import availability as coach_availability


def test_a_nul_character_in_json_is_a_400_not_a_500(client, db_session):
    coach_availability.ensure_default_availability(db_session)
    slot = coach_availability.free_slots(db_session, days=14)[0]
    body = {
        "name": "Nul\u0000Name",
        "email": "nul@example.com",
        "slot_start": slot.start.isoformat(),
        "timezone": "America/New_York",
        "marketing_consent": False,
    }
    response = client.post("/api/v1/bookings", json=body)
    assert response.status_code == 400
    assert response.is_json
    body["name"] = "Clean Name"
    assert client.post("/api/v1/bookings", json=body).status_code == 201


def test_a_nul_character_in_a_query_string_is_a_400(client):
    assert client.get("/api/v1/slots?tz=America/New_York%00").status_code == 400
    assert client.get("/book?tz=%00").status_code == 400

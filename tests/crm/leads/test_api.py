from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.accounts.models import ApiToken
from crm.leads.models import LeadEvent, Stage
from extensions import db

PASSWORD = "correct horse battery"  # tests.factories' default


def _token(client, email="coach@example.com", password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_coach_gets_a_token_and_can_revoke_it(client, coach, make_lead):
    make_lead()
    response = _token(client)
    assert response.status_code == 201
    token = response.get_json()["token"]
    stored = db.session.scalar(select(ApiToken))
    assert stored.token_hash != token and len(stored.token_hash) == 64
    assert client.get("/api/v1/leads", headers=_bearer(token)).status_code == 200

    assert client.delete("/api/v1/auth/token", headers=_bearer(token)).status_code == 204
    after = client.get("/api/v1/leads", headers=_bearer(token))
    assert after.status_code == 401
    assert after.is_json
    assert client.delete("/api/v1/auth/token", headers=_bearer(token)).status_code == 401


def test_wrong_password_and_runner_get_no_token(client, coach, make_user):
    assert _token(client, password="wrong password!").status_code == 401
    make_user(role="runner", email="runner@example.com")
    response = _token(client, email="runner@example.com")
    assert response.status_code == 403
    assert response.is_json
    assert db.session.scalar(select(ApiToken)) is None


def test_token_request_rejects_unknown_fields(client, coach):
    response = client.post(
        "/api/v1/auth/token", json={"email": "coach@example.com", "password": PASSWORD, "x": 1}
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["x"] == ["Unknown field."]


def test_anonymous_gets_401_json_and_runner_403_json(client, auth, make_user, make_lead):
    lead = make_lead()
    for method, url in (("get", "/api/v1/leads"), ("get", f"/api/v1/leads/{lead.id}"),
                        ("patch", f"/api/v1/leads/{lead.id}")):  # fmt: skip
        response = getattr(client, method)(
            url, json={"stage": "lost"} if method == "patch" else None
        )
        assert response.status_code == 401 and response.is_json
    auth.login(make_user(role="runner"))
    response = client.get("/api/v1/leads")
    assert response.status_code == 403 and response.is_json


def test_list_filters_and_pages_with_a_cursor(client, auth, coach, make_lead):
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(5):
        make_lead(name=f"Runner {i}", stage=Stage.NEW, created_at=base + timedelta(days=i))
    make_lead(name="Lost One", stage=Stage.LOST, lost_reason="Price")
    auth.login(coach)
    first = client.get("/api/v1/leads?stage=new&limit=2").get_json()
    assert [x["name"] for x in first["items"]] == ["Runner 4", "Runner 3"]
    names = [x["name"] for x in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(f"/api/v1/leads?stage=new&limit=2&cursor={cursor}").get_json()
        names += [x["name"] for x in page["items"]]
        cursor = page["next_cursor"]
    assert names == [f"Runner {i}" for i in (4, 3, 2, 1, 0)]
    found = client.get("/api/v1/leads?q=LOST").get_json()["items"]
    assert [x["stage"] for x in found] == ["lost"]


def test_bad_query_values_are_422(client, auth, coach):
    auth.login(coach)
    assert client.get("/api/v1/leads?stage=nope").status_code == 422
    assert client.get("/api/v1/leads?limit=0").status_code == 422
    response = client.get("/api/v1/leads?cursor=garbage")
    assert response.status_code == 422
    assert "cursor" in response.get_json()["errors"]["query"]


def test_get_and_patch_a_lead(client, coach, make_lead):
    lead = make_lead(stage=Stage.CALL_HELD, utm={"utm_source": "ig"})
    token = _token(client).get_json()["token"]
    body = client.get(f"/api/v1/leads/{lead.id}", headers=_bearer(token)).get_json()
    assert body["email"] == lead.email and body["utm"] == {"utm_source": "ig"}
    assert client.get("/api/v1/leads/999999", headers=_bearer(token)).status_code == 404

    response = client.patch(
        f"/api/v1/leads/{lead.id}", json={"stage": "lost", "lost_reason": "Price"},
        headers=_bearer(token),
    )  # fmt: skip
    assert response.status_code == 200
    assert response.get_json()["stage"] == "lost"
    event = db.session.scalar(select(LeadEvent).order_by(LeadEvent.id.desc()))
    assert event.kind == "stage_changed" and event.actor_id == coach.id


def test_patch_errors_are_422_with_field_errors(client, auth, coach, make_lead):
    lead = make_lead(stage=Stage.ENROLLED)
    auth.login(coach)
    unknown = client.patch(f"/api/v1/leads/{lead.id}", json={"stage": "lost", "email": "x"})
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"]["json"]["email"] == ["Unknown field."]
    illegal = client.patch(f"/api/v1/leads/{lead.id}", json={"stage": "new"})
    assert illegal.status_code == 422
    assert "stage" in illegal.get_json()["errors"]["json"]
    no_reason = client.patch(f"/api/v1/leads/{lead.id}", json={"stage": "lost"})
    assert no_reason.status_code == 422
    assert "lost_reason" in no_reason.get_json()["errors"]["json"]
    db.session.refresh(lead)
    assert lead.stage == Stage.ENROLLED


def test_openapi_documents_the_leads_and_token_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get"} <= set(paths["/api/v1/leads"])
    assert {"get", "patch"} <= set(paths["/api/v1/leads/{lead_id}"])
    assert {"post", "delete"} <= set(paths["/api/v1/auth/token"])
    assert "bearerAuth" in spec["components"]["securitySchemes"]

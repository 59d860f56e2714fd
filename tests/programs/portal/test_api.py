from datetime import datetime

import time_machine

from programs.plans import active_plan
from tests.programs.conftest import START, day

PROFILE = {
    "ability": "run_minutes",
    "run_minutes": 3,
    "days": [0, 2, 4, 5],
    "equipment": ["band"],
    "pain_area": "knee",
    "pain_level": 4,
    "start_date": START.isoformat(),
    "race_date": day(70).isoformat(),
    "race_type": "rundisney",
    "age": 42,
}


def test_coach_previews_a_plan_without_saving(client, auth, coach):
    auth.login(coach)
    response = client.post("/api/v1/plans/preview", json=PROFILE)
    assert response.status_code == 200
    body = response.get_json()
    assert body["engine_version"] and body["weeks"]
    assert body["profile"]["race_type"] == "rundisney"
    assert body["weeks"][0]["sessions"][0]["date"] >= START.isoformat()


def test_preview_answers_422_with_the_engines_field_errors(client, auth, coach):
    auth.login(coach)
    response = client.post("/api/v1/plans/preview", json={**PROFILE, "days": [0, 1]})
    assert response.status_code == 422
    assert "3 to 6 days" in response.get_json()["errors"]["json"]["days"][0]
    unknown = client.post("/api/v1/plans/preview", json={**PROFILE, "shoe_size": 7})
    assert unknown.status_code == 422
    assert "shoe_size" in unknown.get_json()["errors"]["json"]
    missing = client.post("/api/v1/plans/preview", json={"ability": "walk_only"})
    assert missing.status_code == 422
    assert {"days", "start_date"} <= set(missing.get_json()["errors"]["json"])


def test_runner_reads_her_plan_and_posts_a_log(client, auth, db_session, planned_runner):
    with time_machine.travel(datetime(2030, 3, 6, 18, 0), tick=False):
        auth.login(planned_runner)
        plan = client.get("/api/v1/me/plan").get_json()
        assert plan["plan_id"] == active_plan(db_session, planned_runner.id).id
        created = client.post(
            "/api/v1/me/logs",
            json={"session_date": "2030-03-06", "status": "done", "effort": 6, "pain_during": 2},
        )
        assert created.status_code == 201, created.get_json()
        assert created.get_json()["kind"] == "run_walk"
        bad = client.post(
            "/api/v1/me/logs", json={"session_date": "2030-03-06", "status": "done", "effort": 11}
        )
        assert bad.status_code == 422 and "effort" in bad.get_json()["errors"]["json"]
        future = client.post(
            "/api/v1/me/logs",
            json={"session_date": "2030-03-09", "status": "done", "effort": 5, "pain_during": 0},
        )
        assert future.status_code == 422
        assert "session_date" in future.get_json()["errors"]["json"]


def test_me_plan_is_404_before_the_intake(client, auth, runner):
    auth.login(runner)
    response = client.get("/api/v1/me/plan")
    assert response.status_code == 404 and "intake" in response.get_json()["message"]


def test_cookie_posts_need_the_csrf_header_bearer_posts_do_not(
    app_ctx, client, auth, db_session, coach, planned_runner
):
    import re

    from crm.accounts.services import issue_api_token

    app_ctx.config["WTF_CSRF_ENABLED"] = True
    try:
        with time_machine.travel(datetime(2030, 3, 6, 18, 0), tick=False):
            auth.login(planned_runner)
            body = {"session_date": "2030-03-06", "status": "skipped"}
            refused = client.post("/api/v1/me/logs", json=body)
            assert refused.status_code == 400 and "X-CSRFToken" in refused.get_json()["message"]
            page = client.get("/portal").data.decode()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            ok = client.post("/api/v1/me/logs", json=body, headers={"X-CSRFToken": token})
            assert ok.status_code == 201, ok.get_json()
            auth.logout()
            # The client fixture shares one app context across requests, so Flask-Login's
            # cached user in `g` would outlive the logout.
            from flask import g

            g.pop("_login_user", None)
            # Bearer tokens are the coach's: no cookie, so no CSRF header needed.
            bearer = issue_api_token(db_session, coach)
            by_token = client.post(
                "/api/v1/plans/preview", json=PROFILE, headers={"Authorization": f"Bearer {bearer}"}
            )
            assert by_token.status_code == 200
    finally:
        app_ctx.config["WTF_CSRF_ENABLED"] = False


def test_the_openapi_document_lists_the_programs_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/plans/preview", "/api/v1/me/plan", "/api/v1/me/logs"} <= set(paths)

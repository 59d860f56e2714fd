"""Logs made offline carry an id from the phone: sent twice, saved once."""

import re
from datetime import datetime

import pytest
import time_machine
from sqlalchemy import func, select

from programs.errors import PortalError
from programs.logs import record_workout
from programs.models import WorkoutLog
from tests.programs.conftest import day

CLIENT_ID = "5f0c1e9a-3b7d-4c2e-9f1a-8d6b2e4c7a10"


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(WorkoutLog))


def test_the_same_offline_log_sent_twice_is_saved_once(db_session, planned_runner):
    first = record_workout(
        db_session, planned_runner.id, day(2), "done", 6, 2, today=day(3), client_id=CLIENT_ID
    )
    # The phone never heard back, sends it again (even with a later edit): nothing changes.
    again = record_workout(
        db_session, planned_runner.id, day(2), "skipped", None, None, today=day(3),
        client_id=CLIENT_ID,
    )  # fmt: skip
    assert again.id == first.id and _count(db_session) == 1
    assert again.status == "done" and again.effort == 6 and again.client_id == CLIENT_ID


def test_a_client_id_belongs_to_one_runner(db_session, planned_runner, make_client):
    other = make_client(day(0), email="other@example.com", timezone="America/Los_Angeles")
    record_workout(
        db_session, planned_runner.id, day(2), "done", 6, 2, today=day(3), client_id=CLIENT_ID
    )
    theirs = record_workout(
        db_session, other.id, day(2), "done", 4, 0, today=day(3), client_id=CLIENT_ID
    )
    assert theirs.user_id == other.id and _count(db_session) == 2


def test_a_malformed_client_id_is_refused(db_session, planned_runner):
    with pytest.raises(PortalError):
        record_workout(
            db_session, planned_runner.id, day(2), "done", 6, 2, today=day(3), client_id="x y"
        )


def test_the_api_answers_a_replay_with_the_saved_log(client, auth, db_session, planned_runner):
    body = {
        "session_date": "2030-03-06",
        "status": "done",
        "effort": 6,
        "pain_during": 2,
        "client_id": CLIENT_ID,
    }
    with time_machine.travel(datetime(2030, 3, 6, 18, 0), tick=False):
        auth.login(planned_runner)
        first = client.post("/api/v1/me/logs", json=body)
        second = client.post("/api/v1/me/logs", json={**body, "effort": 9})
        bad = client.post("/api/v1/me/logs", json={**body, "client_id": "<script>"})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.get_json()["effort"] == 6 and _count(db_session) == 1
    assert bad.status_code == 422 and "client_id" in bad.get_json()["errors"]["json"]


def test_the_service_worker_is_served_from_the_root_and_never_stale(client):
    with client.get("/sw.js") as response:
        body = response.get_data()
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert b"hero-pages-" in body
    csp = response.headers["Content-Security-Policy"]
    assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp


def test_the_manifest_installs_the_runners_app(client):
    with client.get("/static/manifest.webmanifest") as response:
        manifest = response.get_json(force=True)
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    assert manifest["start_url"] == "/portal" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as image:
            assert image.status_code == 200 and image.mimetype == "image/png"


def test_runner_pages_register_the_app_and_coach_pages_do_not(client, auth, planned_runner, coach):
    auth.login(planned_runner)
    page = client.get("/portal/plan").get_data(as_text=True)
    assert 'data-offline-app="/sw.js"' in page and 'rel="manifest"' in page
    assert re.search(r"js/offline\.[0-9a-f]{12}\.js", page) and "data-logout" in page
    auth.logout()
    auth.login(coach)
    page = client.get("/coach").get_data(as_text=True)
    assert "data-offline-app" not in page
    assert re.search(
        r"js/offline\.[0-9a-f]{12}\.js", page
    )  # for the logout hook that empties what a phone kept

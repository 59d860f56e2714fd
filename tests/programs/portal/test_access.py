"""A runner only ever sees her own data: every runner URL and API, tried as another runner."""

from datetime import datetime

import time_machine

from programs.calendar import calendar_secret
from programs.intake import submit_intake
from programs.logs import record_workout
from programs.models import WorkoutLog
from programs.plans import logs_for
from tests.factories import intake_values
from tests.programs.conftest import TIMEZONE, day

RUNNER_PAGES = ["/portal", "/portal/plan", "/portal/week", "/portal/week?w=0", "/portal/progress",
                "/portal/intake", f"/portal/day/{day(2).isoformat()}"]  # fmt: skip


def _setup(db_session, runner, other_runner):
    submit_intake(db_session, runner.id, intake_values(timezone=TIMEZONE))
    log = record_workout(
        db_session, runner.id, day(2), "done", 5, 3, note="Maya's secret note", today=day(2)
    )
    submit_intake(
        db_session,
        other_runner.id,
        intake_values(
            timezone=TIMEZONE, ability="walk_only", run_minutes=None, pain_area="none", pain_level=0
        ),
    )
    return log


def test_every_runner_page_shows_only_her_own_data(client, auth, db_session, runner, other_runner):
    log = _setup(db_session, runner, other_runner)
    maya_secret = calendar_secret(db_session, runner.id)
    with time_machine.travel(datetime(2030, 3, 8, 12, 0), tick=False):
        auth.login(other_runner)
        for url in RUNNER_PAGES:
            r = client.get(url)
            assert r.status_code == 200, url
            html = r.data.decode()
            assert "Maya" not in html and "secret note" not in html, url
            assert maya_secret not in html, url
        # Her next-morning prompt cannot touch Maya's log.
        client.post("/portal/morning", data={"log_id": log.id, "pain_next_morning": "9"})
        # Logging "Maya's" day only ever writes Rosa's own log.
        client.post("/portal/log", data={"session_date": day(2).isoformat(), "kind": "run_walk",
                                         "status": "skipped"})  # fmt: skip
        api = client.get("/api/v1/me/plan").get_json()
        assert api["plan"]["profile"]["ability"] == "walk_only"
        client.post(
            "/api/v1/me/logs", json={"session_date": day(2).isoformat(), "status": "skipped"}
        )
    db_session.expire_all()
    maya_log = db_session.get(WorkoutLog, log.id)
    assert maya_log.pain_next_morning is None and maya_log.status == "done"
    assert {lg.user_id for lg in logs_for(db_session, other_runner.id)} == {other_runner.id}


def test_runners_cannot_open_coach_pages_or_preview(client, auth, db_session, runner, other_runner):
    _setup(db_session, runner, other_runner)
    auth.login(other_runner)
    for url in [
        "/coach/clients",
        f"/coach/clients/{runner.id}",
        f"/coach/clients/{runner.id}/profile",
    ]:
        assert client.get(url).status_code == 403, url
    for url in ["skip", "notes", "regenerate", "swap", "move", "intervals", "threshold"]:
        assert client.post(f"/coach/clients/{runner.id}/{url}", data={}).status_code == 403, url
    assert client.post("/api/v1/plans/preview", json={}).status_code == 403


def test_coach_cannot_use_the_runner_portal(client, auth, coach):
    auth.login(coach)
    assert client.get("/portal").status_code == 403
    assert client.get("/api/v1/me/plan").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/portal").status_code == 302
    assert "/login" in client.get("/portal/plan").headers["Location"]
    assert client.get("/api/v1/me/plan").status_code == 401
    assert client.post("/api/v1/me/logs", json={}).status_code == 401


def test_the_calendar_secret_is_per_runner_and_regenerable(
    client, auth, db_session, runner, other_runner
):
    _setup(db_session, runner, other_runner)
    maya = calendar_secret(db_session, runner.id)
    rosa = calendar_secret(db_session, other_runner.id)
    assert maya != rosa
    # Logged in first: the test client shares one app context (and `g`) across requests.
    auth.login(runner)
    assert client.get(f"/portal/calendar/{maya}.ics").status_code == 200
    assert client.get("/portal/calendar/not-a-secret.ics").status_code == 404
    client.post("/portal/calendar/regenerate")
    assert client.get(f"/portal/calendar/{maya}.ics").status_code == 404
    new = calendar_secret(db_session, runner.id)
    assert new != maya and client.get(f"/portal/calendar/{new}.ics").status_code == 200
    # Regenerating hers never touches anyone else's.
    assert client.get(f"/portal/calendar/{rosa}.ics").status_code == 200

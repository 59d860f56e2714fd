"""A strength day's log with her word on each exercise: stored once per exercise, the plan
listens (next week's session changes, the coach hears which exercise hurt), the coach's pins hold,
and the coach's page and printable sheet show it all."""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest
import time_machine
from sqlalchemy import func, select

from crm.alerts.models import CoachFlag
from programs.drawings import exercise_svg
from programs.engine import load_library
from programs.models import WorkoutLog
from programs.plans import active_plan, load_plan
from programs.strength_models import StrengthFeedback, StrengthPin
from tasks.models import OutboxEmail
from tests.programs.conftest import day

LIB = load_library()
MONDAY = day(0)  # session A of week 1 (the plan starts on a Monday)
AT_NOON = datetime(2030, 3, 4, 17, 0)  # noon in New York


def _session_a(db_session, user_id, on=MONDAY):
    plan = load_plan(active_plan(db_session, user_id))
    return next(s for s in plan.sessions if s.date == on and s.kind == "strength")


def _post_log(client, on, feedback: dict, **fields):
    data = {"session_date": on.isoformat(), "kind": "strength", "status": "done", "effort": "5"}
    data.update(fields)
    for ex_id, (rating, pain) in feedback.items():
        if rating:
            data[f"rating-{ex_id}"] = rating
        if pain is not None:
            data[f"pain-{ex_id}"] = str(pain)
    return client.post("/portal/log", data=data)


@pytest.fixture(autouse=True)
def _noon_on_her_first_strength_day():
    # Her clock (and the session cookie's) on the Monday of session A.
    with time_machine.travel(AT_NOON, tick=False):
        yield


@pytest.fixture
def runner_client(client, auth, planned_runner):
    auth.login(planned_runner)
    return client


def test_the_strength_day_shows_each_exercise_and_the_guided_session(
    runner_client, db_session, planned_runner
):
    session = _session_a(db_session, planned_runner.id)
    page = runner_client.get("/portal").get_data(as_text=True)
    assert "Start session" in page and "data-strength-items" in page
    for item in session.items:
        assert f'data-exercise="{item.exercise_id}"' in page
        assert f"/strength/drawings/{item.exercise_id}.svg" in page
        assert f'name="rating-{item.exercise_id}"' in page
    assert (
        re.search(r"js/strength\.[0-9a-f]{12}\.js", page)
        and "<script>"
        not in page.replace('<script type="application/json" data-strength-items>', "")
        .split("</header>")[-1]
        .split("data-timer")[0]
    )


def test_feedback_is_stored_once_per_exercise_and_the_plan_listens(
    runner_client, db_session, planned_runner, coach
):
    uid = planned_runner.id
    session = _session_a(db_session, uid)
    hurt, hard = session.items[0], session.items[1]
    before = _session_a(db_session, uid, MONDAY + timedelta(days=7))
    for _ in range(2):  # the same log twice: one row per exercise, updated
        response = _post_log(
            runner_client,
            MONDAY,
            {hurt.exercise_id: ("right", 6), hard.exercise_id: ("hard", 1)},
        )
        assert response.status_code == 302
    rows = db_session.scalars(select(StrengthFeedback).order_by(StrengthFeedback.exercise_id)).all()
    assert {(r.exercise_id, r.rating, r.pain) for r in rows} == {
        (hurt.exercise_id, "right", 6),
        (hard.exercise_id, "hard", 1),
    }
    after = _session_a(db_session, uid, MONDAY + timedelta(days=7))
    ids_after = [i.exercise_id for i in after.items]
    assert hurt.exercise_id not in ids_after  # swapped …
    swapped = next(
        i
        for i, old in zip(after.items, before.items, strict=True)
        if old.exercise_id == hurt.exercise_id
    )
    same = (LIB[swapped.exercise_id].direction, LIB[swapped.exercise_id].knee)
    assert same == (LIB[hurt.exercise_id].direction, LIB[hurt.exercise_id].knee)  # … like for like
    old_hard = next(i for i in before.items if i.exercise_id == hard.exercise_id)
    new_hard = next(
        i
        for i, old in zip(after.items, before.items, strict=True)
        if old.exercise_id == hard.exercise_id
    )
    assert new_hard != old_hard  # easier variant or less of it
    plan = load_plan(active_plan(db_session, uid))
    assert {c.rule for c in plan.changes} >= {"strength-pain-swap", "strength-too-hard"}
    # The coach is told which exercise hurt: a flag, and an email.
    flags = db_session.scalars(select(CoachFlag).where(CoachFlag.user_id == uid)).all()
    assert any(hurt.name in f.reason for f in flags)
    mails = db_session.scalars(select(OutboxEmail).where(OutboxEmail.to_email == coach.email)).all()
    assert any(hurt.name in m.text for m in mails)
    # The overall pain of the session defaults to the worst exercise's.
    assert db_session.scalar(select(WorkoutLog.pain_during)) == 6


def test_feedback_for_an_exercise_not_in_the_session_is_refused_and_nothing_is_written(
    runner_client, db_session, planned_runner
):
    response = _post_log(runner_client, MONDAY, {"not-in-this-session": ("easy", 0)})
    assert response.status_code == 422
    bad_pain = _post_log(
        runner_client,
        MONDAY,
        {_session_a(db_session, planned_runner.id).items[0].exercise_id: ("easy", 11)},
    )
    assert bad_pain.status_code == 422
    assert db_session.scalar(select(func.count(StrengthFeedback.id))) == 0
    assert db_session.scalar(select(func.count(WorkoutLog.id))) == 0


def test_a_pinned_exercise_stays_as_it_is_until_unpinned(
    client, auth, db_session, planned_runner, coach
):
    uid = planned_runner.id
    item = _session_a(db_session, uid).items[1]
    auth.login(coach)
    response = client.post(
        f"/coach/clients/{uid}/strength/pin", data={"exercise_id": item.exercise_id, "pinned": "1"}
    )
    assert response.status_code == 302
    assert db_session.scalar(select(StrengthPin.exercise_id)) == item.exercise_id
    before = _session_a(db_session, uid, MONDAY + timedelta(days=7))
    auth.login(planned_runner)
    assert _post_log(client, MONDAY, {item.exercise_id: ("hard", 0)}).status_code == 302
    assert _session_a(db_session, uid, MONDAY + timedelta(days=7)) == before
    auth.login(coach)
    client.post(
        f"/coach/clients/{uid}/strength/pin", data={"exercise_id": item.exercise_id, "pinned": "0"}
    )
    assert _session_a(db_session, uid, MONDAY + timedelta(days=7)) != before
    # Only exercises in her plan can be pinned; only the coach pins.
    client.post(f"/coach/clients/{uid}/strength/pin", data={"exercise_id": "nope", "pinned": "1"})
    assert db_session.scalar(select(func.count(StrengthPin.id))) == 0
    auth.login(planned_runner)
    denied = client.post(
        f"/coach/clients/{uid}/strength/pin", data={"exercise_id": item.exercise_id, "pinned": "1"}
    )
    assert denied.status_code in (302, 403)
    assert db_session.scalar(select(func.count(StrengthPin.id))) == 0


def test_the_coach_sees_each_exercise_and_prints_a_home_exercise_sheet(
    client, auth, db_session, planned_runner, coach
):
    uid = planned_runner.id
    item = _session_a(db_session, uid).items[0]
    auth.login(planned_runner)
    _post_log(client, MONDAY, {item.exercise_id: ("easy", 2)})
    auth.login(coach)
    page = client.get(f"/coach/clients/{uid}").get_data(as_text=True)
    pdf = client.get(f"/coach/clients/{uid}/home-exercises.pdf")
    panel = page.split('id="strength"')[1].split("</section>")[0]
    assert item.name in panel and "Too easy" in panel and "2/10" in panel and "Pin" in panel
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    text = b"".join(
        zlib.decompress(m)
        for m in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf.data, re.S)
        if m[:1] == b"x"
    )
    assert item.name.encode() in text and b"Cue:" in text
    auth.login(planned_runner)
    assert client.get(f"/coach/clients/{uid}/home-exercises.pdf").status_code in (302, 403)


def test_every_library_exercise_has_a_well_formed_drawing():
    for ex in LIB.exercises:
        svg = exercise_svg(ex)
        root = ElementTree.fromstring(svg)
        assert root.tag.endswith("svg") and ex.name in svg
        assert "script" not in svg.lower()

"""The weekly check-in: Sunday 18:00 in her zone across DST, the signed once-a-week form."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.leads.models import LeadEvent
from programs.coaching.checkins import (
    AlreadyCheckedIn,
    CheckInError,
    CheckInLinkExpired,
    CheckInLinkInvalid,
    checkin_token,
    latest_checkins,
    queue_weekly_checkins,
    submit_checkin,
)
from programs.coaching.models import CheckIn
from tasks.models import EmailStatus, OutboxEmail


def _checkins(session) -> list[OutboxEmail]:
    session.expire_all()
    return list(
        session.scalars(select(OutboxEmail).where(OutboxEmail.template == "weekly_checkin"))
    )


def _run_beat(session, start: datetime, end: datetime) -> list[datetime]:
    """Run the 15-minute beat from start to end; the ticks at which something was queued."""
    hits, tick = [], start
    while tick <= end:
        with time_machine.travel(tick, tick=False):
            if queue_weekly_checkins(session):
                hits.append(tick)
        tick += timedelta(minutes=15)
    return hits


@pytest.mark.parametrize(
    ("sunday", "due_utc", "week"),
    [
        # 3 Nov 2030: Los Angeles falls back at 02:00 that morning; 18:00 is PST (UTC-8).
        (date(2030, 11, 3), datetime(2030, 11, 4, 2, 0, tzinfo=UTC), "2030-W44"),
        # 10 Mar 2030: Los Angeles springs forward at 02:00 that morning; 18:00 is PDT (UTC-7).
        (date(2030, 3, 10), datetime(2030, 3, 11, 1, 0, tzinfo=UTC), "2030-W10"),
    ],
)
def test_checkin_goes_once_at_sunday_18_local_in_a_dst_week(
    db_session, make_client, sunday, due_utc, week
):
    runner = make_client(sunday - timedelta(days=13))
    # The whole weekend, every 15 minutes, as beat would: from Saturday to Monday (UTC).
    start = datetime.combine(sunday - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    hits = _run_beat(db_session, start, start + timedelta(days=2, hours=12))
    assert hits == [due_utc]
    [row] = _checkins(db_session)
    assert row.due_at == due_utc
    assert row.idempotency_key == f"checkin:{runner.id}:{week}"
    assert row.to_email == runner.email and row.status == EmailStatus.QUEUED
    assert row.enqueued_at is not None  # due now: straight to the broker
    # Next week's sessions (Monday to Sunday after this Sunday) come from her plan.
    monday = sunday + timedelta(days=1)
    assert f"Monday {monday.day} {monday:%b}" in row.text
    assert "/checkin/" in row.text and "how did this week go" in row.subject.lower()


def test_checkin_is_queued_by_a_late_beat_run_but_still_due_at_18(db_session, make_client):
    make_client(date(2030, 10, 21))
    late = datetime(2030, 11, 4, 3, 40, tzinfo=UTC)  # 19:40 PST: beat was down at 18:00
    with time_machine.travel(late, tick=False):
        assert queue_weekly_checkins(db_session) == 1
        assert queue_weekly_checkins(db_session) == 0
    [row] = _checkins(db_session)
    assert row.due_at == datetime(2030, 11, 4, 2, 0, tzinfo=UTC)


def test_each_client_gets_it_at_18_in_her_own_zone(db_session, make_client):
    la = make_client(date(2030, 10, 21), email="la@example.com")
    paris = make_client(date(2030, 10, 21), email="paris@example.com", timezone="Europe/Paris")
    start = datetime(2030, 11, 3, 0, 0, tzinfo=UTC)
    hits = _run_beat(db_session, start, start + timedelta(days=1, hours=6))
    assert hits == [
        datetime(2030, 11, 3, 17, 0, tzinfo=UTC),
        datetime(2030, 11, 4, 2, 0, tzinfo=UTC),
    ]
    due = {r.to_email: r.due_at for r in _checkins(db_session)}
    assert due == {la.email: hits[1], paris.email: hits[0]}


def test_runner_without_a_plan_gets_no_checkin(db_session, make_user):
    make_user(role="runner")
    with time_machine.travel(datetime(2030, 11, 4, 2, 0, tzinfo=UTC), tick=False):
        assert queue_weekly_checkins(db_session) == 0


# --- the link and the form ---------------------------------------------------------------------


@pytest.fixture
def linked_runner(db_session, make_client, make_lead):
    runner = make_client(date(2030, 10, 21), email="maya@example.com")
    lead = make_lead(email="maya@example.com", name="Maya Runner")
    lead.user_id = runner.id
    db_session.commit()
    return runner, lead


SENT = datetime(2030, 11, 4, 2, 0, tzinfo=UTC)


def _token(runner, week="2030-W44"):
    with time_machine.travel(SENT, tick=False):
        return checkin_token(runner.id, week)


def test_checkin_form_is_one_click_without_login_and_lands_on_the_timeline(
    client, db_session, linked_runner
):
    runner, lead = linked_runner
    token = _token(runner)
    with time_machine.travel(SENT + timedelta(hours=1), tick=False):
        page = client.get(f"/checkin/{token}")
        assert page.status_code == 200 and b"How did this week go?" in page.data
        response = client.post(
            f"/checkin/{token}",
            data={"feeling": "hard", "pain": "3", "confidence": "6", "note": "Shins tight"},
        )
        assert response.status_code == 302
        thanks = client.get(f"/checkin/{token}")
    assert b"Thank you" in thanks.data
    [checkin] = latest_checkins(db_session, runner.id)
    assert (checkin.week, checkin.feeling, checkin.pain, checkin.confidence) == (
        "2030-W44", "hard", 3, 6,
    )  # fmt: skip
    event = db_session.scalar(select(LeadEvent).where(LeadEvent.kind == "checkin"))
    assert event.lead_id == lead.id
    assert "pain 3/10" in event.summary and "Shins tight" in event.summary


def test_checkin_link_works_once_per_week(db_session, linked_runner):
    runner, _ = linked_runner
    token = _token(runner)
    with time_machine.travel(SENT + timedelta(days=1), tick=False):
        submit_checkin(db_session, token, feeling="great", pain=0, confidence=9)
        with pytest.raises(AlreadyCheckedIn):
            submit_checkin(db_session, token, feeling="ok", pain=1, confidence=8)
        # Next week's link is a new week: it works.
        submit_checkin(db_session, _token(runner, "2030-W45"), feeling="ok", pain=1, confidence=8)
    assert [c.week for c in latest_checkins(db_session, runner.id)] == ["2030-W45", "2030-W44"]


def test_checkin_link_expires_after_eight_days(client, db_session, linked_runner):
    runner, _ = linked_runner
    token = _token(runner)
    with time_machine.travel(SENT + timedelta(days=8, minutes=1), tick=False):
        with pytest.raises(CheckInLinkExpired):
            submit_checkin(db_session, token, feeling="great", pain=0, confidence=9)
        assert client.get(f"/checkin/{token}").status_code == 410
    assert db_session.scalars(select(CheckIn)).all() == []


def test_tampered_checkin_link_is_refused(client, db_session, linked_runner):
    runner, _ = linked_runner
    token = _token(runner)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with time_machine.travel(SENT, tick=False):
        with pytest.raises(CheckInLinkInvalid):
            submit_checkin(db_session, forged, feeling="great", pain=0, confidence=9)
        assert client.get(f"/checkin/{forged}").status_code == 404


def test_bad_answers_are_shown_per_field_and_nothing_is_stored(client, db_session, linked_runner):
    runner, _ = linked_runner
    token = _token(runner)
    with time_machine.travel(SENT, tick=False):
        with pytest.raises(CheckInError) as err:
            submit_checkin(db_session, token, feeling="meh", pain=11, confidence="x")
        assert set(err.value.messages) == {"feeling", "pain", "confidence"}
        page = client.post(f"/checkin/{token}", data={"pain": "42", "confidence": "5"})
    assert page.status_code == 200 and b"Tap great, OK or hard." in page.data
    assert db_session.scalars(select(CheckIn)).all() == []


def test_pain_over_her_threshold_alerts_the_coach_once(db_session, linked_runner, coach):
    runner, _ = linked_runner  # threshold 4 (the intake default)
    with time_machine.travel(SENT, tick=False):
        submit_checkin(
            db_session, _token(runner), feeling="hard", pain=6, confidence=4, note="Knee"
        )
        submit_checkin(db_session, _token(runner, "2030-W45"), feeling="hard", pain=7, confidence=3)
    [alert] = db_session.scalars(
        select(OutboxEmail).where(OutboxEmail.template == "coach_alert")
    ).all()
    assert alert.to_email == coach.email
    assert "pain 6/10" in alert.text and "Knee" in alert.text
    assert alert.idempotency_key.startswith(f"alert:pain:{runner.id}:")


def test_pain_at_her_threshold_raises_no_alert(db_session, linked_runner, coach):
    runner, _ = linked_runner
    with time_machine.travel(SENT, tick=False):
        submit_checkin(db_session, _token(runner), feeling="ok", pain=4, confidence=7)
    assert db_session.scalars(select(OutboxEmail)).all() == []


def test_the_stored_calendar_gives_the_same_week_as_the_plan_json(db_session, make_client):
    from programs.coaching.checkins import next_week_sessions, next_week_sessions_of
    from programs.plans import active_plan

    runners = [make_client(date(2030, 10, 21), email=f"r{i}@example.com") for i in range(2)]
    sunday = date(2030, 11, 3)
    plan = active_plan(db_session, runners[0].id).plan
    expected = next_week_sessions(plan, sunday)
    assert len(expected) >= 3 and expected[0]["day"] == "Monday 4 Nov"
    ids = [r.id for r in runners]
    assert next_week_sessions_of(db_session, ids, sunday) == {i: expected for i in ids}
    after_the_plan = sunday + timedelta(days=365)
    assert next_week_sessions_of(db_session, ids[:1], after_the_plan) == {ids[0]: []}


def test_the_calendar_follows_every_change_of_the_plan(db_session, make_client):
    """An adapted or edited plan is assigned to `record.plan`; the calendar changes with it."""
    from programs.coaching.checkins import next_week_sessions_of
    from programs.plans import active_plan

    runner = make_client(date(2030, 10, 21))
    record = active_plan(db_session, runner.id)
    moved = copy.deepcopy(record.plan)
    first = moved["weeks"][2]["sessions"][0]
    first["title"] = "Hips, lying: side-lying leg lifts"
    record.plan = moved
    db_session.commit()
    sunday = date.fromisoformat(first["date"]) - timedelta(days=1)
    while sunday.weekday() != 6:
        sunday -= timedelta(days=1)
    titles = [s["title"] for s in next_week_sessions_of(db_session, [runner.id], sunday)[runner.id]]
    assert "Hips, lying: side-lying leg lifts" in titles

"""A client's own choice about her check-ins and training nudges: a one-click link in each of
them, a switch on her plan page, honoured when they are queued and again when they are sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from crm.accounts.models import User
from crm.leads.models import LeadEvent
from programs.coaching.checkins import queue_weekly_checkins
from programs.coaching.clients import coaching_off_url
from programs.coaching.nudges import queue_client_sequences
from tasks.models import EmailStatus, OutboxEmail
from tests.programs.coaching.test_nudges import START, at

SUNDAY_EVENING = datetime(2030, 11, 4, 2, 5, tzinfo=UTC)  # Sunday 3 Nov 2030, 18:05 in LA


def _rows(session, template: str) -> list[OutboxEmail]:
    session.expire_all()
    return list(session.scalars(select(OutboxEmail).where(OutboxEmail.template == template)))


def _token(user) -> str:
    return coaching_off_url(user.id).rsplit("/", 1)[1]


def test_each_checkin_carries_her_own_one_click_link(db_session, make_client, client):
    maya = make_client(START, email="maya@example.com")
    with time_machine.travel(SUNDAY_EVENING, tick=False):
        assert queue_weekly_checkins(db_session) == 1
    [row] = _rows(db_session, "weekly_checkin")
    url = coaching_off_url(maya.id)
    assert row.headers["List-Unsubscribe"] == f"<{url}>"
    assert row.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'href="{url}"' in row.html and url in row.text
    # Her mail app's one-click POST (no form token, no sign-in) turns them off.
    response = client.post(url.removeprefix("http://localhost"), data="List-Unsubscribe=One-Click")
    assert response.status_code == 200
    assert "They are off" in response.get_data(as_text=True)
    assert db_session.get(User, maya.id).coaching_emails is False


def test_a_client_who_turned_them_off_gets_no_checkin_and_the_others_still_do(
    db_session, make_client, client
):
    maya = make_client(START, email="maya@example.com")
    rosa = make_client(START, email="rosa@example.com", first_name="Rosa")
    page = client.get(f"/emails/coaching/{_token(maya)}")
    assert page.status_code == 200 and "Turn them off" in page.get_data(as_text=True)
    client.post(f"/emails/coaching/{_token(maya)}")
    with time_machine.travel(SUNDAY_EVENING, tick=False):
        assert queue_weekly_checkins(db_session) == 1
    assert [r.to_email for r in _rows(db_session, "weekly_checkin")] == [rosa.email]


def test_a_checkin_queued_before_she_turned_them_off_is_not_sent(
    db_session, make_client, client, app
):
    maya = make_client(START, email="maya@example.com")
    with time_machine.travel(SUNDAY_EVENING, tick=False):
        queue_weekly_checkins(db_session)
    [row] = _rows(db_session, "weekly_checkin")
    client.post(f"/emails/coaching/{_token(maya)}")
    send = app.extensions["celery"].tasks["tasks.send_email"]
    with time_machine.travel(SUNDAY_EVENING + timedelta(minutes=1), tick=False):
        assert send.apply(args=[row.id]).get() == "cancelled"
    assert _rows(db_session, "weekly_checkin")[0].status == EmailStatus.CANCELLED


def test_nudges_stop_too(db_session, make_client, client):
    maya = make_client(START, email="maya@example.com")
    client.post(f"/emails/coaching/{_token(maya)}")
    with time_machine.travel(at(START + timedelta(days=2)), tick=False):
        assert queue_client_sequences(db_session)["missed_workout"] == 0
    assert _rows(db_session, "missed_workout") == []


def test_she_turns_them_back_on_from_her_plan_page_and_the_coach_sees_it(
    db_session, make_client, make_lead, client, auth
):
    maya = make_client(START, email="maya@example.com")
    lead = make_lead(email=maya.email, name="Maya Runner")
    lead.user_id = maya.id
    db_session.commit()
    auth.login(maya)
    page = client.get("/portal/plan").get_data(as_text=True)
    assert 'id="emails"' in page and 'name="coaching_emails"' in page and "checked" in page
    response = client.post("/portal/emails", data={}, follow_redirects=True)  # switch off
    assert "Check-in and nudge emails are off." in response.get_data(as_text=True)
    assert db_session.get(User, maya.id).coaching_emails is False
    client.post("/portal/emails", data={"coaching_emails": "y"})
    assert db_session.get(User, maya.id).coaching_emails is True
    events = db_session.scalars(
        select(LeadEvent.summary)
        .where(LeadEvent.lead_id == lead.id, LeadEvent.kind == "coaching_emails")
        .order_by(LeadEvent.id)
    ).all()
    assert events == ["Turned off check-in and nudge emails", "Turned on check-in and nudge emails"]

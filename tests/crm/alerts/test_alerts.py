"""Coach alerts (immediate, once per kind, client and day) and the 07:00 digest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import time_machine
from sqlalchemy import select

from crm.alerts.models import CoachFlag, FlagKind
from crm.alerts.services import notify_coach as alert_coach
from crm.booking.models import Booking
from crm.dashboard.digest import queue_coach_digests
from tasks.models import EmailStatus, OutboxEmail


def _emails(session, template):
    session.expire_all()
    return list(session.scalars(select(OutboxEmail).where(OutboxEmail.template == template)))


def test_alert_is_immediate_and_once_per_kind_client_and_day(db_session, coach, make_user):
    runner = make_user(role="runner", first_name="Rosa", email="rosa@example.com")
    # 23:30 and 23:50 in Los Angeles (the coach's zone) are the same day; 00:10 is the next.
    with time_machine.travel(datetime(2030, 5, 2, 6, 30, tzinfo=UTC), tick=False):
        assert alert_coach(db_session, "missed", runner.id, "Missed Mon and Wed.") == 1
        db_session.commit()
    with time_machine.travel(datetime(2030, 5, 2, 6, 50, tzinfo=UTC), tick=False):
        assert alert_coach(db_session, "missed", runner.id, "Missed Mon, Wed and Fri.") == 0
        assert alert_coach(db_session, "payment_failed", runner.id, "Card declined.") == 1
        db_session.commit()
    with time_machine.travel(datetime(2030, 5, 2, 7, 10, tzinfo=UTC), tick=False):
        assert alert_coach(db_session, "missed", runner.id, "Still missing.") == 1
        db_session.commit()
    rows = _emails(db_session, "coach_alert")
    assert len(rows) == 3 and {r.to_email for r in rows} == {coach.email}
    first = min(rows, key=lambda r: r.id)
    assert first.status == EmailStatus.QUEUED and first.enqueued_at is not None
    assert "Rosa" in first.subject and "Missed Mon and Wed." in first.text
    assert f"/coach/clients/{runner.id}" in first.html


def test_alert_goes_even_when_the_runner_unsubscribed_from_marketing(db_session, coach, make_user):
    runner = make_user(role="runner")
    from tasks.models import Suppression, SuppressionReason

    db_session.add(Suppression(email=coach.email, reason=SuppressionReason.UNSUBSCRIBED))
    db_session.commit()
    alert_coach(db_session, "pain", runner.id, "Pain 7/10.")
    db_session.commit()
    assert [r.status for r in _emails(db_session, "coach_alert")] == [EmailStatus.QUEUED]


def _digest_day(session, coach, make_lead, make_user):
    lead = make_lead(name="Jo Caller")
    session.add(
        Booking(
            lead=lead,
            start_at=datetime(2030, 5, 2, 17, 0, tzinfo=UTC),  # 10:00 PDT
            end_at=datetime(2030, 5, 2, 17, 20, tzinfo=UTC),
            slot_start=datetime(2030, 5, 2, 17, 0, tzinfo=UTC),
            timezone="America/Los_Angeles",
        )
    )
    runner = make_user(role="runner", first_name="Ada", last_name="Hurt")
    session.add(CoachFlag(user_id=runner.id, kind=FlagKind.PAIN, key="pain:x", reason="Pain 6/10."))
    session.commit()


def test_digest_goes_at_07_coach_time_once_a_day(db_session, coach, make_lead, make_user):
    with time_machine.travel(datetime(2030, 5, 1, 20, 0, tzinfo=UTC), tick=False):
        _digest_day(db_session, coach, make_lead, make_user)  # the lead arrives the day before
    hits = []
    tick = datetime(2030, 5, 2, 0, 0, tzinfo=UTC)
    while tick < datetime(2030, 5, 3, 0, 0, tzinfo=UTC):
        with time_machine.travel(tick, tick=False):
            if queue_coach_digests(db_session):
                hits.append(tick)
        tick += timedelta(minutes=15)
    assert hits == [datetime(2030, 5, 2, 14, 0, tzinfo=UTC)]  # 07:00 PDT
    [digest] = _emails(db_session, "coach_digest")
    assert digest.to_email == coach.email
    assert digest.idempotency_key == f"digest:{coach.id}:{date(2030, 5, 2).isoformat()}"
    assert "1 call, 1 new lead, 1 flag" in digest.subject
    assert "Jo Caller" in digest.text and "10:00 AM" in digest.text
    assert "Ada Hurt: Pain 6/10." in digest.text


def test_digest_with_nothing_to_report_says_so(db_session, coach):
    with time_machine.travel(datetime(2030, 5, 2, 14, 5, tzinfo=UTC), tick=False):
        assert queue_coach_digests(db_session) == 1
    [digest] = _emails(db_session, "coach_digest")
    assert "0 calls, 0 new leads, 0 flags" in digest.subject
    assert "everyone is on track" in digest.text

"""A booking's request does the booking; the worker queues her emails once it has committed
(crm.booking.queue_emails, published once a window by each web process for every booking made
in it), exactly once, and beat's sweep catches a task that never came."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from crm.booking import services
from crm.booking.models import Booking
from crm.leads.models import LeadEvent
from crm.time import utcnow
from tasks.models import OutboxEmail
from tests.peers import wait_until


def _templates(db_session, booking_id: int | None = None) -> list[str]:
    query = select(OutboxEmail.template).order_by(OutboxEmail.template)
    if booking_id is not None:
        query = query.where(OutboxEmail.idempotency_key.startswith(f"booking:{booking_id}:"))
    return list(db_session.scalars(query))


def _timeline(db_session, lead_id: int) -> list[str]:
    return list(
        db_session.scalars(
            select(LeadEvent.kind).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
        )
    )


def test_the_request_books_and_the_worker_sends_the_confirmation(
    outbox_peers, client, db_session, free_slot
):
    """Through the API, with a real worker and SMTP server: the task published by the booking's
    commit queues the three emails, and the confirmation arrives once, with its invite."""
    _worker, smtp = outbox_peers
    response = client.post(
        "/api/v1/bookings",
        json={
            "name": "Nia Later",
            "email": "nia@example.com",
            "slot_start": free_slot(0).start.isoformat(),
            "timezone": "America/Chicago",
            "marketing_consent": False,
        },
    )
    assert response.status_code == 201, response.get_json()
    booking_id, lead_id = response.get_json()["id"], response.get_json()["lead_id"]
    smtp.wait_for(1, timeout=30)
    (message,) = smtp.to("nia@example.com")
    assert message["Subject"].startswith("Your free call is booked")
    assert any(part.get_filename() == "invite.ics" for part in message.walk())

    def queued() -> bool:
        db_session.expire_all()
        return db_session.get(Booking, booking_id).emails_queued_at is not None

    wait_until(queued, timeout=10)
    assert _templates(db_session, booking_id) == [
        "booking_confirmation",
        "booking_reminder",
        "booking_reminder",
    ]
    timeline = _timeline(db_session, lead_id)
    assert timeline[:3] == ["created", "stage_changed", "booked"]
    assert timeline[3:].count("email_queued") == 3


def test_one_task_a_window_queues_every_booking_made_in_it(
    outbox_peers, client, db_session, free_slot, app_ctx, monkeypatch
):
    """A crowd: the first booking publishes the task, to run as the window ends; the bookings
    made inside the window publish nothing, and that one run queues all their emails."""
    worker, smtp = outbox_peers
    monkeypatch.setitem(app_ctx.config, "BOOKING_EMAILS_WINDOW", 2.0)
    monkeypatch.setitem(app_ctx.extensions, "hero_windowed_tasks_due", {})  # no window open

    def received() -> int:  # the worker's log line for each task it is given
        return len(
            re.findall(r"Task crm\.booking\.queue_emails\[\S+\] received", worker.tail(10**6))
        )

    before = received()
    people = ["ada@example.com", "bea@example.com", "cy@example.com"]
    ids = []
    for index, email in enumerate(people):
        response = client.post(
            "/api/v1/bookings",
            json={
                "name": email.split("@")[0].title(),
                "email": email,
                "slot_start": free_slot(index).start.isoformat(),
                "timezone": "Europe/London",
                "marketing_consent": False,
            },
        )
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])

    smtp.wait_for(3, timeout=30)
    assert sorted(message["To"] for message in smtp.messages) == people
    assert received() - before == 1
    db_session.expire_all()
    first = db_session.get(Booking, ids[0])
    # Not before the window's end: the bookings made inside it were all there to be found.
    assert first.emails_queued_at - first.created_at >= timedelta(seconds=2)
    for booking_id in ids:
        assert _templates(db_session, booking_id) == [
            "booking_confirmation",
            "booking_reminder",
            "booking_reminder",
        ]


def test_the_emails_are_queued_once_however_often_the_task_runs(db_session, book):
    booking = book(emails=False)
    assert booking.emails_queued_at is None
    assert _templates(db_session) == []
    assert "email_queued" not in _timeline(db_session, booking.lead_id)

    assert services.queue_booking_emails(db_session, booking.id) is True
    assert services.queue_booking_emails(db_session, booking.id) is False  # a redelivery
    assert services.queue_booking_emails(db_session, 10_000) is False  # a booking long deleted
    assert _templates(db_session) == [
        "booking_confirmation",
        "booking_reminder",
        "booking_reminder",
    ]
    assert _timeline(db_session, booking.lead_id).count("email_queued") == 3


def test_a_call_cancelled_before_the_task_runs_gets_no_confirmation(db_session, book):
    booking = book(emails=False)
    services.cancel_booking(db_session, booking.id)
    assert services.queue_booking_emails(db_session, booking.id) is True
    assert _templates(db_session, booking.id) == ["booking_cancelled"]
    assert db_session.get(Booking, booking.id).emails_queued_at is not None


def test_a_task_that_comes_after_the_call_has_started_queues_nothing(db_session, book):
    """A sweep long after a broker outage: no confirmation for a call already under way, and
    the booking leaves the sweep's list (a booking whose emails keep failing leaves it too)."""
    booking = book(emails=False)
    late = booking.start_at + timedelta(minutes=1)
    assert services.queue_booking_emails(db_session, booking.id, now=late) is True
    assert _templates(db_session) == []
    assert services.queue_pending_booking_emails(db_session, now=late) == 0


def test_a_moved_call_queues_its_own_emails_at_once(db_session, book, free_slot):
    booking = book(emails=False)
    moved = services.reschedule_booking(db_session, booking.id, free_slot(3).start)
    assert moved.emails_queued_at is not None
    assert _templates(db_session, moved.id) == [
        "booking_reminder",
        "booking_reminder",
        "booking_rescheduled",
    ]
    # The first booking's task, late, sends no confirmation for a time she no longer has.
    assert services.queue_booking_emails(db_session, booking.id) is True
    assert _templates(db_session, booking.id) == []


def test_the_task_queues_every_waiting_booking_in_batches(db_session, book):
    """Published with no grace, it takes every booking still waiting, page after page, and
    tries each once."""
    bookings = [
        book(emails=False, email=f"crowd{index}@example.com", slot_index=index)
        for index in range(5)
    ]
    assert services.queue_pending_booking_emails(db_session, grace=timedelta(0), batch=2) == 5
    for booking in bookings:
        assert len(_templates(db_session, booking.id)) == 3
    assert services.queue_pending_booking_emails(db_session, grace=timedelta(0), batch=2) == 0


def test_the_sweep_queues_the_bookings_whose_task_is_late(app_ctx, db_session, book):
    late = book(emails=False)
    fresh = book(emails=False, email="fresh@example.com", slot_index=3)
    grace = timedelta(seconds=app_ctx.config["OUTBOX_STALE_SECONDS"])
    db_session.execute(
        update(Booking)
        .where(Booking.id == late.id)
        .values(created_at=utcnow() - grace - timedelta(seconds=1))
    )
    db_session.commit()

    assert services.queue_pending_booking_emails(db_session) == 1  # not the one just made
    assert _templates(db_session, late.id) == [
        "booking_confirmation",
        "booking_reminder",
        "booking_reminder",
    ]
    assert _templates(db_session, fresh.id) == []
    assert services.queue_pending_booking_emails(db_session) == 0

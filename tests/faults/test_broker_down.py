"""The broker (Redis) goes down: a booking still succeeds and the coach sees the lead, /healthz
says so, and the confirmation goes out exactly once when the broker is back (beat's booking sweep
queues the emails whose task was lost, and their send tasks go out as it commits)."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
import redis
import sqlalchemy as sa

from app import create_app
from crm.booking import availability as coach_availability
from crm.booking.models import Booking
from crm.time import utcnow
from extensions import db
from tasks.models import EmailStatus, OutboxEmail
from tests.conftest import make_test_config, sign_in
from tests.peers import WORKER_SETTINGS, Worker, wait_until


@pytest.fixture
def broker_app(app, app_ctx, redis_server, tmp_path):
    """A second app on the same database whose broker is the private Redis server."""
    config = make_test_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    config["CELERY"] = {**config["CELERY"], "broker_url": redis_server.url}
    other = create_app(config)
    other.config["HERO_TEST_TMP"] = tmp_path
    yield other
    with other.app_context():
        db.engine.dispose()


def test_booking_survives_a_broker_outage_and_its_email_is_sent_once_it_returns(
    broker_app, redis_server, smtp_server, db_session, coach
):
    coach_availability.ensure_default_availability(db_session)
    slot = coach_availability.free_slots(db_session, days=14)[0]
    client = broker_app.test_client()
    assert client.get("/healthz").status_code == 200

    redis_server.stop()
    started = time.monotonic()
    response = client.post(
        "/api/v1/bookings",
        json={
            "name": "Bea Broker",
            "email": "bea@example.com",
            "slot_start": slot.start.isoformat(),
            "timezone": "America/New_York",
            "marketing_consent": False,
        },
    )
    assert response.status_code == 201, response.get_json()
    assert time.monotonic() - started < 15  # a dead broker does not hang the booking
    booking_id = response.get_json()["id"]
    # Its emails' task could not be published: the booking waits for the sweep, nothing is lost.
    assert (
        db_session.scalar(sa.select(Booking.emails_queued_at).where(Booking.id == booking_id))
        is None
    )
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["broker"]["ok"] is False
    # The coach sees the new lead in her pipeline.
    sign_in(client, coach)
    assert "bea@example.com" in client.get("/coach/leads").get_data(as_text=True)

    smtp_server.reset()
    redis_server.start()
    assert client.get("/healthz").status_code == 200
    worker = Worker(broker_app, smtp_server)
    worker.start()
    try:
        # Past the grace (OUTBOX_STALE_SECONDS), beat's sweep (every minute) queues her emails.
        time.sleep(float(WORKER_SETTINGS["OUTBOX_STALE_SECONDS"]) + 0.5)
        worker.run_task("crm.booking.sweep_emails")
        smtp_server.wait_for(1, timeout=30)
        # The confirmation is due now (the reminders are queued for later).
        (row,) = db_session.scalars(
            sa.select(OutboxEmail).where(
                OutboxEmail.to_email == "bea@example.com", OutboxEmail.due_at <= utcnow()
            )
        ).all()
        db_session.expire_all()
        wait_until(  # populate_existing: re-read the row each poll, not the identity map's copy
            lambda: (
                db_session.get(OutboxEmail, row.id, populate_existing=True).status
                == EmailStatus.SENT
            ),
            timeout=10,
        )
        # Second sweeps find nothing to do: the email went out exactly once.
        worker.run_task("crm.booking.sweep_emails")
        worker.run_task("tasks.sweep_stuck")
        time.sleep(1.5)
        assert len(smtp_server.to("bea@example.com")) == 1
    finally:
        print(worker.tail())
        worker.stop()


def test_a_publish_the_broker_refused_opens_no_window(broker_app, redis_server, db_session):
    """Bookings publish their emails' task once a window. A publish the broker refused opens
    none: the first booking once it is back publishes (to run as its window ends), and one made
    inside that window publishes nothing more."""
    broker_app.config["BOOKING_EMAILS_WINDOW"] = 60.0
    coach_availability.ensure_default_availability(db_session)
    slots = coach_availability.free_slots(db_session, days=14)
    client = broker_app.test_client()

    def book(index: int) -> None:
        response = client.post(
            "/api/v1/bookings",
            json={
                "name": f"Runner {index}",
                "email": f"runner{index}@example.com",
                "slot_start": slots[index].start.isoformat(),
                "timezone": "America/New_York",
                "marketing_consent": False,
            },
        )
        assert response.status_code == 201, response.get_json()

    redis_server.stop()
    book(0)
    redis_server.start()
    book(1)
    published = time.time()
    book(2)
    queue = redis.Redis.from_url(redis_server.url)
    messages = [json.loads(body) for body in queue.lrange(broker_app.config["OUTBOX_QUEUE"], 0, -1)]
    assert [message["headers"]["task"] for message in messages] == ["crm.booking.queue_emails"]
    eta = datetime.fromisoformat(messages[0]["headers"]["eta"]).timestamp()
    assert published - 5 < eta - 60 <= published

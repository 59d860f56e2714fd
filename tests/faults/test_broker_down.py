"""The broker (Redis) goes down: a booking still succeeds, /healthz says so, the coach's outbox
shows the email waiting, and the email goes out exactly once when the broker is back (the
outbox sweeper re-enqueues it)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from app import create_app
from crm.booking import availability as coach_availability
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
    # The confirmation is due now (the reminders are queued for later).
    (row,) = db_session.scalars(
        sa.select(OutboxEmail).where(
            OutboxEmail.to_email == "bea@example.com", OutboxEmail.due_at <= utcnow()
        )
    ).all()
    assert row.status == EmailStatus.QUEUED
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["broker"]["ok"] is False
    # The coach sees the email waiting in her outbox.
    sign_in(client, coach)
    outbox = client.get("/coach/outbox").get_data(as_text=True)
    assert "bea@example.com" in outbox

    smtp_server.reset()
    redis_server.start()
    assert client.get("/healthz").status_code == 200
    worker = Worker(broker_app, smtp_server)
    worker.start()
    try:
        # Past the stale age, the sweeper (beat runs it every minute) re-enqueues the row.
        time.sleep(float(WORKER_SETTINGS["OUTBOX_STALE_SECONDS"]) + 0.5)
        worker.run_task("tasks.sweep_stuck")
        smtp_server.wait_for(1, timeout=30)
        db_session.expire_all()
        wait_until(  # populate_existing: re-read the row each poll, not the identity map's copy
            lambda: (
                db_session.get(OutboxEmail, row.id, populate_existing=True).status
                == EmailStatus.SENT
            ),
            timeout=10,
        )
        # A second sweep finds nothing to do: the email went out exactly once.
        worker.run_task("tasks.sweep_stuck")
        time.sleep(1.5)
        assert len(smtp_server.to("bea@example.com")) == 1
    finally:
        print(worker.tail())
        worker.stop()

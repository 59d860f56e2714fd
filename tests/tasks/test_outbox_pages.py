"""The coach's outbox pages (filter, retry, cancel, as sent) and pruning the embedded broker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from extensions import db
from tasks.models import EmailStatus, OutboxEmail
from tasks.outbox import queue_email
from tasks.sender import prune_broker


def _email(session, key, status=EmailStatus.QUEUED, first_name="Dana", error=""):
    row = queue_email(
        session,
        to=f"{key}@example.com",
        template="password_reset",
        context={"first_name": first_name, "token": "tok"},
        idempotency_key=key,
    )
    row.status, row.last_error = status, error
    session.commit()
    return row


@pytest.fixture
def coach_client(client, auth, coach):
    auth.login(coach)
    return client


def test_outbox_filters_by_status(coach_client, db_session):
    _email(db_session, "failed-one", EmailStatus.FAILED, error="SMTPServerDisconnected: gone")
    _email(db_session, "queued-one")
    page = coach_client.get("/coach/outbox?status=failed")
    assert b"failed-one@example.com" in page.data and b"queued-one@example.com" not in page.data
    assert b"SMTPServerDisconnected: gone" in page.data
    everything = coach_client.get("/coach/outbox")
    assert (
        b"failed-one@example.com" in everything.data
        and b"queued-one@example.com" in everything.data
    )


def test_retry_puts_a_failed_email_back_in_the_queue(coach_client, db_session):
    row = _email(db_session, "failed-one", EmailStatus.FAILED, error="boom")
    response = coach_client.post(f"/coach/outbox/{row.id}/retry", data={"next": "/coach/outbox"})
    assert response.status_code == 302 and response.headers["Location"] == "/coach/outbox"
    db_session.refresh(row)
    assert row.status == EmailStatus.QUEUED and row.attempts == 0 and row.last_error == ""


def test_retry_of_a_sent_email_is_refused(coach_client, db_session):
    row = _email(db_session, "sent-one", EmailStatus.SENT)
    coach_client.post(f"/coach/outbox/{row.id}/retry")
    db_session.refresh(row)
    assert row.status == EmailStatus.SENT


def test_cancel_stops_a_queued_email(coach_client, db_session):
    row = _email(db_session, "queued-one")
    coach_client.post(f"/coach/outbox/{row.id}/cancel", data={"next": "//evil.example/"})
    db_session.refresh(row)
    assert row.status == EmailStatus.CANCELLED and row.last_error == "cancelled by the coach"


def test_email_is_shown_as_sent_escaped_and_without_scripts(coach_client, db_session):
    row = _email(db_session, "xss", first_name="<script>alert(1)</script>")
    detail = coach_client.get(f"/coach/outbox/{row.id}")
    assert b"<script>alert(1)</script>" not in detail.data
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in detail.data
    as_sent = coach_client.get(f"/coach/outbox/{row.id}/html")
    assert b"<script>alert" not in as_sent.data  # the HTML part escaped the name when rendered
    assert "default-src 'none'" in as_sent.headers["Content-Security-Policy"]


def test_outbox_is_for_the_coach_only(client, auth, make_user, db_session):
    row = _email(db_session, "private")
    auth.login(make_user(role="runner"))
    assert client.get(f"/coach/outbox/{row.id}/html").status_code == 403
    assert client.post(f"/coach/outbox/{row.id}/cancel").status_code == 403


def test_prune_broker_deletes_consumed_messages_only(app_ctx):
    url = app_ctx.config["CELERY"]["broker_url"]
    if not url.startswith("sqla+"):
        pytest.skip("pruning applies to the embedded (SQLAlchemy) broker only")
    celery = app_ctx.extensions["celery"]
    with celery.connection_for_write() as conn:
        queue = conn.SimpleQueue("hero-prune-test")
        queue.put({"n": 1})
        queue.put({"n": 2})
        queue.get(timeout=5).ack()  # consumed: kombu only marks it invisible
        queue.close()
    import sqlalchemy as sa

    engine = sa.create_engine(url[len("sqla+") :])

    def rows():
        with engine.connect() as conn:
            return (
                conn.execute(
                    sa.text(
                        "SELECT m.visible FROM kombu_message m JOIN kombu_queue q "
                        "ON q.id = m.queue_id WHERE q.name = 'hero-prune-test'"
                    )
                )
                .scalars()
                .all()
            )

    try:
        assert sorted(rows()) == [False, True]
        assert prune_broker.apply().get() >= 1
        assert rows() == [True]  # the unconsumed message is still there
    finally:
        with celery.connection_for_write() as conn:
            conn.default_channel.queue_purge("hero-prune-test")
        engine.dispose()
    assert db.session.scalars(select(OutboxEmail)).all() == []

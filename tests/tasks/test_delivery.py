"""The outbox end to end: a real Celery worker (solo pool) sends to a real aiosmtpd server."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import select

from crm.leads.models import LeadEvent
from crm.time import utcnow
from extensions import db
from tasks.models import Delivery, EmailStatus, OutboxEmail, Suppression, SuppressionReason
from tasks.outbox import queue_email
from tasks.render import message_id_for
from tests.peers import wait_until

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Hero//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:booking-1@localhost\r\nDTSTART:20300512T160000Z\r\n"
    b"DTEND:20300512T162000Z\r\nSUMMARY:Free call\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def _status(row_id: int) -> EmailStatus | None:
    db.session.rollback()  # a fresh snapshot of what the worker wrote
    row = db.session.get(OutboxEmail, row_id)
    if row is None:
        return None
    db.session.refresh(row)
    return row.status


def _wait_status(row_id: int, status: EmailStatus, timeout: float = 20.0) -> OutboxEmail:
    wait_until(lambda: _status(row_id) == status, timeout)
    return db.session.get(OutboxEmail, row_id)


def _reset_email(session, to="runner@example.com", key="reset:1", **kw) -> OutboxEmail:
    return queue_email(
        session,
        to=to,
        template="password_reset",
        context={"first_name": "Dana", "token": "tok"},
        idempotency_key=key,
        **kw,
    )


def test_confirmation_arrives_once_with_headers_and_ics(outbox_peers, db_session, make_lead):
    worker, smtp = outbox_peers
    lead = make_lead(name="Ana Runner", email="ana@example.com")
    row = queue_email(
        db_session,
        to=lead.email,
        template="booking_confirmation",
        context={
            "first_name": "Ana",
            "start_local": "Sunday 12 May 2030, 9:00 AM",
            "timezone": "America/Los_Angeles",
            "manage_url": "http://localhost/booking/manage/abc",
            "call_minutes": 20,
        },
        idempotency_key="booking:1:confirmation",
        lead_id=lead.id,
        attachments=[("invite.ics", ICS, "text/calendar; method=REQUEST")],
    )
    db_session.commit()

    [message] = smtp.wait_for(1)
    row = _wait_status(row.id, EmailStatus.SENT)
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Your free call is booked: Sunday 12 May 2030, 9:00 AM"
    assert message["Message-ID"] == message_id_for("booking:1:confirmation") == row.message_id
    assert message["List-Unsubscribe"] is None  # transactional
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "http://localhost/booking/manage/abc" in text and 'style="' in html
    [invite] = list(message.iter_attachments())
    assert invite.get_filename() == "invite.ics"
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_payload(decode=True) == ICS
    assert row.delivery == Delivery.SMTP and row.attempts == 1 and row.sent_at is not None
    kinds = db_session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead.id)).all()
    assert {"email_queued", "email_sent"} <= set(kinds)
    time.sleep(0.5)
    assert len(smtp.messages) == 1


def test_same_send_task_delivered_five_times_sends_one_email(outbox_peers, db_session):
    worker, smtp = outbox_peers
    row = _reset_email(db_session)
    db_session.commit()  # the first delivery, enqueued after commit
    celery = worker.app.extensions["celery"]
    for _ in range(4):
        celery.send_task("tasks.send_email", args=[row.id], queue=worker.settings["OUTBOX_QUEUE"])
    smtp.wait_for(1)
    _wait_status(row.id, EmailStatus.SENT)
    # Let the duplicates run: each finds the row claimed and sends nothing.
    marker = _reset_email(db_session, to="marker@example.com", key="marker")
    db_session.commit()
    wait_until(lambda: smtp.to("marker@example.com"))
    assert len(smtp.to("runner@example.com")) == 1
    assert db_session.get(OutboxEmail, row.id).attempts == 1
    assert marker is not None


def test_concurrent_deliveries_of_one_task_send_once(outbox_peers, app, db_session, monkeypatch):
    """Five deliveries of the same task running at the same moment in five threads (each with its
    own database connection): the conditional UPDATE lets exactly one send."""
    worker, smtp = outbox_peers
    row = _reset_email(db_session, due_at=utcnow() + timedelta(seconds=1))
    db_session.commit()  # due in a second: the worker does not get it first
    row_id = row.id
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp.port)
    task = app.extensions["celery"].tasks["tasks.send_email"]
    wait_until(lambda: utcnow() >= row.due_at)
    barrier = threading.Barrier(5)
    results: list[str] = []

    def deliver():
        barrier.wait()
        results.append(task.apply(args=[row_id]).get())

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["sent"] + ["skipped"] * 4
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.3)
    assert len(smtp.messages) == 1


def test_email_arrives_once_after_smtp_comes_back(outbox_peers, db_session):
    worker, smtp = outbox_peers
    smtp.stop()  # connection refused until it comes back
    row = _reset_email(db_session)
    db_session.commit()

    def failed_twice():
        db_session.rollback()
        current = db_session.get(OutboxEmail, row.id)
        db_session.refresh(current)
        return current.attempts >= 2 and current.status == EmailStatus.QUEUED

    wait_until(failed_twice, timeout=20)
    assert "Connection refused" in db_session.get(OutboxEmail, row.id).last_error
    smtp.start()
    smtp.wait_for(1, timeout=30)
    sent = _wait_status(row.id, EmailStatus.SENT)
    assert sent.attempts >= 3 and sent.last_error == ""
    time.sleep(1)
    assert len(smtp.messages) == 1


def test_rolled_back_transaction_sends_nothing(outbox_peers, db_session):
    worker, smtp = outbox_peers
    _reset_email(db_session, to="ghost@example.com", key="ghost")
    db_session.rollback()
    _reset_email(db_session, to="real@example.com", key="real")
    db_session.commit()
    smtp.wait_for(1)
    time.sleep(0.5)
    assert [m["To"] for m in smtp.messages] == ["real@example.com"]
    keys = db_session.scalars(select(OutboxEmail.idempotency_key)).all()
    assert keys == ["real"]


def test_killed_worker_loses_and_duplicates_nothing(outbox_peers, db_session):
    """SIGKILL while an email is mid-send (the SMTP server has not accepted it yet) and others
    wait: after a restart, the dispatcher and the sweeper get every due email out exactly once."""
    worker, smtp = outbox_peers
    smtp.delay = 3.0
    queued = [_reset_email(db_session, to=f"r{i}@example.com", key=f"k{i}") for i in range(4)]
    past_due = _reset_email(
        db_session, to="due@example.com", key="due", due_at=utcnow() + timedelta(seconds=1)
    )
    db_session.commit()
    wait_until(lambda: smtp.sessions_started >= 1)  # the first send is inside DATA
    worker.kill()
    assert _status(queued[0].id) == EmailStatus.SENDING
    assert smtp.messages == []

    smtp.delay = 0.0
    worker.start()
    time.sleep(float(worker.settings["OUTBOX_STALE_SECONDS"]) + 0.5)  # the claim goes stale
    worker.run_task("tasks.dispatch_due")
    worker.run_task("tasks.sweep_stuck")
    expected = {f"r{i}@example.com" for i in range(4)} | {"due@example.com"}
    wait_until(lambda: {m["To"] for m in smtp.messages} == expected, timeout=30)
    # Another sweep after everything is sent finds nothing to do.
    worker.run_task("tasks.sweep_stuck")
    worker.run_task("tasks.dispatch_due")
    marker = _reset_email(db_session, to="marker@example.com", key="marker")
    db_session.commit()
    wait_until(lambda: smtp.to("marker@example.com"))
    assert sorted(m["To"] for m in smtp.messages) == sorted(expected | {"marker@example.com"})
    for row in [*queued, past_due, marker]:
        assert _status(row.id) == EmailStatus.SENT


def _marketing(session, lead, key):
    return queue_email(
        session,
        to=lead.email,
        template="password_reset",  # any template; the category is what matters here
        context={"first_name": "Kim", "token": key},
        idempotency_key=key,
        lead_id=lead.id,
        category="marketing",
    )


def test_one_click_unsubscribe_stops_marketing_but_not_transactional(
    outbox_peers, app, client, db_session, make_lead, monkeypatch
):
    worker, smtp = outbox_peers
    lead = make_lead(email="kim@example.com", marketing_consent=True)
    _marketing(db_session, lead, "news:1")
    db_session.commit()
    [news] = smtp.wait_for(1)
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = news["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://localhost/unsubscribe/")

    # The mail client's one-click POST: no session, no CSRF token (CSRF is on for this request).
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(
        url.removeprefix("http://localhost"), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert client.post("/unsubscribe/forged-token").status_code == 404

    later = _marketing(db_session, lead, "news:2")
    reset = _reset_email(db_session, to=lead.email, key="reset:kim", lead_id=lead.id)
    db_session.commit()
    assert later.status == EmailStatus.SUPPRESSED
    wait_until(lambda: smtp.to("kim@example.com")[1:])
    time.sleep(0.5)
    assert [m["Subject"] for m in smtp.to("kim@example.com")] == [news["Subject"]] * 2
    assert smtp.to("kim@example.com")[1]["List-Unsubscribe"] is None
    assert _status(reset.id) == EmailStatus.SENT


def test_suppression_is_checked_again_at_send_time(outbox_peers, db_session):
    worker, smtp = outbox_peers
    row = _reset_email(db_session, to="bouncy@example.com", due_at=utcnow() + timedelta(seconds=1))
    db_session.commit()
    assert row.status == EmailStatus.QUEUED
    # The address bounces after the email was queued but before it is due.
    db_session.add(Suppression(email="bouncy@example.com", reason=SuppressionReason.BOUNCED))
    db_session.commit()
    wait_until(lambda: utcnow() >= row.due_at)
    worker.run_task("tasks.dispatch_due")
    row = _wait_status(row.id, EmailStatus.SUPPRESSED)
    assert "bounced" in row.last_error
    assert smtp.messages == []


def test_permanently_rejected_address_fails_at_once_and_is_suppressed(outbox_peers, db_session):
    worker, smtp = outbox_peers
    row = _reset_email(db_session, to="bounce-me@example.com")
    db_session.commit()
    row = _wait_status(row.id, EmailStatus.FAILED)
    assert row.attempts == 1 and "550" in row.last_error
    suppression = db_session.scalar(
        select(Suppression).where(Suppression.email == "bounce-me@example.com")
    )
    assert suppression.reason == SuppressionReason.BOUNCED
    assert smtp.messages == []

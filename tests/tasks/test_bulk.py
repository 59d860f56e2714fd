"""The fan-out path: queue_emails in a few statements, batch send tasks, pooled SMTP connections."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery.signals import after_task_publish
from sqlalchemy import event, select

from crm.leads.models import LeadEvent
from crm.time import utcnow
from extensions import db
from tasks.models import EmailStatus, OutboxEmail, Suppression, SuppressionReason
from tasks.outbox import SEND_BATCH, queue_email, queue_emails
from tasks.render import message_id_for
from tasks.sender import send_emails
from tasks.smtp_pool import pool
from tests.peers import wait_until


@pytest.fixture
def published():
    """(task name, args) of every send task this process publishes."""
    seen: list[tuple[str, list]] = []

    def record(sender=None, body=None, **_):
        if sender in ("tasks.send_email", "tasks.send_emails"):
            seen.append((sender, body[0][0]))

    after_task_publish.connect(record, weak=False)
    yield seen
    after_task_publish.disconnect(record)


@pytest.fixture
def statements(db_session):
    """Count the SQL statements the session's engine runs inside the block."""

    class Counter:
        n = 0

        def __enter__(self):
            self.n = 0
            event.listen(db.engine, "before_cursor_execute", self._count)
            return self

        def __exit__(self, *exc):
            event.remove(db.engine, "before_cursor_execute", self._count)

        def _count(self, *args, **kwargs):
            self.n += 1

    return Counter()


def _items(n: int, start: int = 0, **kw) -> list[dict]:
    return [
        {
            "to": f"r{i}@example.com",
            "template": "password_reset",
            "context": {"first_name": f"R{i}", "token": f"t{i}"},
            "idempotency_key": f"bulk:{i}",
            **kw,
        }
        for i in range(start, start + n)
    ]


def test_bulk_queue_costs_a_fixed_handful_of_statements_however_many_emails(db_session, statements):
    with statements:
        ids = queue_emails(db_session, _items(120))
    # keys, overrides, suppressions, the caller's flush (nothing) and one INSERT … RETURNING
    assert len(ids) == 120 and statements.n <= 5
    db_session.commit()
    rows = db_session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
    assert [r.id for r in rows] == ids
    first = rows[0]
    assert first.to_email == "r0@example.com" and "http://localhost/reset/t0" in first.text
    assert 'style="' in first.html and first.status == EmailStatus.QUEUED
    assert first.enqueued_at is not None


def test_bulk_queue_renders_what_queue_email_renders(db_session):
    [bulk_id] = queue_emails(db_session, _items(1))
    single = queue_email(db_session, **{**_items(1)[0], "idempotency_key": "single"})
    bulk = db_session.get(OutboxEmail, bulk_id)
    assert (bulk.subject, bulk.text, bulk.html) == (single.subject, single.text, single.html)


def test_bulk_queue_skips_existing_and_repeated_keys(db_session):
    queue_emails(db_session, _items(3))
    db_session.commit()
    ids = queue_emails(db_session, _items(5) + _items(5))  # 3 exist, 2 new, each twice
    db_session.commit()
    assert len(ids) == 2
    assert len(db_session.scalars(select(OutboxEmail)).all()) == 5


def test_bulk_queue_suppresses_blocked_addresses_and_marketing_without_consent(
    db_session, make_lead
):
    db_session.add(Suppression(email="r1@example.com", reason=SuppressionReason.BOUNCED))
    db_session.add(Suppression(email="r2@example.com", reason=SuppressionReason.UNSUBSCRIBED))
    yes = make_lead(email="yes@example.com", marketing_consent=True)
    no = make_lead(email="no@example.com", marketing_consent=False)
    db_session.commit()
    items = _items(3) + [
        {**_items(1, 10)[0], "to": "yes@example.com", "lead_id": yes.id, "category": "marketing"},
        {**_items(1, 11)[0], "to": "NO@example.com ", "category": "marketing"},  # by address
    ]
    queue_emails(db_session, items)
    db_session.commit()
    got = {r.to_email: (r.status, r.last_error) for r in db_session.scalars(select(OutboxEmail))}
    assert got == {
        "r0@example.com": (EmailStatus.QUEUED, ""),
        "r1@example.com": (EmailStatus.SUPPRESSED, "address suppressed (bounced)"),
        "r2@example.com": (EmailStatus.QUEUED, ""),  # unsubscribed: transactional still goes
        "yes@example.com": (EmailStatus.QUEUED, ""),
        "NO@example.com": (EmailStatus.SUPPRESSED, "no marketing consent"),
    }
    kinds = db_session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == yes.id)).all()
    assert "email_queued" in kinds and no.id is not None


def test_bulk_queue_enqueues_batches_only_after_commit(db_session, published):
    ids = queue_emails(db_session, _items(SEND_BATCH + 3))
    later = queue_emails(db_session, _items(2, 500, due_at=utcnow() + timedelta(hours=1)))
    assert published == []
    db_session.commit()
    assert published == [
        ("tasks.send_emails", ids[:SEND_BATCH]),
        ("tasks.send_emails", ids[SEND_BATCH:]),
    ]
    assert len(later) == 2  # due later: left for the dispatcher


def test_rolled_back_bulk_queue_stores_and_enqueues_nothing(db_session, published):
    queue_emails(db_session, _items(10))
    db_session.rollback()
    db_session.commit()
    assert published == []
    assert db_session.scalars(select(OutboxEmail)).all() == []


def test_batch_task_sends_each_email_once_over_one_connection(
    outbox_peers, app, db_session, monkeypatch
):
    """Run in this process (so the pool can be looked at) against the real SMTP server: twenty
    emails, one connection; the same batch again, and an overlapping one, send nothing more."""
    worker, smtp = outbox_peers
    ids = queue_emails(db_session, _items(20, due_at=utcnow() + timedelta(seconds=1)))
    db_session.commit()  # due in a second: the worker does not get them first
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp.port)
    wait_until(lambda: utcnow() >= db_session.get(OutboxEmail, ids[0]).due_at)
    pool.close_all()
    opened = pool.opened
    assert send_emails.apply(args=[ids]).get() == {"skipped": 0, "sent": 20}
    assert send_emails.apply(args=[ids[5:]]).get() == {"skipped": 15}
    assert pool.opened == opened + 1
    assert sorted(m["To"] for m in smtp.wait_for(20)) == sorted(
        f"r{i}@example.com" for i in range(20)
    )
    db_session.expire_all()
    rows = db_session.scalars(select(OutboxEmail)).all()
    assert {(r.status, r.attempts) for r in rows} == {(EmailStatus.SENT, 1)}
    assert all(r.message_id == message_id_for(r.idempotency_key) for r in rows)
    pool.close_all()


def test_pooled_connection_to_a_restarted_server_is_replaced(
    outbox_peers, app, db_session, monkeypatch
):
    worker, smtp = outbox_peers
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp.port)
    first = queue_emails(db_session, _items(2, due_at=utcnow() + timedelta(seconds=1)))
    db_session.commit()
    wait_until(lambda: utcnow() >= db_session.get(OutboxEmail, first[0]).due_at)
    assert send_emails.apply(args=[first]).get() == {"skipped": 0, "sent": 2}
    smtp.stop()
    smtp.start()  # the pooled connection is dead now
    time.sleep(1.1)  # idle long enough to be checked with NOOP before reuse
    second = queue_emails(db_session, _items(2, 10, due_at=utcnow()))
    db_session.commit()
    assert send_emails.apply(args=[second]).get() == {"skipped": 0, "sent": 2}
    assert [m["To"] for m in smtp.wait_for(4)][2:] == ["r10@example.com", "r11@example.com"]
    pool.close_all()


def test_fan_out_through_the_worker_arrives_once_each(outbox_peers, db_session):
    worker, smtp = outbox_peers
    queue_emails(db_session, _items(SEND_BATCH + 5))
    db_session.commit()
    smtp.wait_for(SEND_BATCH + 5, timeout=30)
    worker.run_task("tasks.sweep_stuck")  # nothing is stuck: sends nothing more
    marker = queue_email(db_session, **{**_items(1, 900)[0], "to": "marker@example.com"})
    db_session.commit()
    wait_until(lambda: smtp.to("marker@example.com"))
    assert len(smtp.messages) == SEND_BATCH + 6
    assert len({m["To"] for m in smtp.messages}) == SEND_BATCH + 6
    assert marker is not None


def test_message_is_multipart_alternative_with_encoded_non_ascii(app_ctx, monkeypatch):
    from email import message_from_bytes, policy

    from tasks.models import Category
    from tasks.sender import Claimed, build_message

    monkeypatch.setitem(app_ctx.config, "MAIL_FROM", "Coach Inès <coach@example.com>")
    row = Claimed(
        7, "ines@example.com", "weekly_checkin", "Comment ça va, Inès ?", "<p>Bonjour Inès</p>\n",
        "Bonjour Inès — " + "x" * 1200 + "\n", None, Category.MARKETING, 1, "", {"X-Tag": "é"},
        [{"filename": "a.ics", "content_type": "text/calendar; method=REQUEST",
          "data": "QkVHSU46VkNBTEVOREFS"}], "", "checkin:ines:2030-W10",
    )  # fmt: skip
    raw = build_message(row).as_bytes()
    assert raw.isascii() and max(len(line) for line in raw.splitlines()) <= 998
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "Comment ça va, Inès ?" and msg["X-Tag"] == "é"
    assert msg["From"].addresses[0].display_name == "Coach Inès"
    assert msg["Message-ID"] == message_id_for("checkin:ines:2030-W10")
    assert msg["To"] == "ines@example.com"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_body(("plain",)).get_content().startswith("Bonjour Inès — xxx")
    assert msg.get_body(("html",)).get_content() == "<p>Bonjour Inès</p>\n"
    [ics] = list(msg.iter_attachments())
    assert ics.get_filename() == "a.ics" and ics.get_param("method") == "REQUEST"
    assert ics.get_payload(decode=True) == b"BEGIN:VCALENDAR"


def test_worker_shutdown_closes_pooled_connections(outbox_peers, app, db_session, monkeypatch):
    from celery.signals import worker_process_shutdown

    worker, smtp = outbox_peers
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp.port)
    ids = queue_emails(db_session, _items(2, due_at=utcnow() + timedelta(seconds=1)))
    db_session.commit()
    wait_until(lambda: utcnow() >= db_session.get(OutboxEmail, ids[0]).due_at)
    assert send_emails.apply(args=[ids]).get() == {"skipped": 0, "sent": 2}
    [(idle, _)] = [c for conns in pool._idle.values() for c in conns]
    worker_process_shutdown.send(sender=None, pid=0, exitcode=0)
    assert pool._idle == {} and idle.sock is None  # QUIT sent, socket closed

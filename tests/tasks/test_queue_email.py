"""queue_email: rendering, idempotency, consent, and enqueueing only after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.signals import after_task_publish
from sqlalchemy import select

from crm.leads.models import LeadEvent
from crm.time import utcnow
from tasks.models import EmailStatus, OutboxEmail, Suppression, SuppressionReason
from tasks.outbox import queue_email
from tasks.render import read_unsubscribe_token


@pytest.fixture
def published():
    """Send tasks actually published to the broker by this process (a Celery signal)."""
    seen: list[int] = []

    def record(sender=None, headers=None, body=None, **_):
        if sender == "tasks.send_email":
            seen.append(body[0][0])

    after_task_publish.connect(record, weak=False)
    yield seen
    after_task_publish.disconnect(record)


def _reset(session, **kw):
    defaults = dict(
        to="runner@example.com",
        template="password_reset",
        context={"first_name": "Dana", "token": "tok123"},
        idempotency_key="reset:1",
    )
    return queue_email(session, **{**defaults, **kw})


def test_password_reset_is_rendered_with_link_and_inlined_css(db_session):
    row = _reset(db_session)
    db_session.commit()
    assert row.subject == "Reset your 0 to 5K Hero password"
    assert "http://localhost/reset/tok123" in row.text
    assert "Hi Dana," in row.text
    assert 'href="http://localhost/reset/tok123"' in row.html
    assert "<style" not in row.html and 'style="' in row.html  # CSS inlined for mail clients
    assert "Las Vegas" in row.text  # BUSINESS_ADDRESS footer
    assert row.status == EmailStatus.QUEUED


def test_the_footer_names_the_business_once(db_session, app):
    for n, address in enumerate(("0 to 5K Hero · 1 Main St · Reno", "1 Main St · Reno")):
        app.config["BUSINESS_ADDRESS"] = address
        row = _reset(db_session, idempotency_key=f"footer:{n}")
        assert "0 to 5K Hero · 1 Main St · Reno" in row.text
        assert "0 to 5K Hero · 0 to 5K Hero" not in row.text


def test_booking_confirmation_renders_time_zone_and_manage_link(db_session):
    row = queue_email(
        db_session,
        to="a@example.com",
        template="booking_confirmation",
        context={
            "first_name": "Ana",
            "start_local": "Tuesday 12 May, 9:00 AM",
            "timezone": "Europe/Paris",
            "manage_url": "http://localhost/booking/manage/xyz",
            "call_minutes": 20,
        },
        idempotency_key="booking:1:confirmation",
    )
    assert "Tuesday 12 May, 9:00 AM" in row.subject
    assert "Europe/Paris" in row.text and "http://localhost/booking/manage/xyz" in row.html


def test_duplicate_key_is_a_no_op_and_keeps_the_callers_transaction(db_session, make_lead):
    lead = make_lead(name="Kim Runner")
    assert _reset(db_session) is not None
    db_session.commit()
    lead.phone = "555-0100"  # the caller's own pending change must survive the duplicate
    assert _reset(db_session) is None
    db_session.commit()
    assert db_session.scalar(select(OutboxEmail).where(OutboxEmail.idempotency_key == "reset:1"))
    db_session.refresh(lead)
    assert lead.phone == "555-0100"
    assert len(db_session.scalars(select(OutboxEmail)).all()) == 1


def test_duplicate_within_one_uncommitted_transaction_is_a_no_op(db_session):
    assert _reset(db_session) is not None
    assert _reset(db_session) is None
    db_session.commit()
    assert len(db_session.scalars(select(OutboxEmail)).all()) == 1


def test_send_task_is_published_only_after_commit(db_session, published):
    row = _reset(db_session)
    assert published == []
    db_session.commit()
    assert published == [row.id]


def test_rolled_back_email_is_never_enqueued_nor_stored(db_session, published):
    _reset(db_session)
    db_session.rollback()
    db_session.commit()
    assert published == []
    assert db_session.scalars(select(OutboxEmail)).all() == []


def test_email_in_a_rolled_back_savepoint_is_not_enqueued(db_session, published):
    kept = _reset(db_session, idempotency_key="kept")
    nested = db_session.begin_nested()
    _reset(db_session, idempotency_key="dropped")
    nested.rollback()
    db_session.commit()
    assert published == [kept.id]
    keys = db_session.scalars(select(OutboxEmail.idempotency_key)).all()
    assert keys == ["kept"]


def test_future_email_waits_for_the_dispatcher(db_session, published):
    row = _reset(db_session, due_at=utcnow() + timedelta(hours=1))
    db_session.commit()
    assert published == []
    assert row.enqueued_at is None and row.status == EmailStatus.QUEUED


def test_marketing_without_consent_is_suppressed(db_session, make_lead, published):
    lead = make_lead(marketing_consent=False)
    row = _reset(db_session, to=lead.email, lead_id=lead.id, category="marketing")
    db_session.commit()
    assert row.status == EmailStatus.SUPPRESSED
    assert row.last_error == "no marketing consent"
    assert published == []


def test_marketing_with_consent_carries_an_unsubscribe_link(db_session, make_lead):
    lead = make_lead(marketing_consent=True)
    row = _reset(db_session, to=lead.email, lead_id=lead.id, category="marketing")
    assert row.status == EmailStatus.QUEUED
    link = next(line for line in row.text.splitlines() if line.startswith("Unsubscribe: "))
    token = link.rsplit("/", 1)[1]
    assert read_unsubscribe_token(token) == lead.email
    assert "Unsubscribe</a>" in row.html


def test_bounced_address_gets_no_transactional_email(db_session):
    db_session.add(Suppression(email="runner@example.com", reason=SuppressionReason.BOUNCED))
    db_session.commit()
    assert _reset(db_session).status == EmailStatus.SUPPRESSED


def test_unsubscribed_address_still_gets_transactional_email(db_session):
    db_session.add(Suppression(email="runner@example.com", reason=SuppressionReason.UNSUBSCRIBED))
    db_session.commit()
    assert _reset(db_session).status == EmailStatus.QUEUED


def test_email_of_a_lead_lands_on_its_timeline(db_session, make_lead):
    lead = make_lead()
    row = _reset(db_session, to=lead.email, lead_id=lead.id)
    db_session.commit()
    event = db_session.scalar(select(LeadEvent).where(LeadEvent.kind == "email_queued"))
    assert event.lead_id == lead.id and event.data["outbox_id"] == row.id
    assert "Reset your" in event.summary

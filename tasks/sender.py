"""The Celery side of the outbox: the send task, the due-email dispatcher, the sweeper, pruning.

Every task takes ids and is safe to run any number of times: `send_email` claims its row with a
conditional UPDATE (queued → sending, or a `sending` claim gone stale), so duplicates of the task
(redeliveries, the sweeper, a coach's retry) send one email.
"""

from __future__ import annotations

import base64
import logging
import random
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import sqlalchemy as sa
from celery import shared_task
from flask import current_app
from sqlalchemy import and_, or_, select, update

from crm.time import utcnow
from extensions import db
from tasks.conditions import condition_holds
from tasks.models import Delivery, EmailStatus, OutboxEmail, SuppressionReason
from tasks.outbox import (
    SEND_TASK,
    _timeline,
    enqueue_send,
    may_send,
    message_id_for,
    suppress_address,
    unsubscribe_url,
)

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600


@shared_task(bind=True, acks_late=True, name=SEND_TASK, max_retries=None, ignore_result=True)
def send_email(self, email_id: int) -> str:
    """Send outbox row `email_id` once. Returns what happened (for logs and tests)."""
    if not claim(email_id):
        return "skipped"
    row = db.session.get(OutboxEmail, email_id)
    cfg = current_app.config

    blocked = may_send(db.session, row.to_email, row.category, row.lead_id)
    if blocked:
        return _finish(row, EmailStatus.SUPPRESSED, "email_suppressed", error=blocked)
    if row.condition and not condition_holds(db.session, row.condition):
        return _finish(row, EmailStatus.CANCELLED, "email_cancelled", error="no longer applies")
    if row.is_marketing and row.lead_id and _automation_paused(row.lead_id):
        return _finish(row, EmailStatus.CANCELLED, "email_cancelled", error="automation paused")

    row.message_id = row.message_id or message_id_for(row.id)
    if not cfg["SMTP_HOST"]:
        # SMTP off (development): the email is "sent" to the outbox, where the coach reads it.
        row.delivery = Delivery.LOGGED
        return _finish(row, EmailStatus.SENT, "email_logged")

    try:
        _deliver(build_message(row))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            suppress_address(db.session, row.to_email, SuppressionReason.BOUNCED)
            row = db.session.get(OutboxEmail, email_id)
            return _finish(row, EmailStatus.FAILED, "email_failed", error=_describe(exc))
        return _retry_later(self, row, exc)
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:  # permanent: retrying will not help
            return _finish(row, EmailStatus.FAILED, "email_failed", error=_describe(exc))
        return _retry_later(self, row, exc)
    except (smtplib.SMTPException, OSError) as exc:
        return _retry_later(self, row, exc)
    row.delivery = Delivery.SMTP
    return _finish(row, EmailStatus.SENT, "email_sent")


def claim(email_id: int) -> bool:
    """Atomically take the row for sending: only one of any number of concurrent callers wins."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    result = db.session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.id == email_id,
            or_(
                and_(OutboxEmail.status == EmailStatus.QUEUED, OutboxEmail.due_at <= now),
                and_(OutboxEmail.status == EmailStatus.SENDING, OutboxEmail.claimed_at <= stale),
            ),
        )
        .values(status=EmailStatus.SENDING, claimed_at=now, attempts=OutboxEmail.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _finish(row: OutboxEmail, status: EmailStatus, event: str, error: str = "") -> str:
    row.status = status
    row.last_error = error
    if status == EmailStatus.SENT:
        row.sent_at = utcnow()
    if row.lead_id:
        _timeline(db.session, row, event)
    db.session.commit()
    return str(status)


def _automation_paused(lead_id: int) -> bool:
    from crm.leads.models import Lead

    lead = db.session.get(Lead, lead_id)
    return bool(lead and lead.automation_paused)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, then scaled by 50–100 %."""
    base = current_app.config["OUTBOX_RETRY_BASE_SECONDS"]
    delay = min(base * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS)
    return delay * random.uniform(0.5, 1.0)


def _retry_later(task, row: OutboxEmail, exc: Exception) -> str:
    if row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        return _finish(row, EmailStatus.FAILED, "email_failed", error=_describe(exc))
    delay = backoff_seconds(row.attempts)
    now = utcnow()
    # Durable first: the row says when to try again, so a lost retry message is swept up.
    row.status = EmailStatus.QUEUED
    row.due_at = now + timedelta(seconds=delay)
    row.enqueued_at = now
    row.last_error = _describe(exc)
    db.session.commit()
    log.warning("outbox email %s: %s; retry in %.1fs", row.id, row.last_error, delay)
    if task.request.called_directly:
        return "retry"
    raise task.retry(countdown=delay, max_retries=None)


def build_message(row: OutboxEmail) -> EmailMessage:
    """The MIME message for a row: text + HTML alternatives, attachments, Message-ID, and the
    RFC 8058 one-click unsubscribe headers on marketing email."""
    cfg = current_app.config
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = cfg["MAIL_FROM"]
    msg["To"] = row.to_email
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = row.message_id or message_id_for(row.id)
    msg["X-Hero-Outbox-Id"] = str(row.id)
    for name, value in (row.headers or {}).items():
        msg[name] = value
    if row.is_marketing:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url(row.to_email)}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(row.text)
    msg.add_alternative(row.html, subtype="html")
    for item in row.attachments or []:
        mime, *params = [p.strip() for p in item["content_type"].split(";")]
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(
            base64.b64decode(item["data"]),
            maintype=maintype,
            subtype=subtype,
            filename=item["filename"],
            params=dict(p.split("=", 1) for p in params if "=" in p),
        )
    return msg


def _deliver(msg: EmailMessage) -> None:
    cfg = current_app.config
    smtp_class = smtplib.SMTP_SSL if cfg["SMTP_PORT"] == 465 else smtplib.SMTP
    with smtp_class(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"]) as smtp:
        if cfg["SMTP_STARTTLS"] and smtp_class is smtplib.SMTP:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["SMTP_USERNAME"]:
            smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"])
        smtp.send_message(msg, from_addr=parseaddr(cfg["MAIL_FROM"])[1], to_addrs=[msg["To"]])


# --- beat tasks --------------------------------------------------------------------------------


def _enqueue(ids: list[int]) -> int:
    if not ids:
        return 0
    # Marked before the broker sees them: a crash in between leaves a stale mark for the sweeper.
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(ids))
        .values(enqueued_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return sum(enqueue_send(i) for i in ids)


@shared_task(name="tasks.dispatch_due", ignore_result=True)
def dispatch_due(limit: int = 5000) -> int:
    """Enqueue the time-based emails (reminders, sequences, check-ins) whose time has come."""
    ids = db.session.scalars(
        select(OutboxEmail.id)
        .where(
            OutboxEmail.status == EmailStatus.QUEUED,
            OutboxEmail.due_at <= utcnow(),
            OutboxEmail.enqueued_at.is_(None),
        )
        .order_by(OutboxEmail.due_at)
        .limit(limit)
    ).all()
    return _enqueue(list(ids))


@shared_task(name="tasks.sweep_stuck", ignore_result=True)
def sweep_stuck(limit: int = 5000) -> int:
    """Re-enqueue rows whose task was lost: queued and enqueued long ago, or a stale `sending`
    claim (a worker killed mid-send). The claim makes a duplicate harmless."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    ids = db.session.scalars(
        select(OutboxEmail.id)
        .where(
            or_(
                and_(
                    OutboxEmail.status == EmailStatus.QUEUED,
                    OutboxEmail.due_at <= now,
                    OutboxEmail.enqueued_at <= stale,
                ),
                and_(
                    OutboxEmail.status == EmailStatus.SENDING,
                    OutboxEmail.claimed_at <= stale,
                ),
            )
        )
        .order_by(OutboxEmail.id)
        .limit(limit)
    ).all()
    if ids:
        log.warning("sweeper re-enqueues %d outbox emails", len(ids))
    return _enqueue(list(ids))


@shared_task(name="tasks.prune_broker", ignore_result=True)
def prune_broker() -> int:
    """Delete consumed messages of the embedded SQLAlchemy broker (kombu never does)."""
    url = current_app.config["CELERY"].get("broker_url") or ""
    if not url.startswith("sqla+"):
        return 0
    engine = sa.create_engine(url[len("sqla+") :])
    try:
        with engine.begin() as conn:
            if not sa.inspect(conn).has_table("kombu_message"):
                return 0
            return conn.execute(
                sa.text("DELETE FROM kombu_message WHERE visible = :f"), {"f": False}
            ).rowcount
    finally:
        engine.dispose()

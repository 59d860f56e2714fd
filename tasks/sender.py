"""The Celery side of the outbox: the send tasks, the due-email dispatcher, the sweeper, pruning.

Every task takes ids and is safe to run any number of times: a send claims its rows with a
conditional UPDATE (queued → sending, or a `sending` claim gone stale), so duplicates of a task
(redeliveries, the sweeper, a coach's retry, an id in two batches) send one email.

Per email the send costs: its share of the claim (`UPDATE … RETURNING` the row, for one row or a
batch), its share of one suppression lookup, the condition check when the row has one, the SMTP
transaction on a pooled connection (tasks.smtp_pool), and one UPDATE + COMMIT marking it done,
committed right after the server's 250 so a worker killed mid-batch resends nothing already sent.
"""

from __future__ import annotations

import base64
import logging
import random
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

import sqlalchemy as sa
from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from flask import current_app
from sqlalchemy import and_, or_, select, update

from crm.time import utcnow
from extensions import db
from tasks.conditions import conditions_hold
from tasks.models import Category, Delivery, EmailStatus, OutboxEmail, SuppressionReason
from tasks.outbox import (
    SEND_BATCH_TASK,
    SEND_TASK,
    _timeline_event,
    blocked_reasons,
    enqueue_send,
    enqueue_sends,
    message_id_for,
    suppress_address,
    unsubscribe_url,
)
from tasks.smtp_pool import SmtpServer, pool

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600

# What a send reads of its row: returned by the claim itself, so no SELECT follows it.
_CLAIMED_COLUMNS = (
    OutboxEmail.id,
    OutboxEmail.to_email,
    OutboxEmail.template,
    OutboxEmail.subject,
    OutboxEmail.html,
    OutboxEmail.text,
    OutboxEmail.lead_id,
    OutboxEmail.category,
    OutboxEmail.attempts,
    OutboxEmail.message_id,
    OutboxEmail.headers,
    OutboxEmail.attachments,
    OutboxEmail.condition,
)


@dataclass
class Claimed:
    """A row this worker has claimed (status `sending`), as the claim returned it."""

    id: int
    to_email: str
    template: str
    subject: str
    html: str
    text: str
    lead_id: int | None
    category: Category
    attempts: int
    message_id: str
    headers: dict
    attachments: list
    condition: str

    @property
    def is_marketing(self) -> bool:
        return self.category == Category.MARKETING


class _Retry(Exception):
    """A send to try again later (the row is already queued again with its due time)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay


@shared_task(bind=True, acks_late=True, name=SEND_TASK, max_retries=None, ignore_result=True)
def send_email(self, email_id: int) -> str:
    """Send outbox row `email_id` once. Returns what happened (for logs and tests)."""
    rows = claim_many([email_id], commit=False)
    if not rows:
        db.session.commit()
        return "skipped"
    [(status, retry)] = _send_claimed(rows).values()
    if retry is not None:
        if self.request.called_directly:
            return "retry"
        raise self.retry(countdown=retry, max_retries=None)
    return status


@shared_task(acks_late=True, name=SEND_BATCH_TASK, ignore_result=True)
def send_emails(email_ids: list[int]) -> dict[str, int]:
    """Send many outbox rows (a fan-out's batch) once each: one claim, one suppression lookup,
    one SMTP connection. A row to retry gets its own `send_email` task after its backoff.
    Returns {status: count}."""
    rows = claim_many(email_ids, commit=False)
    counts: dict[str, int] = {"skipped": len(set(email_ids)) - len(rows)}
    for row_id, (status, retry) in _send_claimed(rows).items():
        if retry is not None:
            enqueue_send(row_id, countdown=retry)
        counts[status] = counts.get(status, 0) + 1
    return counts


def claim(email_id: int) -> bool:
    """Atomically take the row for sending: only one of any number of concurrent callers wins."""
    return bool(claim_many([email_id]))


def claim_many(email_ids: list[int], *, commit: bool = True) -> list[Claimed]:
    """Atomically take the sendable rows among `email_ids` (queued and due, or a stale
    `sending` claim) and return them; a row another caller holds is not returned. Commits
    (the send tasks commit it themselves, with their checks, before any email goes out)."""
    if not email_ids:
        return []
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    stmt = (
        update(OutboxEmail)
        .where(
            OutboxEmail.id.in_(set(email_ids)),
            or_(
                and_(OutboxEmail.status == EmailStatus.QUEUED, OutboxEmail.due_at <= now),
                and_(OutboxEmail.status == EmailStatus.SENDING, OutboxEmail.claimed_at <= stale),
            ),
        )
        .values(status=EmailStatus.SENDING, claimed_at=now, attempts=OutboxEmail.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session = db.session
    if session.get_bind().dialect.update_returning:
        # One statement: a conditional UPDATE … RETURNING is both the claim and the read.
        rows = session.execute(stmt.returning(*_CLAIMED_COLUMNS)).all()
        claimed = [Claimed(*r) for r in rows]
    else:
        # Without RETURNING: claim one row at a time (rowcount says who won), then read them.
        won = [i for i in dict.fromkeys(email_ids)
               if session.execute(stmt.where(OutboxEmail.id == i)).rowcount == 1]  # fmt: skip
        rows = session.execute(select(*_CLAIMED_COLUMNS).where(OutboxEmail.id.in_(won))).all()
        claimed = [Claimed(*r) for r in rows]
    if commit:
        session.commit()
    return sorted(claimed, key=lambda r: r.id)


def _send_claimed(rows: list[Claimed]) -> dict[int, tuple[str, float | None]]:
    """Check, send and finish claimed rows; {id: (status, retry delay or None)}. Commits the
    claim's transaction (with the checks' reads) before any SMTP traffic."""
    session = db.session
    if not rows:
        session.commit()
        return {}
    cfg = current_app.config
    blocked = blocked_reasons(session, [(r.to_email, r.category, r.lead_id) for r in rows])
    holds = conditions_hold(session, {r.condition for r in rows if r.condition})
    paused = _paused_leads(session, {r.lead_id for r in rows if r.is_marketing and r.lead_id})
    session.commit()
    out: dict[int, tuple[str, float | None]] = {}
    server = _server() if cfg["SMTP_HOST"] else None
    for row, reason in zip(rows, blocked, strict=True):
        if reason:
            out[row.id] = (_finish(row, EmailStatus.SUPPRESSED, "email_suppressed", reason), None)
        elif row.condition and not holds.get(row.condition):
            out[row.id] = (_finish(row, EmailStatus.CANCELLED, "email_cancelled",
                                   "no longer applies"), None)  # fmt: skip
        elif row.is_marketing and row.lead_id in paused:
            out[row.id] = (_finish(row, EmailStatus.CANCELLED, "email_cancelled",
                                   "automation paused"), None)  # fmt: skip
        elif server is None:
            # SMTP off (development): the email is "sent" to the outbox, where the coach reads it.
            out[row.id] = (_finish(row, EmailStatus.SENT, "email_logged",
                                   delivery=Delivery.LOGGED), None)  # fmt: skip
        else:
            out[row.id] = _send_one(row, server)
    return out


def _send_one(row: Claimed, server: SmtpServer) -> tuple[str, float | None]:
    row.message_id = row.message_id or message_id_for(row.id)
    try:
        _deliver(build_message(row), server)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            suppress_address(db.session, row.to_email, SuppressionReason.BOUNCED)
            return _finish(row, EmailStatus.FAILED, "email_failed", _describe(exc)), None
        return _retry_later(row, exc)
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:  # permanent: retrying will not help
            return _finish(row, EmailStatus.FAILED, "email_failed", _describe(exc)), None
        return _retry_later(row, exc)
    except (smtplib.SMTPException, OSError) as exc:
        return _retry_later(row, exc)
    return _finish(row, EmailStatus.SENT, "email_sent", delivery=Delivery.SMTP), None


def _finish(
    row: Claimed,
    status: EmailStatus,
    event: str,
    error: str = "",
    *,
    delivery: Delivery | None = None,
) -> str:
    values: dict[str, Any] = {"status": status, "last_error": error}
    if status == EmailStatus.SENT:
        values.update(sent_at=utcnow(), delivery=delivery,
                      message_id=row.message_id or message_id_for(row.id))  # fmt: skip
    _update_row(row.id, values)
    if row.lead_id:
        from crm.leads.models import Lead

        lead = db.session.get(Lead, row.lead_id)
        _timeline_event(db.session, lead, event, row.subject, row.id, row.template)
    db.session.commit()
    return str(status)


def _update_row(row_id: int, values: dict[str, Any]) -> None:
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == row_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def _paused_leads(session, lead_ids: set[int]) -> set[int]:
    from crm.leads.models import Lead

    if not lead_ids:
        return set()
    return set(
        session.scalars(
            select(Lead.id).where(Lead.id.in_(lead_ids), Lead.automation_paused.is_(True))
        )
    )


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, then scaled by 50–100 %."""
    base = current_app.config["OUTBOX_RETRY_BASE_SECONDS"]
    delay = min(base * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS)
    return delay * random.uniform(0.5, 1.0)


def _retry_later(row: Claimed, exc: Exception) -> tuple[str, float | None]:
    if row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        return _finish(row, EmailStatus.FAILED, "email_failed", _describe(exc)), None
    delay = backoff_seconds(row.attempts)
    now: datetime = utcnow()
    error = _describe(exc)
    # Durable first: the row says when to try again, so a lost retry message is swept up.
    _update_row(row.id, {"status": EmailStatus.QUEUED, "due_at": now + timedelta(seconds=delay),
                         "enqueued_at": now, "last_error": error})  # fmt: skip
    db.session.commit()
    log.warning("outbox email %s: %s; retry in %.1fs", row.id, error, delay)
    return "retry", delay


def build_message(row: OutboxEmail | Claimed) -> EmailMessage:
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


def _server() -> SmtpServer:
    cfg = current_app.config
    return SmtpServer(
        host=cfg["SMTP_HOST"],
        port=int(cfg["SMTP_PORT"]),
        username=cfg["SMTP_USERNAME"] or "",
        password=cfg["SMTP_PASSWORD"] or "",
        starttls=bool(cfg["SMTP_STARTTLS"]),
        timeout=float(cfg["SMTP_TIMEOUT"]),
    )


def _deliver(msg: EmailMessage, server: SmtpServer | None = None) -> None:
    """One SMTP transaction on a pooled connection (see tasks.smtp_pool)."""
    with pool.connection(server or _server()) as smtp:
        smtp.send_message(
            msg, from_addr=parseaddr(current_app.config["MAIL_FROM"])[1], to_addrs=[msg["To"]]
        )


@worker_process_shutdown.connect
@worker_shutdown.connect
def _close_smtp_connections(**_: Any) -> None:
    pool.close_all()


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
    return enqueue_sends(ids)


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

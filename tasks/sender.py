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
from email import encoders
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

import sqlalchemy as sa
from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from flask import current_app
from sqlalchemy import Connection, and_, or_, select, update

from crm.time import utcnow
from extensions import db
from tasks.consent import blocked_reasons, suppress_address
from tasks.models import Category, Delivery, EmailStatus, OutboxEmail, SuppressionReason
from tasks.outbox import (
    SEND_BATCH_TASK,
    SEND_TASK,
    email_event,
    enqueue_send,
    enqueue_sends,
    record_events,
)
from tasks.overrides import overrides_for
from tasks.registry import conditions_hold, people
from tasks.render import message_id_for, render_deferred, unsubscribe_url
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
    OutboxEmail.idempotency_key,
    OutboxEmail.render,
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
    idempotency_key: str
    render: dict | None = None  # the data of an email the worker renders now (render_later)
    rendered_now: bool = False

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
    paused_ids = {r.lead_id for r in rows if r.is_marketing and r.lead_id}
    paused = people().paused(session, paused_ids) if paused_ids else set()
    unrendered = [
        row for row, reason in zip(rows, blocked, strict=True)
        if row.render is not None and not reason
        and not (row.condition and not holds.get(row.condition))
        and not (row.is_marketing and row.lead_id in paused)
    ]  # fmt: skip
    failed = _render_now(session, unrendered) if unrendered else {}
    session.commit()
    out: dict[int, tuple[str, float | None]] = {}
    server = _server() if cfg["SMTP_HOST"] else None
    # Marks go through one autocommit connection: a row's UPDATE is durable in one round trip
    # (no BEGIN/COMMIT), right after its SMTP 250.
    with db.engine.connect() as marks:
        marks = marks.execution_options(isolation_level="AUTOCOMMIT")
        for row, reason in zip(rows, blocked, strict=True):
            if reason:
                status = _finish(marks, row, EmailStatus.SUPPRESSED, "email_suppressed", reason)
            elif row.id in failed:
                status = _finish(marks, row, EmailStatus.FAILED, "email_failed", failed[row.id])
            elif row.condition and not holds.get(row.condition):
                status = _finish(marks, row, EmailStatus.CANCELLED, "email_cancelled",
                                 "no longer applies")  # fmt: skip
            elif row.is_marketing and row.lead_id in paused:
                status = _finish(marks, row, EmailStatus.CANCELLED, "email_cancelled",
                                 "automation paused")  # fmt: skip
            elif server is None:
                # SMTP off (development): "sent" to the outbox, where the coach reads it.
                status = _finish(marks, row, EmailStatus.SENT, "email_logged",
                                 delivery=Delivery.LOGGED)  # fmt: skip
            else:
                out[row.id] = _send_one(marks, row, server)
                continue
            out[row.id] = (status, None)
    return out


def _render_now(session, rows: list[Claimed]) -> dict[int, str]:
    """Render the emails queued with `render_later` that are about to go (their templates with
    the stored context, the coach's override as it is now, the attachments built from the
    booking as it is now); {id: error} for any that cannot be rendered."""
    own = overrides_for(session, {row.template for row in rows})
    failed: dict[int, str] = {}
    for row in rows:
        try:
            row.subject, row.html, row.text, row.attachments = render_deferred(
                session, row.template, row.to_email, row.category, row.render,
                own.get(row.template),
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - one broken email must not stop the batch
            log.exception("outbox email %s could not be rendered", row.id)
            failed[row.id] = f"could not be rendered: {_describe(exc)}"
            continue
        row.rendered_now = True
    return failed


def _send_one(marks: Connection, row: Claimed, server: SmtpServer) -> tuple[str, float | None]:
    row.message_id = row.message_id or message_id_for(row.idempotency_key)
    try:
        _deliver(build_message(row), server)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(code >= 500 for code in codes):
            suppress_address(db.session, row.to_email, SuppressionReason.BOUNCED)
            return _finish(marks, row, EmailStatus.FAILED, "email_failed", _describe(exc)), None
        return _retry_later(marks, row, exc)
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:  # permanent: retrying will not help
            return _finish(marks, row, EmailStatus.FAILED, "email_failed", _describe(exc)), None
        return _retry_later(marks, row, exc)
    except (smtplib.SMTPException, OSError) as exc:
        return _retry_later(marks, row, exc)
    return _finish(marks, row, EmailStatus.SENT, "email_sent", delivery=Delivery.SMTP), None


def _finish(
    marks: Connection,
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
                      message_id=row.message_id or message_id_for(row.idempotency_key))  # fmt: skip
        if row.rendered_now:  # what went out stays readable in the outbox
            values.update(subject=row.subject, html=row.html, text=row.text,
                          attachments=row.attachments, render=None)  # fmt: skip
    if not row.lead_id:
        marks.execute(*_update_row(row.id, values))
        return str(status)
    # With its timeline event, in one transaction.
    db.session.execute(*_update_row(row.id, values))
    record_events(db.session, [email_event(row, event)])
    db.session.commit()
    return str(status)


def _update_row(row_id: int, values: dict[str, Any]):
    """(statement, parameters) setting `values` on one row. One Core statement per set of
    columns, built once: constructing an ORM UPDATE per email cost ~10 % of a send."""
    return _ROW_UPDATES[frozenset(values)], {"row_id": row_id, **values}


class _RowUpdates(dict):
    def __missing__(self, columns: frozenset[str]):
        table = OutboxEmail.__table__
        stmt = table.update().where(table.c.id == sa.bindparam("row_id"))
        stmt = stmt.values({name: sa.bindparam(name) for name in sorted(columns)})
        self[columns] = stmt
        return stmt


_ROW_UPDATES = _RowUpdates()


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, then scaled by 50–100 %."""
    base = current_app.config["OUTBOX_RETRY_BASE_SECONDS"]
    delay = min(base * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS)
    return delay * random.uniform(0.5, 1.0)


def _retry_later(marks: Connection, row: Claimed, exc: Exception) -> tuple[str, float | None]:
    if row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        return _finish(marks, row, EmailStatus.FAILED, "email_failed", _describe(exc)), None
    delay = backoff_seconds(row.attempts)
    now: datetime = utcnow()
    error = _describe(exc)
    # Durable first: the row says when to try again, so a lost retry message is swept up.
    again = {"status": EmailStatus.QUEUED, "due_at": now + timedelta(seconds=delay),
             "enqueued_at": now, "last_error": error}  # fmt: skip
    marks.execute(*_update_row(row.id, again))
    log.warning("outbox email %s: %s; retry in %.1fs", row.id, error, delay)
    return "retry", delay


def build_message(row: OutboxEmail | Claimed) -> Message:
    """The MIME message for a row: text + HTML alternatives, attachments, Message-ID, and the
    RFC 8058 one-click unsubscribe headers on marketing email.

    Built with the email package's classic MIME classes: the same structure as EmailMessage's
    set_content/add_alternative, at a quarter of the CPU (that API re-parses every header it
    sets, ~1.5 ms a message, the largest cost of a send). Bodies are UTF-8, quoted-printable."""
    cfg = current_app.config
    body = MIMEMultipart("alternative", policy=_POLICY)
    body.attach(MIMEText(row.text, "plain", _UTF8_QP))
    body.attach(MIMEText(row.html, "html", _UTF8_QP))
    attachments = row.attachments or []
    msg = MIMEMultipart("mixed", policy=_POLICY) if attachments else body
    if attachments:
        msg.attach(body)
    for item in attachments:
        mime, *params = [p.strip() for p in item["content_type"].split(";")]
        maintype, subtype = mime.split("/", 1)
        part = MIMEBase(maintype, subtype, **dict(p.split("=", 1) for p in params if "=" in p))
        part.set_payload(base64.b64decode(item["data"]))
        encoders.encode_base64(part)
        part.add_header("Content-Disposition", "attachment", filename=item["filename"])
        msg.attach(part)
    _header(msg, "Subject", row.subject)
    msg["From"] = formataddr(parseaddr(cfg["MAIL_FROM"]))  # a non-ASCII name gets encoded
    msg["To"] = row.to_email
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = row.message_id or message_id_for(row.idempotency_key)
    msg["X-Hero-Outbox-Id"] = str(row.id)
    for name, value in (row.headers or {}).items():
        _header(msg, name, value)
    if row.is_marketing:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url(row.to_email)}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg


class _MailPolicy(Compat32):
    """compat32, except that an ASCII header is written on one line (RFC 5322 allows 998
    characters) rather than folded at 78, which puts a value without spaces, such as the
    List-Unsubscribe URL, on a continuation line of its own."""

    def _one_line(self, name: str, value) -> str | None:
        one_line = (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and len(name) + len(value) + 2 <= 998
        )
        return f"{name}: {value}{self.linesep}" if one_line else None

    def fold(self, name, value):
        return self._one_line(name, value) or super().fold(name, value)

    def fold_binary(self, name, value):
        line = self._one_line(name, value)
        return line.encode("ascii") if line else super().fold_binary(name, value)


_POLICY = _MailPolicy()
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable, and keeps long HTML lines under SMTP's 998 characters


def _header(msg: Message, name: str, value: str) -> None:
    # A display name or subject outside ASCII goes out RFC 2047-encoded.
    msg[name] = value if value.isascii() else Header(value, "utf-8")


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


def _deliver(msg: Message, server: SmtpServer | None = None) -> None:
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

"""The email outbox: every email is a row before it is a send.

`queue_email` renders the templates and adds the row in the caller's transaction; the send task
is enqueued only once that transaction commits (a session `after_commit` hook), so a rolled-back
transaction never sends anything. The send itself (tasks.sender) claims the row atomically, so
any number of deliveries of the same task send one email.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from celery import current_app as default_celery
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from crm.nav import add_nav
from crm.time import utcnow
from tasks.consent import blocked_reasons, may_send
from tasks.models import Category, EmailStatus, OutboxEmail
from tasks.overrides import get_override, overrides_for
from tasks.registry import EmailEvent, people
from tasks.render import render_email, render_subject

log = logging.getLogger(__name__)

SEND_TASK = "tasks.send_email"
SEND_BATCH_TASK = "tasks.send_emails"
# Ids per batch send task: one broker message, one claim, one suppression lookup and one SMTP
# connection for this many emails; small enough that two worker processes share a commit's worth.
SEND_BATCH = 50
# Rows per multi-row INSERT in queue_emails (PostgreSQL allows 65,535 parameters: ~20 a row).
BULK_CHUNK = 500
_PENDING = "hero_outbox_pending"
_DUE = "hero_windowed_tasks_due"


class OutboxError(Exception):
    """A domain error about an outbox email, with a message fit to show the coach."""


# --- queueing ----------------------------------------------------------------------------------


def queue_email(
    session: Session,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    idempotency_key: str,
    lead_id: int | None = None,
    user_id: int | None = None,
    category: str = "transactional",
    attachments: Iterable[tuple[str, bytes, str]] = (),
    due_at: datetime | None = None,
    headers: dict[str, str] | None = None,
    condition: str = "",
) -> OutboxEmail | None:
    """Render and add an email to the outbox in the caller's transaction (no commit).

    A duplicate `idempotency_key` is a no-op returning None (checked without breaking the
    caller's transaction). Suppressed addresses, and marketing without consent, get a row with
    status `suppressed`. The send task is enqueued after the caller commits, or by the beat task
    `dispatch_due` once `due_at` (UTC, aware) has passed. `condition` is re-checked at send time.
    For a fan-out of many emails use `queue_emails`, which does the same in a few statements.
    """
    category = Category(category)
    to = to.strip()
    if session.scalar(select(OutboxEmail.id).where(OutboxEmail.idempotency_key == idempotency_key)):
        return None
    rendered = render_email(
        template, context, to=to, category=category, override=get_override(session, template)
    )
    now = utcnow()
    blocked = may_send(session, to, category, lead_id)
    values = _row_values(
        dict(to=to, template=template, idempotency_key=idempotency_key, lead_id=lead_id,
             user_id=user_id, category=category, attachments=attachments, due_at=due_at,
             headers=headers, condition=condition),
        rendered, blocked, now,
    )  # fmt: skip
    session.flush()  # the caller's own pending changes, so an error in them stays theirs
    row_id = _insert_unless_duplicate(session, values)
    if row_id is None:
        return None
    row = session.get(OutboxEmail, row_id)
    if lead_id is not None:
        record_events(
            session, [email_event(row, "email_suppressed" if blocked else "email_queued")]
        )
    if values["enqueued_at"] is not None:
        _remember_for_commit(session, [row_id])
    return row


def queue_emails(session: Session, items: Iterable[Mapping[str, Any]]) -> list[int]:
    """Many `queue_email` calls at once, for fan-outs (check-ins, sequences): the same rows, the
    same rules, in a handful of statements per BULK_CHUNK emails instead of ~5 per email.

    Each item holds `queue_email`'s keyword arguments. Per chunk: one SELECT of the keys that
    already exist (skipped when every item is rendered later: a duplicate then costs nothing to
    prepare), one of the coach's overrides, one of the suppressions (and, for marketing, one of
    the leads' consent), one multi-row INSERT … ON CONFLICT DO NOTHING on the idempotency key
    (so an existing or concurrent duplicate is skipped, never an error), and the timeline events
    of the rows that belong to a lead. Adds to the caller's transaction (no commit); the send
    tasks are enqueued, in batches, once it commits. Returns the ids of the new rows."""
    pending = [_normalised(item) for item in items]
    ids: list[int] = []
    for start in range(0, len(pending), BULK_CHUNK):
        chunk_ids, events = _queue_chunk(session, pending[start : start + BULK_CHUNK])
        ids += chunk_ids
        record_events(session, events)
    return ids


def _normalised(item: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(item) - _ITEM_FIELDS
    if unknown:
        raise TypeError(f"queue_emails: unknown fields {sorted(unknown)}")
    out = {**_ITEM_DEFAULTS, **item}
    out["to"] = out["to"].strip()
    out["category"] = Category(out["category"])
    return out


_ITEM_DEFAULTS: dict[str, Any] = {
    "lead_id": None,
    "user_id": None,
    "category": Category.TRANSACTIONAL,
    "attachments": (),
    "due_at": None,
    "headers": None,
    "condition": "",
    # Render the body (and build the `attach` files) in the worker at send time, not here: a
    # booking's request then only stores the context (see tasks.render.render_deferred).
    "render_later": False,
    "attach": (),
}
_ITEM_FIELDS = {"to", "template", "context", "idempotency_key", *_ITEM_DEFAULTS}


def _queue_chunk(
    session: Session, items: list[dict[str, Any]]
) -> tuple[list[int], list[EmailEvent]]:
    """The new rows' ids and their timeline events (not recorded yet)."""
    fresh, keys = [], set()
    for item in items:
        if item["idempotency_key"] not in keys:  # a duplicate inside the batch: the first wins
            keys.add(item["idempotency_key"])
            fresh.append(item)
    if not all(item["render_later"] for item in fresh):
        # Rendering an email is dear: leave out those queued already before rendering any.
        taken = set(
            session.scalars(
                select(OutboxEmail.idempotency_key).where(OutboxEmail.idempotency_key.in_(keys))
            )
        )
        fresh = [item for item in fresh if item["idempotency_key"] not in taken]
    if not fresh:
        return [], []
    own = overrides_for(session, {item["template"] for item in fresh})
    blocked = blocked_reasons(
        session, [(item["to"], item["category"], item["lead_id"]) for item in fresh]
    )
    now = utcnow()
    values = [
        _row_values(item, _rendered(item, own.get(item["template"])), reason, now)
        for item, reason in zip(fresh, blocked, strict=True)
    ]
    session.flush()  # the caller's own pending changes, so an error in them stays theirs
    new = _insert_many(session, values)
    ids = [new[v["idempotency_key"]] for v in values if v["idempotency_key"] in new]
    events = [
        EmailEvent(v["lead_id"], "email_suppressed" if v["status"] == EmailStatus.SUPPRESSED
                   else "email_queued", v["subject"], new[v["idempotency_key"]], v["template"])
        for v in values if v["lead_id"] is not None and v["idempotency_key"] in new
    ]  # fmt: skip
    due = [new[v["idempotency_key"]] for v in values
           if v["enqueued_at"] is not None and v["idempotency_key"] in new]  # fmt: skip
    if due:
        _remember_for_commit(session, due)
    return ids, events


def _rendered(item: Mapping[str, Any], override) -> tuple[str, str, str]:
    """(subject, html, text) now; only the subject for an item the worker renders later."""
    args = {"to": item["to"], "category": item["category"], "override": override}
    if item["render_later"]:
        return render_subject(item["template"], item["context"], **args), "", ""
    return render_email(item["template"], item["context"], **args)


def _row_values(
    item: Mapping[str, Any], rendered: tuple[str, str, str], blocked: str | None, now: datetime
) -> dict[str, Any]:
    subject, html, text = rendered
    due_at = item["due_at"]
    immediate = due_at is None or due_at <= now
    return {
        "to_email": item["to"],
        "template": item["template"],
        "subject": subject,
        "html": html,
        "text": text,
        "lead_id": item["lead_id"],
        "user_id": item["user_id"],
        "category": item["category"],
        "status": EmailStatus.SUPPRESSED if blocked else EmailStatus.QUEUED,
        "last_error": blocked or "",
        "due_at": due_at or now,
        "enqueued_at": now if immediate and not blocked else None,
        "created_at": now,
        "idempotency_key": item["idempotency_key"],
        "headers": dict(item["headers"] or {}),
        "attachments": [
            {
                "filename": name,
                "content_type": content_type,
                "data": base64.b64encode(data).decode("ascii"),
            }
            for name, data, content_type in item["attachments"]
        ],
        "condition": item["condition"],
        "attempts": 0,
        "message_id": "",
        "render": {"context": dict(item["context"]), "attach": list(item.get("attach") or ())}
        if item.get("render_later")
        else None,
    }


def _on_conflict_insert(session: Session):
    """The dialect's `insert` that has ON CONFLICT DO NOTHING, or None."""
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(
        session.get_bind().dialect.name
    )


def _insert_unless_duplicate(session: Session, values: dict[str, Any]) -> int | None:
    dialect_insert = _on_conflict_insert(session)
    if dialect_insert is not None:
        # INSERT … ON CONFLICT DO NOTHING: a concurrent duplicate neither raises nor aborts the
        # caller's transaction (and SQLite savepoints under pysqlite would commit early).
        stmt = (
            dialect_insert(OutboxEmail)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(OutboxEmail.id)
        )
        return session.execute(stmt).scalar()
    try:
        with session.begin_nested():
            return session.execute(
                insert(OutboxEmail).values(**values).returning(OutboxEmail.id)
            ).scalar()
    except IntegrityError:
        return None


def _insert_many(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """{idempotency key: new id} of the rows inserted; keys that exist already are skipped."""
    dialect_insert = _on_conflict_insert(session)
    if dialect_insert is None:
        new = {}
        for values in rows:
            row_id = _insert_unless_duplicate(session, values)
            if row_id is not None:
                new[values["idempotency_key"]] = row_id
        return new
    # A Core executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs ("insertmany
    # values", up to 1000 rows a statement) from one cached compilation, instead of compiling
    # a fresh 500-row VALUES clause every batch.
    table = OutboxEmail.__table__
    stmt = (
        dialect_insert(table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.idempotency_key, table.c.id)
    )
    return dict(session.connection().execute(stmt, rows).all())


_TIMELINE_LABELS = {
    "email_queued": "Email queued",
    "email_sent": "Email sent",
    "email_logged": "Email written to the outbox (SMTP off)",
    "email_failed": "Email failed",
    "email_suppressed": "Email suppressed",
    "email_cancelled": "Email cancelled",
}


def record_events(session: Session, events: list[EmailEvent]) -> None:
    """Tell the people feature (the leads' timelines) what happened to these emails."""
    if events:
        people().record(session, events)


def email_event(row: Any, kind: str) -> EmailEvent:
    """The timeline event of an outbox row (or a claimed one) about a lead."""
    return EmailEvent(row.lead_id, kind, row.subject, row.id, row.template)


def timeline_summary(event: EmailEvent) -> str:
    return f"{_TIMELINE_LABELS.get(event.kind, event.kind)}: {event.summary}"


# --- enqueue after commit ----------------------------------------------------------------------


def _remember_for_commit(session: Session | scoped_session, row_ids: list[int]) -> None:
    ids = tuple(row_ids)
    # queue_email's single emails keep their own task; a fan-out goes out in batches.
    after_commit(
        session, lambda: enqueue_send(ids[0]) if len(ids) == 1 else enqueue_sends(list(ids))
    )


def after_commit(session: Session | scoped_session, publish: Callable[[], Any]) -> None:
    """Call `publish` (which puts a task on the broker) once the session's transaction commits,
    never when it rolls back: the work it asks for is then in the database for the task to
    find. A failed publish is the sweepers' to retry, so `publish` logs its own errors."""
    if isinstance(session, scoped_session):
        session = session()  # the events below receive the real Session
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((publish, txn))


def _within(txn: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while txn is not None:
        if txn is ended:
            return True
        txn = txn.parent
    return False


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        for publish, _txn in pending:
            publish()


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [p for p in pending if not _within(p[1], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _forget_closed(session: Session, transaction: SessionTransaction) -> None:
    # A root transaction that ends without after_commit (closed, rolled back) sends nothing.
    pending = session.info.get(_PENDING)
    if pending and transaction.parent is None:
        session.info[_PENDING] = [p for p in pending if not _within(p[1], transaction)]


def celery_app():
    """This Flask app's Celery (not the process-wide default, which the last app created owns)."""
    if has_app_context() and "celery" in current_app.extensions:
        return current_app.extensions["celery"]
    return default_celery


def enqueue_send(row_id: int, countdown: float | None = None) -> bool:
    """Put a send task for the row on the broker; a failure is logged and left to the sweeper."""
    return publish_task(SEND_TASK, [row_id], queue=outbox_queue(), countdown=countdown)


def publish_task(
    name: str, args: list, *, queue: str | None = None, countdown: float | None = None
) -> bool:
    """Put a task on the broker for work already in the database; a failure is logged and left
    to that work's sweeper (a broker outage loses no email: the rows wait for it)."""
    try:
        celery_app().send_task(name, args=args, queue=queue, countdown=countdown)
    except Exception:  # noqa: BLE001 - the work is durable; a sweeper publishes it again
        log.exception("could not enqueue %s%s; its sweeper will retry", name, args)
        return False
    return True


def enqueue_sends(row_ids: list[int]) -> int:
    """Put batch send tasks (SEND_BATCH ids each) on the broker; returns how many ids went.

    One broker message per batch instead of one per email; the batch task claims every row
    itself, so an id in two tasks (a sweep, a retry) is still sent once."""
    sent = 0
    for start in range(0, len(row_ids), SEND_BATCH):
        chunk = row_ids[start : start + SEND_BATCH]
        if len(chunk) == 1:
            sent += enqueue_send(chunk[0])
        elif publish_task(SEND_BATCH_TASK, [chunk], queue=outbox_queue()):
            sent += len(chunk)
    return sent


class WindowedTask:
    """A task that finds its work in the database (the rows commits leave for it), published
    after such a commit at most once per window by each app in a process, to run when that
    window ends: the one run finds every commit made inside it. Under a crowd a web process
    publishes once a window instead of once a commit; a lone commit's work waits the window.

    Sound because Celery never runs a task before its ETA, and the worker's clock agrees with
    this one's (one machine, or NTP): a commit that finds a run still due was made before that
    run's query. A publish that fails (the broker is down) is the task's beat sweep to make up
    for, and the next commit publishes again. `window_setting` names the config key in seconds;
    0 publishes after every commit, to run at once."""

    def __init__(self, name: str, window_setting: str) -> None:
        self.name, self.window_setting = name, window_setting

    def after_commit(self, session: Session | scoped_session) -> None:
        after_commit(session, self._publish)

    def _publish(self) -> None:
        due = current_app.extensions.setdefault(_DUE, {})
        now = time.time()
        if now < due.get(self.name, 0.0):
            return  # a run published earlier is due after this commit, and will find its work
        window = float(current_app.config[self.window_setting])
        if publish_task(self.name, [], queue=outbox_queue(), countdown=window or None):
            due[self.name] = now + window


def outbox_queue() -> str | None:
    return (current_app.config.get("OUTBOX_QUEUE") if has_app_context() else None) or None


def init_app(app: Flask) -> None:
    # Both import this module, so they are imported once the app is built, not with it.
    from tasks import routes, sender  # noqa: F401 - the send tasks register themselves

    app.register_blueprint(routes.bp)
    add_nav(app, "coach", "outbox.index", "Outbox", 70)
    add_nav(app, "coach", "outbox.sequences", "Sequences", 72)

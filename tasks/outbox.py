"""The email outbox: every email is a row before it is a send.

`queue_email` renders the templates and adds the row in the caller's transaction; the send task
is enqueued only once that transaction commits (a session `after_commit` hook), so a rolled-back
transaction never sends anything. The send itself (tasks.sender) claims the row atomically, so
any number of deliveries of the same task send one email.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import css_inline
from flask import Flask, current_app, has_app_context
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import event, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction, scoped_session
from sqlalchemy.orm.util import identity_key

from crm.time import utcnow
from tasks.models import (
    Category,
    EmailStatus,
    EmailTemplateOverride,
    OutboxEmail,
    Suppression,
    SuppressionReason,
)

log = logging.getLogger(__name__)

SEND_TASK = "tasks.send_email"
SEND_BATCH_TASK = "tasks.send_emails"
# Ids per batch send task: one broker message, one claim, one suppression lookup and one SMTP
# connection for this many emails; small enough that two worker processes share a commit's worth.
SEND_BATCH = 50
# Rows per multi-row INSERT in queue_emails (PostgreSQL allows 65,535 parameters: ~20 a row).
BULK_CHUNK = 500
_PENDING = "hero_outbox_pending"


class OutboxError(Exception):
    """A domain error about an outbox email, with a message fit to show the coach."""


# --- rendering ---------------------------------------------------------------------------------


def unsubscribe_token(email: str) -> str:
    """A signed, non-expiring token naming the address (the one-click link must keep working)."""
    return _unsubscribe_serializer().dumps(email.strip().lower())


def read_unsubscribe_token(token: str) -> str | None:
    try:
        return _unsubscribe_serializer().loads(token)
    except BadSignature:
        return None


def _unsubscribe_serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@lru_cache(maxsize=8)
def _serializer_for(secret_key: str) -> URLSafeSerializer:
    # Built once per key: a fan-out signs one link per email.
    return URLSafeSerializer(secret_key, salt="unsubscribe")


def unsubscribe_url(email: str) -> str:
    return f"{current_app.config['BASE_URL']}/unsubscribe/{unsubscribe_token(email)}"


def render_email(
    template: str,
    context: dict[str, Any],
    *,
    to: str,
    category: str = "transactional",
    override: EmailTemplateOverride | None = None,
) -> tuple[str, str, str]:
    """(subject, html, text) of templates/emails/<template>.*; the HTML with its CSS inlined.

    With the coach's `override`, her subject and/or body (rendered in the sandbox, see
    tasks.editor) replace the file's, inside the same layout and footer; an override that fails
    to render is logged and the file template is used."""
    env = current_app.jinja_env
    ctx = {
        "base_url": current_app.config["BASE_URL"],
        "business_address": current_app.config["BUSINESS_ADDRESS"],
        "marketing": category == Category.MARKETING,
        "unsubscribe_url": unsubscribe_url(to),
        "to_email": to,
        **context,
    }
    own_subject = own_html = own_text = None
    if override is not None:
        from tasks.editor import render_override

        try:
            own_subject, own_html, own_text = render_override(override.subject, override.body, ctx)
        except Exception:  # noqa: BLE001 - her text must never stop the email going out
            log.warning("override of %s does not render; using the file template", template,
                        exc_info=True)  # fmt: skip
    subject = own_subject or env.get_template(f"emails/{template}.subject.txt").render(ctx)
    subject = " ".join(subject.split())[:300]
    ctx["subject"] = subject
    if own_html is not None:
        ctx.update(own_html=Markup(own_html), own_text=own_text)
        text = env.get_template("emails/_override.txt").render(ctx).strip() + "\n"
        html = _INLINER.inline(env.get_template("emails/_override.html").render(ctx))
        return subject, html, text
    text = env.get_template(f"emails/{template}.txt").render(ctx).strip() + "\n"
    html = _INLINER.inline(env.get_template(f"emails/{template}.html").render(ctx))
    return subject, html, text


# One inliner for the process. The layout's CSS is static but each email's markup is not (loops
# and conditions decide which elements exist), so the inlining itself stays per email (~0.1 ms).
# Emails never link remote stylesheets: nothing to fetch.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False)


# --- consent -----------------------------------------------------------------------------------


def suppression_for(session: Session, email: str) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.email == email.strip().lower()))


def may_send(session: Session, email: str, category: str, lead_id: int | None) -> str | None:
    """Why this email must not go (a reason for last_error), or None when it may."""
    suppression = suppression_for(session, email)
    if suppression is not None and (
        category == Category.MARKETING or suppression.blocks_transactional
    ):
        return f"address suppressed ({suppression.reason})"
    if category == Category.MARKETING:
        from crm.leads.models import Lead
        from crm.leads.services import find_lead

        lead = session.get(Lead, lead_id) if lead_id else find_lead(session, email)
        if lead is None or not lead.marketing_consent:
            return "no marketing consent"
    return None


def blocked_reasons(
    session: Session, emails: list[tuple[str, str, int | None]]
) -> list[str | None]:
    """`may_send` for many (email, category, lead id) at once: one query for the suppressions,
    and for marketing one for the leads' consent; a reason or None per input, in order."""
    from crm.leads.models import Lead
    from crm.leads.services import normalise_email

    if not emails:
        return []
    addresses = {normalise_email(email) for email, _, _ in emails}
    suppressed = {
        s.email: s
        for s in session.scalars(select(Suppression).where(Suppression.email.in_(addresses)))
    }
    marketing = [
        (normalise_email(email), lead_id)
        for email, category, lead_id in emails
        if category == Category.MARKETING
    ]
    by_id: dict[int, bool] = {}
    by_email: dict[str, bool] = {}
    if marketing:
        lead_ids = {lead_id for _, lead_id in marketing if lead_id}
        if lead_ids:
            by_id = dict(
                session.execute(
                    select(Lead.id, Lead.marketing_consent).where(Lead.id.in_(lead_ids))
                ).all()
            )
        no_id = {email for email, lead_id in marketing if not lead_id}
        if no_id:
            by_email = dict(
                session.execute(
                    select(Lead.email, Lead.marketing_consent).where(Lead.email.in_(no_id))
                ).all()
            )
    reasons: list[str | None] = []
    for email, category, lead_id in emails:
        address = normalise_email(email)
        suppression = suppressed.get(address)
        if suppression is not None and (
            category == Category.MARKETING or suppression.blocks_transactional
        ):
            reasons.append(f"address suppressed ({suppression.reason})")
        elif category == Category.MARKETING and not (
            by_id.get(lead_id) if lead_id else by_email.get(address)
        ):
            reasons.append("no marketing consent")
        else:
            reasons.append(None)
    return reasons


def suppress_address(session: Session, email: str, reason: SuppressionReason) -> None:
    """Put an address on the suppression list and cancel what it should no longer get. Commits.

    Unsubscribing stops marketing (consent withdrawn on the lead too); a bounce, a complaint or
    the coach's manual block stops everything."""
    from crm.leads.services import find_lead, record_event

    address = email.strip().lower()
    existing = suppression_for(session, address)
    if existing is None:
        session.add(Suppression(email=address, reason=reason))
    elif existing.reason == SuppressionReason.UNSUBSCRIBED and reason != existing.reason:
        existing.reason = reason  # a harder block wins
    lead = find_lead(session, address)
    if lead is not None:
        if lead.marketing_consent:
            lead.marketing_consent = False
        record_event(session, lead, "unsubscribed", f"Email suppressed: {reason}")
    blocked = select(OutboxEmail).where(
        OutboxEmail.to_email == address, OutboxEmail.status == EmailStatus.QUEUED
    )
    if reason == SuppressionReason.UNSUBSCRIBED:
        blocked = blocked.where(OutboxEmail.category == Category.MARKETING)
    for row in session.scalars(blocked):
        row.status = EmailStatus.SUPPRESSED
        row.last_error = f"address suppressed ({reason})"
    try:
        session.commit()
    except IntegrityError:  # the same address suppressed concurrently: that is the goal anyway
        session.rollback()


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
    from tasks.editor import get_override

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
        _timeline(session, row, "email_queued" if not blocked else "email_suppressed")
    if values["enqueued_at"] is not None:
        _remember_for_commit(session, [row_id])
    return row


def queue_emails(session: Session, items: Iterable[Mapping[str, Any]]) -> list[int]:
    """Many `queue_email` calls at once, for fan-outs (check-ins, sequences): the same rows, the
    same rules, in a handful of statements per BULK_CHUNK emails instead of ~5 per email.

    Each item holds `queue_email`'s keyword arguments. Per chunk: one SELECT of the keys that
    already exist, one of the coach's overrides, one of the suppressions (and, for marketing, one
    of the leads' consent), one multi-row INSERT … ON CONFLICT DO NOTHING on the idempotency key
    (so a concurrent duplicate is skipped, never an error), and the timeline events of the rows
    that belong to a lead. Adds to the caller's transaction (no commit); the send tasks are
    enqueued, in batches, once it commits. Returns the ids of the new rows."""
    pending = [_normalised(item) for item in items]
    ids: list[int] = []
    for start in range(0, len(pending), BULK_CHUNK):
        ids += _queue_chunk(session, pending[start : start + BULK_CHUNK])
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
}
_ITEM_FIELDS = {"to", "template", "context", "idempotency_key", *_ITEM_DEFAULTS}


def _queue_chunk(session: Session, items: list[dict[str, Any]]) -> list[int]:
    from tasks.editor import overrides_for

    keys = {item["idempotency_key"] for item in items}
    taken = set(
        session.scalars(
            select(OutboxEmail.idempotency_key).where(OutboxEmail.idempotency_key.in_(keys))
        )
    )
    fresh = []
    for item in items:
        if item["idempotency_key"] not in taken:
            taken.add(item["idempotency_key"])  # a duplicate inside the batch: the first wins
            fresh.append(item)
    if not fresh:
        return []
    own = overrides_for(session, {item["template"] for item in fresh})
    blocked = blocked_reasons(
        session, [(item["to"], item["category"], item["lead_id"]) for item in fresh]
    )
    now = utcnow()
    values = [
        _row_values(
            item,
            render_email(
                item["template"],
                item["context"],
                to=item["to"],
                category=item["category"],
                override=own.get(item["template"]),
            ),
            reason,
            now,
        )  # fmt: skip
        for item, reason in zip(fresh, blocked, strict=True)
    ]
    session.flush()  # the caller's own pending changes, so an error in them stays theirs
    new = _insert_many(session, values)
    ids = [new[v["idempotency_key"]] for v in values if v["idempotency_key"] in new]
    on_timeline = [v for v in values if v["lead_id"] is not None and v["idempotency_key"] in new]
    if on_timeline:
        leads = _leads_by_id(session, {v["lead_id"] for v in on_timeline})
        for v in on_timeline:
            kind = "email_suppressed" if v["status"] == EmailStatus.SUPPRESSED else "email_queued"
            _timeline_event(session, leads.get(v["lead_id"]), kind, v["subject"],
                            new[v["idempotency_key"]], v["template"])  # fmt: skip
    due = [new[v["idempotency_key"]] for v in values
           if v["enqueued_at"] is not None and v["idempotency_key"] in new]  # fmt: skip
    if due:
        _remember_for_commit(session, due)
    return ids


def _leads_by_id(session: Session, ids: set[int]) -> dict[int, Any]:
    """The leads with these ids: those the session holds already without a query (a booking's
    own lead), the rest in one SELECT."""
    from crm.leads.models import Lead

    held = {i: session.identity_map.get(identity_key(Lead, i)) for i in ids}
    leads = {i: lead for i, lead in held.items() if lead is not None}
    missing = ids - leads.keys()
    if missing:
        leads.update(
            (lead.id, lead) for lead in session.scalars(select(Lead).where(Lead.id.in_(missing)))
        )
    return leads


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


def _timeline(session: Session, row: OutboxEmail, kind: str) -> None:
    from crm.leads.models import Lead

    _timeline_event(
        session, session.get(Lead, row.lead_id), kind, row.subject, row.id, row.template
    )


_TIMELINE_LABELS = {
    "email_queued": "Email queued",
    "email_sent": "Email sent",
    "email_logged": "Email written to the outbox (SMTP off)",
    "email_failed": "Email failed",
    "email_suppressed": "Email suppressed",
    "email_cancelled": "Email cancelled",
}


def _timeline_event(
    session: Session, lead, kind: str, subject: str, outbox_id: int, template: str
) -> None:
    from crm.leads.services import record_event

    if lead is None:
        return
    record_event(
        session,
        lead,
        kind,
        f"{_TIMELINE_LABELS.get(kind, kind)}: {subject}",
        data={"outbox_id": outbox_id, "template": template},
    )


# --- enqueue after commit ----------------------------------------------------------------------


def _remember_for_commit(session: Session | scoped_session, row_ids: list[int]) -> None:
    if isinstance(session, scoped_session):
        session = session()  # the events below receive the real Session
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((tuple(row_ids), txn))


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
        for row_ids, _txn in pending:
            # queue_email's single emails keep their own task; a fan-out goes out in batches.
            if len(row_ids) == 1:
                enqueue_send(row_ids[0])
            else:
                enqueue_sends(list(row_ids))


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
    from celery import current_app as default_celery

    return default_celery


def enqueue_send(row_id: int, countdown: float | None = None) -> bool:
    """Put a send task for the row on the broker; a failure is logged and left to the sweeper."""
    try:
        celery_app().send_task(SEND_TASK, args=[row_id], queue=_outbox_queue(), countdown=countdown)
    except Exception:  # noqa: BLE001 - the row is durable; sweep_stuck re-enqueues it
        log.exception("could not enqueue outbox email %s; the sweeper will retry", row_id)
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
            continue
        try:
            celery_app().send_task(SEND_BATCH_TASK, args=[chunk], queue=_outbox_queue())
        except Exception:  # noqa: BLE001 - the rows are durable; sweep_stuck re-enqueues them
            log.exception("could not enqueue %d outbox emails; the sweeper will retry", len(chunk))
            continue
        sent += len(chunk)
    return sent


def _outbox_queue() -> str | None:
    return (current_app.config.get("OUTBOX_QUEUE") if has_app_context() else None) or None


def message_id_for(row_id: int) -> str:
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "hero.local"
    return f"<outbox.{row_id}@{host}>"


def init_app(app: Flask) -> None:
    from crm import nav
    from tasks import (  # noqa: F401 - models for create_all, tasks registered
        alerts,
        checkin_routes,
        checkins,
        client_sequences,
        models,
        routes,
        sender,
    )

    app.register_blueprint(routes.bp)
    app.register_blueprint(checkin_routes.bp)
    nav.add_nav(app, "coach", "outbox.index", "Outbox", 70)
    nav.add_nav(app, "coach", "outbox.sequences", "Sequences", 72)

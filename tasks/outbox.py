"""The email outbox: every email is a row before it is a send.

`queue_email` renders the templates and adds the row in the caller's transaction; the send task
is enqueued only once that transaction commits (a session `after_commit` hook), so a rolled-back
transaction never sends anything. The send itself (tasks.sender) claims the row atomically, so
any number of deliveries of the same task send one email.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from datetime import datetime
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
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


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
        html = css_inline.inline(env.get_template("emails/_override.html").render(ctx))
        return subject, html, text
    text = env.get_template(f"emails/{template}.txt").render(ctx).strip() + "\n"
    html = css_inline.inline(env.get_template(f"emails/{template}.html").render(ctx))
    return subject, html, text


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
    """
    category = Category(category)
    to = to.strip()
    if session.scalar(select(OutboxEmail.id).where(OutboxEmail.idempotency_key == idempotency_key)):
        return None
    from tasks.editor import get_override

    subject, html, text = render_email(
        template, context, to=to, category=category, override=get_override(session, template)
    )
    now = utcnow()
    immediate = due_at is None or due_at <= now
    blocked = may_send(session, to, category, lead_id)
    values = {
        "to_email": to,
        "template": template,
        "subject": subject,
        "html": html,
        "text": text,
        "lead_id": lead_id,
        "user_id": user_id,
        "category": category,
        "status": EmailStatus.SUPPRESSED if blocked else EmailStatus.QUEUED,
        "last_error": blocked or "",
        "due_at": due_at or now,
        "enqueued_at": now if immediate and not blocked else None,
        "created_at": now,
        "idempotency_key": idempotency_key,
        "headers": dict(headers or {}),
        "attachments": [
            {
                "filename": name,
                "content_type": content_type,
                "data": base64.b64encode(data).decode("ascii"),
            }
            for name, data, content_type in attachments
        ],
        "condition": condition,
    }
    session.flush()  # the caller's own pending changes, so an error in them stays theirs
    row_id = _insert_unless_duplicate(session, values)
    if row_id is None:
        return None
    row = session.get(OutboxEmail, row_id)
    if lead_id is not None:
        _timeline(session, row, "email_queued" if not blocked else "email_suppressed")
    if immediate and not blocked:
        _remember_for_commit(session, row_id)
    return row


def _insert_unless_duplicate(session: Session, values: dict[str, Any]) -> int | None:
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        # INSERT … ON CONFLICT DO NOTHING: a concurrent duplicate neither raises nor aborts the
        # caller's transaction (and SQLite savepoints under pysqlite would commit early).
        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
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


def _timeline(session: Session, row: OutboxEmail, kind: str) -> None:
    from crm.leads.models import Lead
    from crm.leads.services import record_event

    lead = session.get(Lead, row.lead_id)
    if lead is None:
        return
    labels = {
        "email_queued": "Email queued",
        "email_sent": "Email sent",
        "email_logged": "Email written to the outbox (SMTP off)",
        "email_failed": "Email failed",
        "email_suppressed": "Email suppressed",
        "email_cancelled": "Email cancelled",
    }
    record_event(
        session,
        lead,
        kind,
        f"{labels.get(kind, kind)}: {row.subject}",
        data={"outbox_id": row.id, "template": row.template},
    )


# --- enqueue after commit ----------------------------------------------------------------------


def _remember_for_commit(session: Session | scoped_session, row_id: int) -> None:
    if isinstance(session, scoped_session):
        session = session()  # the events below receive the real Session
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((row_id, txn))


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
        for row_id, _txn in pending:
            enqueue_send(row_id)


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


def enqueue_send(row_id: int) -> bool:
    """Put a send task for the row on the broker; a failure is logged and left to the sweeper."""
    try:
        queue = current_app.config.get("OUTBOX_QUEUE") if has_app_context() else None
        celery_app().send_task(SEND_TASK, args=[row_id], queue=queue or None)
    except Exception:  # noqa: BLE001 - the row is durable; sweep_stuck re-enqueues it
        log.exception("could not enqueue outbox email %s; the sweeper will retry", row_id)
        return False
    return True


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

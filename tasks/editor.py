"""The coach's Sequences page: every email the features registered, its preview filled from a
real contact (or sample values), and a test send to her own address."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.orm import Session

from tasks.models import EmailTemplateOverride
from tasks.outbox import queue_email
from tasks.overrides import TemplateRefused, get_override, validate_override
from tasks.registry import SequenceDef, Step, registry
from tasks.render import render_email


def sequences() -> tuple[SequenceDef, ...]:
    return registry().sequences()


def step(template: str) -> Step | None:
    return registry().step(template)


def contact_context(session: Session, template: str, contact: str | None) -> dict[str, Any]:
    """A context for `template` filled from a real contact ("lead:12" or "user:7") where it can
    be, and with sample values elsewhere: what the preview and the test email show. Each feature
    adds the values of its own emails (`register_preview`)."""
    reg = registry()
    who = reg.people.contact(session, contact)
    name = (who.lead.first_name if who.lead else None) or (
        who.user.first_name if who.user else None
    )
    ctx: dict[str, Any] = {"first_name": name or "Dana"}
    for fill in reg.previews:
        ctx.update(fill(session, template, who))
    return ctx


def contacts(session: Session, limit: int = 50) -> list[tuple[str, str]]:
    """(value, label) of recent leads and runners, for the preview's contact picker."""
    return registry().people.contacts(session, limit)


def preview(
    session: Session,
    template: str,
    contact: str | None,
    *,
    subject: str | None = None,
    body: str | None = None,
) -> tuple[str, str, str]:
    """(subject, html, text) as the contact would get it now, with the override or the given
    draft. Raises TemplateRefused when a draft cannot be used."""
    found = step(template)
    if found is None:
        raise TemplateRefused({"template": "There is no such email."})
    context = contact_context(session, template, contact)
    draft = None
    if subject is not None or body is not None:
        validate_override(template, subject or "", body or "", None, context)
        draft = EmailTemplateOverride(template=template, subject=subject or "", body=body or "")
    return render_email(template, context, to="preview@example.com", category=found.category,
                        override=draft or get_override(session, template))  # fmt: skip


def send_test(session: Session, template: str, contact: str | None, coach) -> int:
    """Queue the email, as the contact would get it, to the coach's own address. Commits."""
    if step(template) is None:
        raise TemplateRefused({"template": "There is no such email."})
    row = queue_email(
        session,
        to=coach.email,
        template=template,
        context=contact_context(session, template, contact),
        idempotency_key=f"test:{template}:{coach.id}:{secrets.token_hex(8)}",
        user_id=coach.id,
    )
    session.commit()
    return row.id

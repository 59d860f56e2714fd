"""An email as it is sent: the templates rendered (or the coach's override), its CSS inlined,
the signed unsubscribe link every email carries, and its Message-ID."""

from __future__ import annotations

import base64
import hashlib
import logging
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import css_inline
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import select

from crm.forms import normalise_email
from tasks.models import Category, EmailTemplateOverride
from tasks.overrides import render_override
from tasks.registry import attachment_builder

log = logging.getLogger(__name__)


def unsubscribe_token(email: str) -> str:
    """A signed, non-expiring token naming the address (the one-click link must keep working)."""
    return _unsubscribe_serializer().dumps(normalise_email(email))


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


def _context(template_context: dict[str, Any], to: str, category: str) -> dict[str, Any]:
    return {
        "base_url": current_app.config["BASE_URL"],
        "business_address": current_app.config["BUSINESS_ADDRESS"],
        "marketing": category == Category.MARKETING,
        "unsubscribe_url": unsubscribe_url(to),
        "to_email": to,
        **template_context,
    }


def render_subject(
    template: str,
    context: dict[str, Any],
    *,
    to: str,
    category: str = "transactional",
    override: EmailTemplateOverride | None = None,
) -> str:
    """The subject alone (the outbox list and the timeline need it when the email is queued;
    the body of an email queued with `render_later` waits for the worker)."""
    ctx = _context(context, to, category)
    subject = None
    if override is not None and override.subject:
        try:
            subject = render_override(override.subject, "", ctx)[0]
        except Exception:  # noqa: BLE001 - her text must never stop the email going out
            log.warning("override subject of %s does not render", template, exc_info=True)
    if subject is None:
        subject = current_app.jinja_env.get_template(f"emails/{template}.subject.txt").render(ctx)
    return " ".join(subject.split())[:300]


def render_deferred(
    session, template: str, to: str, category: str, render: dict[str, Any], override=None
) -> tuple[str, str, str, list[dict[str, str]]]:
    """(subject, html, text, attachments as stored) of an email queued with `render_later`:
    the templates with the stored context, and each attachment built by its registered builder
    from the ids stored with it (tasks.registry.register_attachment)."""
    subject, html, text = render_email(
        template, render.get("context") or {}, to=to, category=category, override=override
    )
    files = []
    for spec in render.get("attach") or ():
        built = attachment_builder(spec["builder"])(session, **(spec.get("args") or {}))
        if built is not None:
            name, data, content_type = built
            files.append({"filename": name, "content_type": content_type,
                          "data": base64.b64encode(data).decode("ascii")})  # fmt: skip
    return subject, html, text, files


def as_shown(session, row) -> tuple[str, str]:
    """(html, text) of an outbox row for the coach: as sent, or — for an email the worker has
    not rendered yet — as it would be rendered now."""
    if row.render is None:
        return row.html, row.text
    override = session.scalar(
        select(EmailTemplateOverride).where(EmailTemplateOverride.template == row.template)
    )
    _, html, text = render_email(row.template, row.render.get("context") or {}, to=row.to_email,
                                 category=row.category, override=override)  # fmt: skip
    return html, text


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
    ctx = _context(context, to, category)
    own_subject = own_html = own_text = None
    if override is not None:
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


def message_id_for(idempotency_key: str) -> str:
    """The email's Message-ID, derived from its idempotency key: every send of one outbox row
    (the one repeat a crash between the server's OK and the "sent" mark can cause included)
    carries the same id, so mail clients show a repeat as the same message."""
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "hero.local"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}.outbox@{host}>"

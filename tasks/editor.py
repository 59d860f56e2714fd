"""The coach's sequences and templates: the built-in sequences, her overrides, and their rendering.

An override (EmailTemplateOverride) replaces a file template's subject and/or body; queue_email
uses it when it exists. Her text is Markdown (or HTML when it starts with a tag) with Jinja
placeholders, rendered in an ImmutableSandboxedEnvironment over plain values only, so it cannot
reach Python objects: `{{ ''.__class__ }}`-style payloads are refused when she saves, and an
override that fails at send time falls back to the file template rather than break the email.
"""

from __future__ import annotations

import html as html_lib
import logging
import operator
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import nh3
from flask import current_app
from jinja2 import TemplateError, Undefined, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.time import utcnow
from tasks.models import EmailTemplateOverride

log = logging.getLogger(__name__)

MAX_BODY = 20_000
MAX_OUTPUT = 200_000


class TemplateRefused(Exception):
    """The coach's text cannot be used; `messages` maps a form field to a sentence."""

    def __init__(self, messages: dict[str, str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages.values()))


# --- the built-in sequences --------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    template: str
    label: str
    when: str
    # Default delay in hours per step of this template; None: the timing is fixed by its rule.
    delays: tuple[int, ...] | None = None
    delay_help: str = ""
    category: str = "transactional"


@dataclass(frozen=True)
class SequenceDef:
    key: str
    name: str
    audience: str
    steps: tuple[Step, ...]


SEQUENCES: tuple[SequenceDef, ...] = (
    SequenceDef(
        "lead",
        "Free call",
        "Prospects who book a call",
        (
            Step(
                "booking_confirmation",
                "Booking confirmation",
                "As soon as she books (with the .ics invite)",
            ),
            Step(
                "booking_reminder",
                "Reminders",
                "The day before at the same local time, and 1 hour before",
            ),
            Step("booking_rescheduled", "Rescheduled", "When she or you move the call"),
            Step("booking_cancelled", "Cancelled", "When the call is cancelled"),
            Step("no_show", "No-show", "When you mark the call as a no-show"),
            Step(
                "call_followup",
                "Post-call follow-up",
                "After the call, until she enrols",
                (0, 48, 120),
                "Hours after the call, one per follow-up (3 steps).",
                "marketing",
            ),
        ),
    ),  # fmt: skip
    SequenceDef(
        "client",
        "Client",
        "Runners in the programme",
        (
            Step("welcome", "Welcome", "When her payment goes through"),
            Step("weekly_checkin", "Weekly check-in", "Every Sunday at 18:00 in her time zone"),
            Step(
                "missed_workout",
                "Missed-workout nudge",
                "When she has not logged for a while",
                (72,),
                "Hours without a log before the nudge (whole days).",
            ),
            Step(
                "race_week",
                "Race week",
                "In the days before her race",
                (168,),
                "Hours before the race (whole days).",
            ),
            Step("programme_complete", "Programme complete", "After the last session of her plan"),
            Step("payment_failed", "Payment failed", "When a payment fails"),
        ),
    ),  # fmt: skip
    SequenceDef(
        "coach",
        "You",
        "Emails to you, the coach",
        (
            Step("coach_digest", "Daily digest", "Every day at 07:00 your time"),
            Step(
                "coach_alert", "Alert", "Pain over threshold, two missed sessions, payment failed"
            ),
        ),
    ),  # fmt: skip
    SequenceDef(
        "account",
        "Account",
        "Anyone with a login",
        (Step("password_reset", "Password reset", "When someone asks to reset a password"),),
    ),  # fmt: skip
)
STEPS: dict[str, Step] = {step.template: step for seq in SEQUENCES for step in seq.steps}
COMMON_PLACEHOLDERS = ("first_name", "base_url", "business_address", "unsubscribe_url", "to_email")


def get_override(session: Session, template: str) -> EmailTemplateOverride | None:
    return session.scalar(
        select(EmailTemplateOverride).where(EmailTemplateOverride.template == template)
    )


def overrides_for(session: Session, templates: set[str]) -> dict[str, EmailTemplateOverride]:
    """The coach's overrides of these templates, by template (one query)."""
    return {
        o.template: o
        for o in session.scalars(
            select(EmailTemplateOverride).where(EmailTemplateOverride.template.in_(templates))
        )
    }


def overrides(session: Session) -> dict[str, EmailTemplateOverride]:
    return {o.template: o for o in session.scalars(select(EmailTemplateOverride))}


def step_delays(session: Session, template: str, default: list[int]) -> list[int]:
    """The coach's delays (hours) for a template's steps, else `default`."""
    override = get_override(session, template)
    delays = override.delay_hours if override is not None else None
    if not delays or len(delays) != len(default):
        return list(default)
    return [int(h) for h in delays]


def placeholders(template: str) -> list[str]:
    """The names a template can use: those its file version uses, plus the common ones."""
    env = current_app.jinja_env
    names = set(COMMON_PLACEHOLDERS)
    for suffix in ("subject.txt", "txt", "html"):
        name = f"emails/{template}.{suffix}"
        try:
            source = env.loader.get_source(env, name)[0]
        except TemplateError:
            continue
        names |= meta.find_undeclared_variables(env.parse(source))
    names -= {"marketing", "subject"}
    return sorted(names)


# --- the sandbox -------------------------------------------------------------------------------


class _Undefined(Undefined):
    """A missing placeholder renders empty; an unsafe attribute (the sandbox's refusal) raises."""

    __slots__ = ()

    def __str__(self) -> str:
        if self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return ""


class _Sandbox(ImmutableSandboxedEnvironment):
    # No `**`, and no multiplying a string or list into a huge one.
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, op, left, right):
        if op == "**":
            raise SecurityError("the power operator is not allowed")
        if op == "*":
            seq, n = (left, right) if isinstance(left, (str, list, tuple)) else (right, left)
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > 10_000:
                raise SecurityError("that repetition is too long")
            return operator.mul(left, right)
        return super().call_binop(context, op, left, right)


_TEXT_ENV = _Sandbox(autoescape=False, undefined=_Undefined, keep_trailing_newline=True)
_HTML_ENV = _Sandbox(autoescape=True, undefined=_Undefined)
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _plain(value: Any, depth: int = 0) -> Any:
    """Only plain values reach the sandbox: no ORM objects, no callables."""
    if depth > 4:
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items() if _plain_ok(v)}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value if _plain_ok(v)]
    return None


def _plain_ok(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, date, dict, list, tuple))


def sandbox_context(context: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in context.items() if _plain_ok(v)}


def is_html(body: str) -> bool:
    return body.lstrip().startswith("<")


def _html_to_text(markup: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", markup)
    text = re.sub(r"(?i)<a\s[^>]*href=\"([^\"]*)\"[^>]*>(.*?)</a>", r"\2 (\1)", text)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</(p|div|h[1-6]|li|tr|ul|ol|table)>", "\n\n", text)
    text = re.sub(r"(?i)<li[^>]*>", "- ", text)
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def _render(env: _Sandbox, source: str, context: dict[str, Any]) -> str:
    out = env.from_string(source).render(context)
    if len(out) > MAX_OUTPUT:
        raise SecurityError("the rendered email is too long")
    return out


def render_override(
    subject_src: str, body_src: str, context: dict[str, Any]
) -> tuple[str | None, str | None, str | None]:
    """(subject, body HTML fragment, body text) from the coach's sources; None where she kept
    the file template's. Raises jinja2 TemplateError/SecurityError when her text is unusable."""
    ctx = sandbox_context(context)
    subject = (
        " ".join(_render(_TEXT_ENV, subject_src, ctx).split())[:300]
        if subject_src.strip()
        else None
    )
    if not body_src.strip():
        return subject, None, None
    if is_html(body_src):
        fragment = nh3.clean(_render(_HTML_ENV, body_src, ctx))
        return subject, fragment, _html_to_text(fragment)
    text = _render(_TEXT_ENV, body_src, ctx).strip()
    return subject, _MARKDOWN.render(text), text


def _check_names(source: str, allowed: set[str]) -> str | None:
    """A sentence about the first forbidden thing in the source, or None."""
    ast = _TEXT_ENV.parse(source)
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        attr = getattr(node, "attr", None)
        if attr is None and isinstance(getattr(node, "arg", None), nodes.Const):
            attr = node.arg.value
        if isinstance(attr, str) and attr.startswith("_"):
            return f"“{attr}” is not allowed in an email."
    unknown = sorted(meta.find_undeclared_variables(ast) - allowed)
    if unknown:
        return f"Unknown placeholder {{{{ {unknown[0]} }}}}. You can use: " + ", ".join(
            f"{{{{ {n} }}}}" for n in sorted(allowed)
        )
    return None


def validate_override(
    template: str, subject: str, body: str, delays: list[int] | None, context: dict[str, Any]
) -> None:
    """Raise TemplateRefused (per field) unless the coach's text renders safely."""
    errors: dict[str, str] = {}
    allowed = set(placeholders(template)) | set(context)
    if len(body) > MAX_BODY:
        errors["body"] = f"Keep the email under {MAX_BODY} characters."
    for field, source in (("subject", subject), ("body", body)):
        if field in errors or not source.strip():
            continue
        try:
            problem = _check_names(source, allowed)
        except TemplateError as exc:
            problem = f"This doesn't read as a template: {exc}"
        if problem:
            errors[field] = problem
    if not errors:
        try:
            render_override(subject, body, context)
        except SecurityError as exc:
            errors["body"] = f"Refused: {exc}"
        except TemplateError as exc:
            errors["body"] = f"This doesn't render: {exc}"
    step = STEPS.get(template)
    if delays is not None:
        if step is None or step.delays is None:
            errors["delays"] = "This email's timing is fixed by its rule."
        elif len(delays) != len(step.delays) or any(not 0 <= h <= 24 * 60 for h in delays):
            errors["delays"] = f"Give {len(step.delays)} delay(s) in hours, each from 0 to 1440."
    if errors:
        raise TemplateRefused(errors)


def save_override(
    session: Session,
    template: str,
    *,
    subject: str,
    body: str,
    delays: list[int] | None,
    preview_context: dict[str, Any],
    actor_id: int | None = None,
) -> EmailTemplateOverride:
    """Store the coach's version of a built-in email (validated in the sandbox first). Commits.

    Raises TemplateRefused with per-field messages; nothing is stored then."""
    if template not in STEPS:
        raise TemplateRefused({"template": "There is no such email."})
    subject, body = subject.strip(), body.strip()
    validate_override(template, subject, body, delays, preview_context)
    row = get_override(session, template) or EmailTemplateOverride(template=template)
    row.subject, row.body, row.delay_hours = subject, body, delays
    row.updated_by_id = actor_id
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    return row


def reset_override(session: Session, template: str) -> None:
    """Back to the built-in file template and delays. Commits."""
    row = get_override(session, template)
    if row is not None:
        session.delete(row)
        session.commit()


# --- previews ----------------------------------------------------------------------------------


def contact_context(session: Session, template: str, contact: str | None) -> dict[str, Any]:
    """A context for `template` filled from a real contact ("lead:12" or "user:7") where it can
    be, and with sample values elsewhere: what the preview and the test email show."""
    from crm.accounts.models import User
    from crm.booking.models import Booking
    from crm.leads.models import Lead

    base = current_app.config["BASE_URL"]
    lead = user = None
    kind, _, raw = (contact or "").partition(":")
    if raw.isdigit():
        if kind == "lead":
            lead = session.get(Lead, int(raw))
            user = session.get(User, lead.user_id) if lead and lead.user_id else None
        elif kind == "user":
            user = session.get(User, int(raw))
    name = (lead.first_name if lead else None) or (user.first_name if user else None) or "Dana"
    ctx: dict[str, Any] = {
        "first_name": name,
        "book_url": f"{base}/book",
        "portal_url": f"{base}/portal",
        "manage_url": f"{base}/booking/manage/preview",
        "start_local": "Tuesday 12 May 2030, 9:00 AM",
        "timezone": "America/Los_Angeles",
        "call_minutes": 20,
        "hours_before": 24,
        "offer_url": f"{base}/offer/preview",
        "step": 0,
        "token": "preview-token",
        "programme_name": "0 to 5K Hero",
        "programme_weeks": 12,
        "days": 3,
        "race_date": "Sunday 4 January",
        "days_to_go": 6,
        "strategy": "Run 1:00, walk 0:30 from the start; finish in about 45 minutes.",
        "raced": True,
        "runner_name": "Dana Runner",
        "kind_label": "Pain over her threshold",
        "reason": "Dana reported pain 6/10 in her weekly check-in (her threshold is 4).",
        "client_url": f"{base}/coach/clients/1",
    }
    if lead is not None:
        booking = session.scalar(
            select(Booking).where(Booking.lead_id == lead.id).order_by(Booking.start_at.desc())
        )
        if booking is not None:
            from tasks.sequences import _booking_context

            ctx.update(_booking_context(booking))
    if template == "weekly_checkin":
        from programs.models import PlanRecord
        from tasks.checkins import checkin_context

        if user is not None:
            plan = session.scalar(
                select(PlanRecord.plan).where(
                    PlanRecord.user_id == user.id, PlanRecord.active.is_(True)
                )
            )
            today = utcnow().date()
            ctx.update(checkin_context(user, plan, today + timedelta(days=(6 - today.weekday()))))
        else:
            ctx.update(week="2030-W01", checkin_url=f"{base}/checkin/preview", sessions=[
                {"day": "Monday 1 Jan", "title": "Run/walk 1:00 / 1:30", "kind": "run_walk"},
                {"day": "Wednesday 3 Jan", "title": "Hip strength", "kind": "strength"},
            ])  # fmt: skip
    if template == "coach_digest":
        from tasks.alerts import coach_timezone, digest_context

        ctx.update(digest_context(session, coach_timezone(session), utcnow()))
    return ctx


def contacts(session: Session, limit: int = 50) -> list[tuple[str, str]]:
    """(value, label) of recent leads and runners, for the preview's contact picker."""
    from crm.accounts.models import Role, User
    from crm.leads.models import Lead

    leads = session.scalars(select(Lead).order_by(Lead.id.desc()).limit(limit)).all()
    runners = session.scalars(
        select(User).where(User.role == Role.RUNNER).order_by(User.id.desc()).limit(limit)
    ).all()
    linked = {lead.user_id for lead in leads if lead.user_id}
    return [(f"lead:{lead.id}", f"{lead.name} <{lead.email}>") for lead in leads] + [
        (f"user:{u.id}", f"{u.display_name} <{u.email}> (runner)")
        for u in runners
        if u.id not in linked
    ]


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
    from tasks.outbox import render_email

    if template not in STEPS:
        raise TemplateRefused({"template": "There is no such email."})
    context = contact_context(session, template, contact)
    draft = None
    if subject is not None or body is not None:
        validate_override(template, subject or "", body or "", None, context)
        draft = EmailTemplateOverride(template=template, subject=subject or "", body=body or "")
    category = STEPS[template].category
    return render_email(template, context, to="preview@example.com", category=category,
                        override=draft or get_override(session, template))  # fmt: skip


def send_test(session: Session, template: str, contact: str | None, coach) -> int:
    """Queue the email, as the contact would get it, to the coach's own address. Commits."""
    from tasks.outbox import queue_email

    if template not in STEPS:
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

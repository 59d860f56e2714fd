"""The coach's own versions of the built-in emails: stored, checked, rendered in a sandbox.

An override (EmailTemplateOverride) replaces a file template's subject and/or body; queue_email
uses it when it exists. Her text is Markdown (or HTML when it starts with a tag) with Jinja
placeholders, rendered in an ImmutableSandboxedEnvironment over plain values only, so it cannot
reach Python objects: `{{ ''.__class__ }}`-style payloads are refused when she saves, and an
override that fails at send time falls back to the file template rather than break the email.
The sandbox also bounds the work: no loop longer than MAX_RANGE, MAX_LOOP_STEPS loop steps in all,
RENDER_SECONDS per render, MAX_OUTPUT characters, only harmless filters and calls, and no macros
or includes; her text that breaks a limit gets a form error, never a 500.
"""

from __future__ import annotations

import html as html_lib
import logging
import operator
import re
import time
from contextvars import ContextVar
from datetime import date
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
from tasks.registry import registry

log = logging.getLogger(__name__)

MAX_BODY = 20_000
MAX_OUTPUT = 200_000


class TemplateRefused(Exception):
    """The coach's text cannot be used; `messages` maps a form field to a sentence."""

    def __init__(self, messages: dict[str, str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages.values()))


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


# Limits of one render of the coach's text: a loop may not be longer than MAX_RANGE, all loops
# together may not step more than MAX_LOOP_STEPS times, and the render stops after RENDER_SECONDS.
MAX_RANGE = 1_000
MAX_LOOP_STEPS = 10_000
RENDER_SECONDS = 0.5
# What her text may call: the bounded range() and a few harmless methods (no padding or
# repetition methods such as str.center or str.ljust that build huge strings).
SAFE_METHODS = frozenset(
    {
        "upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
        "endswith", "split", "get", "items", "keys", "values",
    }
)  # fmt: skip
# Her filters: the common text and list ones, none with a size argument that builds a huge
# value (center, indent, format, wordwrap, replace, batch, slice are left out).
SAFE_FILTERS = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "forceescape", "int", "items", "join", "last", "length", "list", "lower",
        "map", "max", "min", "reject", "rejectattr", "reverse", "round", "safe", "select",
        "selectattr", "sort", "string", "striptags", "sum", "title", "trim", "truncate",
        "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
# Blocks an email has no use for, and with which a short text could grow without bound.
BLOCK_WORDS = {
    nodes.Macro: "macro", nodes.CallBlock: "call", nodes.Import: "import",
    nodes.FromImport: "from … import", nodes.Include: "include", nodes.Extends: "extends",
}  # fmt: skip
REFUSED_NODES = tuple(BLOCK_WORDS)


class _Budget:
    """One render's allowance of loop steps and time."""

    __slots__ = ("deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + RENDER_SECONDS

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_LOOP_STEPS:
            raise SecurityError(f"the loops run more than {MAX_LOOP_STEPS:,} times in all")
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the email takes longer than {RENDER_SECONDS} s to write")


_BUDGET: ContextVar[_Budget | None] = ContextVar("override_render_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:  # a render outside _render still gets limits
        budget = _Budget()
        _BUDGET.set(budget)
    return budget


def _loop_guard(iterable: Any):
    """Wrapped around every `{% for %}`'s iterable by the sandbox's code generation."""
    budget = _budget()
    for item in iterable:
        budget.tick()
        yield item


def _bounded_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"a loop may count to {MAX_RANGE:,} at most")
    return values


class _Sandbox(ImmutableSandboxedEnvironment):
    # No `**`, and no multiplying a string or list into a huge one.
    intercepted_binops = frozenset(["*", "**"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals = {"range": _bounded_range, "dict": dict}
        self.filters = {name: f for name, f in self.filters.items() if name in SAFE_FILTERS}
        self.filters["hero_loop_guard"] = _loop_guard

    def _generate(self, source, name, filename, defer_init=False):
        # Every loop steps through _loop_guard, which counts its steps and watches the clock.
        for loop in source.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "hero_loop_guard", [], [], None, None)
            loop.iter.set_lineno(loop.lineno)
        return super()._generate(source, name, filename, defer_init)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        allowed = __obj in (_bounded_range, dict) or (
            getattr(__obj, "__name__", "") in SAFE_METHODS
            and isinstance(getattr(__obj, "__self__", None), (str, dict))
        )
        if not allowed:
            raise SecurityError(f"calling {getattr(__obj, '__name__', 'that')} is not allowed")
        return super().call(__context, __obj, *args, **kwargs)

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
    """Render within the limits: loop steps, time, and output size (checked as it is written)."""
    token = _BUDGET.set(_Budget())
    try:
        budget, parts, size = _BUDGET.get(), [], 0
        for part in env.from_string(source).generate(context):
            size += len(part)
            if size > MAX_OUTPUT:
                raise SecurityError("the rendered email is too long")
            budget.check_time()
            parts.append(part)
        return "".join(parts)
    except RecursionError as exc:
        raise SecurityError("the email nests too deeply") from exc
    finally:
        _BUDGET.reset(token)


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
    for node in ast.find_all(REFUSED_NODES):
        word = (
            type(node).__name__.lower().replace("callblock", "call").replace("fromimport", "import")
        )
        return f"“{{% {word} %}}” is not allowed in an email."
    for node in ast.find_all(nodes.Filter):
        if node.name not in SAFE_FILTERS:
            return f"The filter “{node.name}” is not allowed in an email."
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
            errors["body"] = f"Refused: {exc}."
        except Exception as exc:  # noqa: BLE001 - any failure of her text is a form error, never a 500
            errors["body"] = f"This doesn't render: {exc}"
    step = registry().step(template)
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
    if registry().step(template) is None:
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

"""Form helpers shared by every feature package, and the bounds every input is held to.

Bounds live here, in the kernel, so the URL converters (`crm.web`), the WTForms forms and the
marshmallow schemas refuse the same values with the same words: a far date or a huge id is the
visitor's mistake (a 4xx naming the field), never an overflow deep in a service (a 500).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import wtforms
from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from marshmallow import fields as ma_fields
from marshmallow import validate as ma_validate
from wtforms import SelectChoice

# Row ids are PostgreSQL `integer` columns: anything larger cannot name a row (and would make the
# database raise "integer out of range").
ID_MAX = 2**31 - 1
# Dates a person can mean: far enough either way for birthdays, race dates and plan starts, and
# far from date.min/date.max, where a week's arithmetic overflows.
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2199, 12, 31)
DATE_RANGE_MESSAGE = f"Pick a date between {DATE_MIN.year} and {DATE_MAX.year}."


def choices(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """`(value, label)` pairs as the `SelectChoice` list a Select/Radio field takes.

    WTForms 3.3 deprecates tuple choices (gone in 3.4). Values stay as given: with
    `coerce=int` an int value still matches, as WTForms compares `coerce(value) == data`.
    """
    return [SelectChoice(value, label) for value, label in pairs]


def blank_form(form_class: type[FlaskForm], **data: Any) -> SimpleNamespace:
    """What a page's GET reads of a form it shows blank or pre-filled, without building it.

    Each field is a plain object with the bound field's `name`, `id`, `label`, `choices`,
    `flags` and `description`, the given `data` (else None) and no `errors`; `csrf_token`, when
    CSRF is on, carries this session's `current_token`. Binding a FlaskForm's fields costs
    ~0.1 ms a form, on every request; their shape is read once per process and class. Only for
    templates that read those attributes (not for `{{ form.field() }}` widgets); the POST still
    validates with the form itself, and a refused POST re-renders the real form."""
    shape = _shapes.get(form_class)
    if shape is None:
        form = form_class(formdata=None, meta={"csrf": False})
        shape = _shapes[form_class] = {
            field.name: {
                "name": field.name,
                "id": field.id,
                "label": field.label,
                "choices": getattr(field, "choices", None),
                "flags": field.flags,
                "description": field.description,
            }
            for field in form
        }
    fields = {
        name: SimpleNamespace(**meta, data=data.get(name), errors=())
        for name, meta in shape.items()
    }
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        fields["csrf_token"] = SimpleNamespace(
            name="csrf_token", id="csrf_token", current_token=generate_csrf(), errors=()
        )
    return SimpleNamespace(**fields)


_shapes: dict[type, dict[str, dict[str, Any]]] = {}


def normalise_email(email: str) -> str:
    """An address as Hero stores and compares it: trimmed and lower-cased."""
    return email.strip().lower()


def safe_next(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default`: every `next=` goes through here,
    since an absolute, scheme-relative or backslashed URL would be an open redirect. Browsers
    drop tabs and newlines from a URL (a slash, a tab, then "/evil.com" is "//evil.com" to them),
    so a target with any control character or space is refused too."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


def unstorable_text(value: str) -> str | None:
    """Why `value` cannot be stored as text (a NUL, a lone surrogate), or None when it can.

    PostgreSQL text holds no NUL, and a lone surrogate (JSON `"\\ud800"`) has no UTF-8 form:
    either would fail as a 500 at the insert, or later when the page or email is encoded."""
    if "\x00" in value:
        return "contains a character that is not allowed (NUL)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def bounded_id(raw: str) -> int:
    """A query string's id or page number: 0 to ID_MAX, else ValueError (as `int` would), so
    `request.args.get("before", type=bounded_id)` falls back to its default."""
    value = int(raw) if raw.isdigit() and len(raw) <= len(str(ID_MAX)) else -1
    if not 0 <= value <= ID_MAX:
        raise ValueError(f"not an id: {raw[:20]!r}")
    return value


def in_date_range(day: date) -> bool:
    return DATE_MIN <= day <= DATE_MAX


def parse_day(raw: str | None) -> date | None:
    """An ISO date (YYYY-MM-DD) from a query string within Hero's date range, else None."""
    try:
        day = date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return day if in_date_range(day) else None


class DateField(wtforms.DateField):
    """WTForms' DateField, refusing dates outside DATE_MIN..DATE_MAX with a field error."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not in_date_range(self.data):
            self.data = None
            raise ValueError(DATE_RANGE_MESSAGE)


def _bounded(kwargs: dict[str, Any], low: Any, high: Any) -> dict[str, Any]:
    """A marshmallow field's keywords with the date range put first among its validators."""
    given = kwargs.pop("validate", None)
    extra = [given] if callable(given) else list(given or [])
    bounds = ma_validate.Range(min=low, max=high, error=DATE_RANGE_MESSAGE)
    return {**kwargs, "validate": [bounds, *extra]}


class ApiDate(ma_fields.Date):
    """marshmallow's Date, refusing dates outside DATE_MIN..DATE_MAX with a field error."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_bounded(kwargs, DATE_MIN, DATE_MAX))


class ApiAwareDateTime(ma_fields.AwareDateTime):
    """marshmallow's AwareDateTime, refusing moments outside Hero's date range."""

    def __init__(self, **kwargs: Any) -> None:
        first = datetime.combine(DATE_MIN, time(), tzinfo=UTC)
        last = datetime.combine(DATE_MAX, time(), tzinfo=UTC)
        super().__init__(**_bounded(kwargs, first, last))

"""The edge of every request: what a URL or a body may hold before any view sees it.

- `<int:…>` is a row id (1 to `ID_MAX` digits' worth): a longer number is no such page (404),
  not a database overflow; `<date:…>` is an ISO date in Hero's range, else 404.
- A JSON body is at most `JSON_MAX_BYTES` and `JSON_MAX_DEPTH` levels deep, and every string in
  it (keys too) can be stored; query strings and forms hold no NUL. Anything else is a 400 that
  names the field, before a view, a schema or a service runs.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.routing import BaseConverter, IntegerConverter, Map, ValidationError

from crm.forms import ID_MAX, parse_day, unstorable_text

JSON_MAX_BYTES = 1024 * 1024
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
JSON_MAX_DEPTH = 32


class IdConverter(IntegerConverter):
    """Werkzeug's `int`, bounded by the largest id a row can have."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int = ID_MAX):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(self.max)):  # int() of 5,000 digits would itself raise
            raise ValidationError()
        return super().to_python(value)


class DateConverter(BaseConverter):
    """`<date:day>`: YYYY-MM-DD within Hero's date range, given to the view as a `date`."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        day = parse_day(value)
        if day is None:
            raise ValidationError()
        return day

    def to_url(self, value: date | str) -> str:
        return value.isoformat() if isinstance(value, date) else str(value)


def refuse(field: str, message: str) -> BadRequest:
    """A 400 naming the field, shaped like the API schemas' own field errors."""
    error = BadRequest(f"{field}: {message}" if field else message)
    error.data = {"message": error.description, "errors": {"json": {field or "_body": [message]}}}
    return error


def _check_json(value: Any) -> None:
    """Walk a parsed body without recursion: depth, then each string's storability."""
    stack: list[tuple[str, Any, int]] = [("", value, 1)]
    while stack:
        path, node, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            raise refuse("", f"The JSON body is nested deeper than {JSON_MAX_DEPTH} levels.")
        if isinstance(node, dict):
            for key, child in node.items():
                where = f"{path}.{key}" if path else key
                if reason := unstorable_text(key):
                    raise refuse(path or "_body", f"A key {reason}.")
                stack.append((where, child, depth + 1))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", child, depth + 1) for i, child in enumerate(node))
        elif isinstance(node, str) and (reason := unstorable_text(node)):
            raise refuse(path, f"This text {reason}.")


def check_request_body() -> None:
    """Refuse a query, form or JSON body that no view could handle safely (see the module)."""
    # A JSON body has no form (werkzeug would still set one up): only a form's types are read.
    for values in (request.args, *([request.form] if request.mimetype in _FORM_TYPES else ())):
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise refuse(name.replace("\x00", ""), "The request contains a NUL character.")
    if not request.is_json:
        return
    if (request.content_length or 0) > JSON_MAX_BYTES:
        raise RequestEntityTooLarge(f"A JSON body may be at most {JSON_MAX_BYTES} bytes.")
    data = request.get_data(cache=True)
    if len(data) > JSON_MAX_BYTES:
        raise RequestEntityTooLarge(f"A JSON body may be at most {JSON_MAX_BYTES} bytes.")
    try:
        value = json.loads(data)
    except RecursionError:
        raise refuse("", f"The JSON body is nested deeper than {JSON_MAX_DEPTH} levels.") from None
    except ValueError:
        return  # not JSON at all: the view's parser answers its own 400
    _check_json(value)


def init_app(app: Flask) -> None:
    """Install the converters (before any blueprint adds its rules) and the body checks."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["date"] = DateConverter
    app.before_request(check_request_body)

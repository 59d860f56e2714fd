"""Every route in the URL map, given extreme values, as anonymous, runner and coach: never a 5xx.

The walk reads the URL map and the pages themselves, so a route, a query parameter or a form
field added tomorrow is walked with no edit here:
- each path parameter in turn takes each extreme value (the others stay valid);
- each query parameter a view reads (learnt by recording what it looks up on a plain GET) takes
  each extreme value in turn;
- each form found on any page (with its own values, or plausible ones for empty fields) is posted
  with one field at a time set to each extreme value, so the other fields stay valid and the
  request gets past validation to the service;
- every route that takes a body gets every field it reads set to each extreme value at once, as
  a form and as JSON, JSON too deep, and a lone surrogate in each documented JSON field.
A door that is shut (login, role) is knocked on once: nothing behind it reads the request.
CSRF is off in the suite's config (tests/security/test_csrf.py proves it is on in production), and
rate limits are off here (they have their own tests).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from urllib.parse import quote, urlencode, urlsplit

import pytest
from flask import Flask, Request, g
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import Rule

from crm.accounts.models import User
from extensions import api, db, limiter
from tests.conftest import sign_in
from tests.security.conftest import World, methods_of, walkable_rules

# Each value is a str; "\ud800" (a lone surrogate) is sent as the bytes a careless client would
# send (ED A0 80, via "surrogatepass") in URLs and forms, and as the JSON escape in JSON.
EXTREMES = {
    "huge": "99999999999999999999",
    "past-int32": "2147483648",
    "negative": "-1",
    "float": "1e309",
    "far-date": "9999-12-31",
    "first-date": "0001-01-01",
    "far-moment": "9999-12-31T23:59:59-12:00",
    "long": "x" * 20_000,
    "surrogate": "a\ud800b",
    "nul": "a\x00b",
    "unicode": "Zoë 🏃‍♀️ \u202eRTL\u202c 日本 \ufffd",
}
# One at a time (a query parameter, a form field), the values a view parses: a lone surrogate
# in a URL or form decodes to U+FFFD ("unicode" holds one), and a NUL is refused before any view
# (tests/security/test_nul.py), so both are tried in the bodies sent whole, not field by field.
FIELD_EXTREMES = {k: v for k, v in EXTREMES.items() if k not in {"surrogate", "nul"}}
PATH_EXTREMES = {k: v for k, v in FIELD_EXTREMES.items() if k != "float"}
ROLES = ("anonymous", "runner", "coach")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _raw(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _q(value: str) -> str:
    return quote(_raw(value), safe="")


class Recording(ImmutableMultiDict):
    """Query and form storage that remembers every name a view looked up."""

    looked_up: set[str] = set()

    def __getitem__(self, key):
        Recording.looked_up.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
        Recording.looked_up.add(key)
        return super().get(key, default=default, type=type)

    def getlist(self, key, type=None):  # noqa: A002
        Recording.looked_up.add(key)
        return super().getlist(key, type=type)

    def __contains__(self, key):
        Recording.looked_up.add(key)
        return super().__contains__(key)


class RecordingRequest(Request):
    parameter_storage_class = Recording


@dataclass
class WalkForm:
    role: str
    action: str
    values: dict[str, str] = field(default_factory=dict)  # name -> a value that should pass


class FormValues(HTMLParser):
    """POST forms on a page, each with a plausible value for every named field."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._form: dict[str, str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._form = {}
            self.forms.append((a.get("action", ""), self._form))
        elif self._form is None or not a.get("name"):
            if tag == "option" and self._form is not None and self._select:
                self._option(a)
            return
        elif tag == "input":
            kind = a.get("type", "text").lower()
            if kind in {"submit", "button", "file", "image", "reset"}:
                return
            if kind in {"checkbox", "radio"} and a["name"] in self._form:
                if "checked" in a:
                    self._form[a["name"]] = a.get("value", "on")
                return
            self._form[a["name"]] = a.get("value") or plausible(kind, a)
        elif tag == "textarea":
            self._form.setdefault(a["name"], "A few words for the walk.")
        elif tag == "select":
            self._select = a["name"]
            self._form.setdefault(a["name"], "")

    def _option(self, a: dict[str, str]) -> None:
        assert self._form is not None and self._select is not None
        value = a.get("value", "")
        if value and (not self._form.get(self._select) or "selected" in a):
            self._form[self._select] = value

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def plausible(kind: str, attrs: dict[str, str]) -> str:
    tomorrow = date.today() + timedelta(days=1)
    return {
        "email": "walker@example.com",
        "date": tomorrow.isoformat(),
        "number": attrs.get("min") or "1",
        "range": attrs.get("min") or "1",
        "time": "09:00",
        "datetime-local": f"{tomorrow.isoformat()}T09:00",
        "tel": "+1 555 0100",
        "password": "correct horse battery staple",
        "url": "https://example.com/",
        "checkbox": "y",
    }.get(kind, "Walk test")


class Walker:
    def __init__(self, app: Flask, world: World) -> None:
        self.app = app
        self.world = world
        self.users = {"anonymous": None, "runner": world.runner_a.id, "coach": world.coach.id}
        self.problems: list[str] = []
        self.requests = 0
        self.inside = 0  # coach and runner pages whose door opened (the sign-in worked)

    def client(self, role: str):
        g.pop("_login_user", None)
        client = self.app.test_client()
        if self.users[role] is not None:  # a sign-in of its own: a walked /logout ends only it
            sign_in(client, db.session.get(User, self.users[role]))
        return client

    def send(self, role: str, method: str, url: str, what: str, **kw):
        Recording.looked_up = set()
        response = self.client(role).open(url, method=method, **kw)
        self.requests += 1
        if response.status_code >= 500:
            shown = url if len(url) < 200 else url[:200] + "…"
            self.problems.append(f"{response.status_code}: {role} {method} {shown} [{what}]")
        return response

    def valid_args(self, rule: Rule) -> dict[str, str]:
        return {
            name: str(
                self.world._token_for(rule.endpoint)
                if name == "token"
                else self.world.params.get(name, 1)
            )
            for name in rule.arguments
        }

    @staticmethod
    def fill(rule: Rule, values: dict[str, str]) -> str:
        """The rule's path with `values` inserted as they are (already quoted)."""
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule)

    def walk_rule(self, rule: Rule, role: str) -> None:
        valid = {k: quote(v, safe="") for k, v in self.valid_args(rule).items()}
        url = self.fill(rule, valid)
        for method in methods_of(rule):
            if method == "GET":
                baseline = self.send(role, method, url, "baseline")
            else:
                baseline = self.send(role, method, url, "empty form", data={"_walk": "1"})
            names = sorted(Recording.looked_up - {"_walk"})
            if baseline.status_code in {401, 403} or "/login" in baseline.headers.get(
                "Location", ""
            ):
                continue  # the door is shut: nothing past it reads the request
            self.inside += rule.rule.startswith(("/coach", "/portal"))
            for name in rule.arguments:  # each path parameter in turn
                for kind, value in PATH_EXTREMES.items():
                    wrong = self.fill(rule, {**valid, name: _q(value)})
                    self.send(role, method, wrong, f"path {name}={kind}")
            if method == "GET":
                for name in names:  # each query parameter the view reads, in turn
                    for kind, value in FIELD_EXTREMES.items():
                        self.send(role, method, f"{url}?{quote(name)}={_q(value)}",
                                  f"query {name}={kind}")  # fmt: skip
            else:
                self.walk_body(role, method, url, json_fields(self.app, rule, method), names)

    def walk_body(self, role: str, method: str, url: str, documented: list[str],
                  names: list[str]) -> None:  # fmt: skip
        """Every field at once as a form, and as JSON: each extreme value, too deep, and a lone
        surrogate in each documented field."""
        names = names or ["name"]
        for kind, value in EXTREMES.items():
            body = urlencode([(n, _raw(value)) for n in names]).encode()
            self.send(role, method, url, f"form all={kind}", data=body, content_type=FORM)
        deep = "[" * 5000 + "]" * 5000
        self.send(role, method, url, "json deep", data=deep, content_type=JSON)
        for name in documented:
            body = json.dumps({name: "a\ud800b"})
            self.send(role, method, url, f"json {name}=surrogate", data=body, content_type=JSON)
        for kind, value in EXTREMES.items() if documented else ():
            body = json.dumps({n: value for n in documented})
            self.send(role, method, url, f"json all={kind}", data=body, content_type=JSON)

    def crawl_forms(self) -> list[WalkForm]:
        forms: dict[str, WalkForm] = {}
        for role in ROLES:
            for rule in walkable_rules(self.app):
                if "GET" not in rule.methods or rule.rule.startswith("/api/"):
                    continue
                url = self.fill(rule, {k: quote(v) for k, v in self.valid_args(rule).items()})
                response = self.client(role).get(url)
                if response.status_code != 200 or "html" not in response.content_type:
                    continue
                parser = FormValues()
                parser.feed(response.get_data(as_text=True))
                for action, values in parser.forms:
                    target = urlsplit(action).path or urlsplit(url).path
                    if target.startswith(("/logout", "/api/")):
                        continue
                    # One role per form: the first that sees it (a public form behaves alike).
                    if forms.setdefault(target, WalkForm(role, target)).role == role:
                        forms[target].values.update(values)
        return sorted(forms.values(), key=lambda f: (f.role, f.action))

    def walk_form(self, form: WalkForm) -> None:
        walked: set[str] = set()
        for name in form.values:
            shape = re.sub(r"-\d+-", "-0-", name)  # a FieldList's rows are alike: walk one
            if name == "csrf_token" or shape in walked:
                continue
            walked.add(shape)
            for kind, value in FIELD_EXTREMES.items():
                values = {**form.values, name: value}
                body = urlencode([(n, _raw(v)) for n, v in values.items()]).encode()
                self.send(form.role, "POST", form.action, f"form {name}={kind}", data=body,
                          content_type=FORM)  # fmt: skip


_JSON_FIELDS: dict[tuple[str, str], list[str]] = {}


def json_fields(app: Flask, rule: Rule, method: str) -> list[str]:
    """The request body's documented fields, for API routes (from the OpenAPI document)."""
    if not rule.rule.startswith("/api/"):
        return []
    if not _JSON_FIELDS:
        spec = api.spec.to_dict()
        schemas = spec.get("components", {}).get("schemas", {})
        for path, operations in spec["paths"].items():
            for verb, op in operations.items():
                if not isinstance(op, dict):
                    continue  # path-level "parameters"
                body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
                schema = body.get("schema", {})
                if "$ref" in schema:
                    schema = schemas.get(schema["$ref"].rsplit("/", 1)[1], {})
                _JSON_FIELDS[(path, verb.upper())] = sorted(schema.get("properties", {}))
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
    return _JSON_FIELDS.get((path, method), [])


@pytest.fixture
def walker(app_ctx, world):
    limiter.enabled = False
    original = app_ctx.request_class
    app_ctx.request_class = RecordingRequest
    yield Walker(app_ctx, world)
    app_ctx.request_class = original
    limiter.enabled = True


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_5xx_to_extreme_urls_and_bodies(walker, role):
    for rule in walkable_rules(walker.app):
        walker.walk_rule(rule, role)
    assert walker.requests > 500
    assert walker.inside > {"anonymous": 0, "runner": 10, "coach": 50}[role], walker.inside
    assert not walker.problems, "\n".join(sorted(set(walker.problems)))


def test_no_form_answers_5xx_to_one_extreme_field(walker):
    forms = walker.crawl_forms()
    assert len(forms) >= 15, [f.action for f in forms]
    for form in forms:
        walker.walk_form(form)
    assert not walker.problems, "\n".join(sorted(set(walker.problems)))

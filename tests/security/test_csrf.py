"""CSRF: every state-changing HTML form refuses a POST without a valid token.

Walks the URL map: every POST/PUT/PATCH/DELETE rule must answer 400 without a token, except the
endpoints listed in CSRF_EXEMPT — each one authenticated some other way (a bearer token or a
JSON-only API, Stripe's signature, the signed one-click unsubscribe URLs of RFC 8058: marketing
and a client's check-ins).
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import sign_in
from tests.security.conftest import methods_of, walkable_rules

CSRF_EXEMPT_PREFIXES = ("/api/",)
CSRF_EXEMPT_ENDPOINTS = {
    "stripe_webhooks.stripe_webhook",
    "outbox.unsubscribe",
    "coaching.coaching_off",
}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def row_counts() -> dict[str, int]:
    """Rows per table, but for the sign-ins the walk itself opens."""
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
        if table.name != "login_sessions"
    }


@pytest.fixture
def csrf_on(app_ctx):
    app_ctx.config["WTF_CSRF_ENABLED"] = True
    yield
    app_ctx.config["WTF_CSRF_ENABLED"] = False


def exempt(rule) -> bool:
    return rule.rule.startswith(CSRF_EXEMPT_PREFIXES) or rule.endpoint in CSRF_EXEMPT_ENDPOINTS


@pytest.mark.parametrize("who", ["anonymous", "coach", "runner_a"])
def test_every_state_changing_form_needs_a_csrf_token(app_ctx, world, csrf_on, who):
    users = {"coach": world.coach, "runner_a": world.runner_a, "anonymous": None}
    before = row_counts()
    problems = []
    checked = 0
    for rule in walkable_rules(app_ctx):
        for method in sorted(set(methods_of(rule)) & STATE_CHANGING):
            if exempt(rule):
                continue
            client = app_ctx.test_client()
            if users[who] is not None:
                sign_in(client, users[who])
            client.get("/")  # a session with a CSRF secret, as a real browser has
            url = world.url_for_rule(rule)
            response = client.open(url, method=method, data={"csrf_token": "forged"})
            checked += 1
            body = response.get_data(as_text=True)
            if response.status_code != 400 or "CSRF" not in body:
                problems.append(f"{method} {url} ({rule.endpoint}) -> {response.status_code}")
    assert checked > 20
    assert not problems, "no CSRF check:\n" + "\n".join(problems)
    assert row_counts() == before


def test_the_exempt_list_holds_only_token_signed_or_api_endpoints(app_ctx):
    csrf = app_ctx.extensions["csrf"]
    exempt_blueprints = {getattr(bp, "name", bp) for bp in csrf._exempt_blueprints}  # noqa: SLF001
    seen = set()
    for rule in walkable_rules(app_ctx):
        if not set(methods_of(rule)) & STATE_CHANGING:
            continue
        view = app_ctx.view_functions[rule.endpoint]
        name = f"{view.__module__}.{view.__name__}"
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        really_exempt = name in csrf._exempt_views or blueprint in exempt_blueprints  # noqa: SLF001
        if really_exempt:
            seen.add(rule.endpoint)
            assert exempt(rule), f"{rule.endpoint} is CSRF-exempt but not on the allowed list"
    # The check sees the real exemptions (so it cannot pass by reading the wrong attribute).
    assert {"stripe_webhooks.stripe_webhook", "outbox.unsubscribe"} <= seen


def test_a_form_with_its_token_is_accepted(app_ctx, csrf_on, make_user):
    user = make_user(role="coach", email="tok@example.com")
    client = app_ctx.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    token = token or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert token, "the login form renders a CSRF token"
    response = client.post(
        "/login",
        data={"email": user.email, "password": "correct horse battery", "csrf_token": token[1]},
    )
    assert response.status_code == 302

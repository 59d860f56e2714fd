"""Every route, walked as anonymous, runner A, runner B's neighbour and the coach.

The walk reads the URL map, so a route added tomorrow is covered by these tests with no edit:
- a coach page or API answers anonymous visitors with the login page (401 JSON under /api/) and
  runners with 403;
- a runner page or API answers anonymous visitors the same way and the coach with 403;
- nothing answers 500, whoever asks and whatever (empty) body a POST carries;
- runner A never sees runner B's name, notes or logs, whatever URL she tries (IDOR).
"""

from __future__ import annotations

import pytest
from flask import Flask, g
from werkzeug.routing import Rule

from tests.conftest import sign_in
from tests.security.conftest import B_NAME, B_NOTE, World, methods_of, walkable_rules

# Who may use a route, by where it lives. Anything not listed is public.
COACH_PREFIXES = ("/coach", "/api/v1/leads", "/api/v1/plans/")
RUNNER_PREFIXES = ("/portal", "/api/v1/me/")
# Capability URLs: the secret in the path is the key (calendar apps cannot log in).
CAPABILITY_ENDPOINTS = {"portal.calendar"}
# Authenticated by a bearer token, whatever the role.
BEARER_ENDPOINTS = {("auth_api.revoke_token", "DELETE")}


def policy(rule: Rule, method: str) -> str:
    if (rule.endpoint, method) in BEARER_ENDPOINTS:
        return "bearer"
    if rule.endpoint in CAPABILITY_ENDPOINTS:
        return "public"
    if rule.rule.startswith(COACH_PREFIXES):
        return "coach"
    if rule.rule.startswith(RUNNER_PREFIXES):
        return "runner"
    return "public"


def send(client, method: str, url: str):
    if url.startswith("/api/"):
        return client.open(url, method=method, json={} if method != "GET" else None)
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={})


def walk(app: Flask, world: World, who: str) -> list[str]:
    """Request every route as `who`; return the list of rule violations."""
    users = {"coach": world.coach, "runner_a": world.runner_a, "anonymous": None}
    problems: list[str] = []
    for rule in walkable_rules(app):
        for method in methods_of(rule):
            # A fresh client per request: a POST to /logout or /login changes the session. The
            # test's app context is shared by every request, and Flask-Login caches the user
            # in `g`: forget it, or a logout would stick to every later request.
            g.pop("_login_user", None)
            client = app.test_client()
            if users[who] is not None:
                sign_in(client, users[who])
            url = world.url_for_rule(rule)
            response = send(client, method, url)
            status = response.status_code
            where = f"{who} {method} {url} ({rule.endpoint}) -> {status}"
            if status in {301, 302, 303}:
                where += f" {response.headers.get('Location')}"
            if status >= 500:
                problems.append(f"server error: {where}")
                continue
            needs = policy(rule, method)
            is_api = url.startswith("/api/")
            if who == "anonymous" and needs in {"coach", "runner", "bearer"}:
                if is_api:
                    if status != 401 or not response.is_json:
                        problems.append(f"API must answer 401 JSON: {where}")
                elif status != 302 or "/login" not in response.headers.get("Location", ""):
                    problems.append(f"must redirect to the login page: {where}")
            elif who == "runner_a" and needs == "coach":
                if status != 403:
                    problems.append(f"runner reached a coach route: {where}")
            elif who == "coach" and needs == "runner":
                if status != 403:
                    problems.append(f"coach reached a runner-only route: {where}")
            elif (
                who in {"coach", "runner_a"}
                and needs == who[:6].rstrip("_")
                and status in {401, 403}
            ):
                problems.append(f"refused its own role: {where}")
            if is_api and status >= 400 and not response.is_json:
                problems.append(f"API error is not JSON: {where}")
            if who == "runner_a" and rule.endpoint not in CAPABILITY_ENDPOINTS:
                body = response.get_data().decode(errors="replace")  # the favicon is binary
                if B_NAME in body or B_NOTE in body:
                    problems.append(f"runner A saw runner B's data: {where}")
    return problems


@pytest.mark.parametrize("who", ["anonymous", "runner_a", "coach"])
def test_every_route_enforces_its_role_and_never_fails(app_ctx, world, who):
    problems = walk(app_ctx, world, who)
    assert not problems, "\n".join(problems)


def test_every_coach_and_runner_view_declares_its_role(app_ctx):
    """Belt and braces: the decorator is on every protected view, not only a blueprint hook."""
    missing = []
    for rule in walkable_rules(app_ctx):
        view = app_ctx.view_functions[rule.endpoint]
        for method in methods_of(rule):
            needs = policy(rule, method)
            if needs in {"coach", "runner"}:
                role = getattr(view, "required_role", None)
                if role is None or role.value != needs:
                    missing.append(f"{method} {rule.rule} ({rule.endpoint}): {role!r}")
    assert not missing, "\n".join(missing)


def test_walk_covers_every_route(app_ctx, world):
    """The world has a value for every URL parameter, so no route is silently left out."""
    for rule in walkable_rules(app_ctx):
        assert world.url_for_rule(rule).startswith("/")


def test_a_runner_cannot_read_another_runners_calendar_feed(client, auth, world):
    auth.login(world.runner_a)
    own = client.get(f"/portal/calendar/{world.calendar_a}.ics")
    assert own.status_code == 200
    assert own.mimetype == "text/calendar"
    for guess in (world.calendar_b[:-1] + ("A" if world.calendar_b[-1] != "A" else "B"), "1", ""):
        assert client.get(f"/portal/calendar/{guess}.ics").status_code == 404


def test_a_runners_api_answers_only_about_her(client, auth, world):
    auth.login(world.runner_a)
    response = client.get("/api/v1/me/plan")
    assert response.status_code == 200
    assert B_NAME not in response.get_data(as_text=True)
    # Her log cannot be written as runner B by naming B's id anywhere in the body.
    response = client.post(
        "/api/v1/me/logs",
        json={"user_id": world.runner_b.id, "session_date": "2030-01-01", "status": "done"},
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code == 422
    assert response.is_json

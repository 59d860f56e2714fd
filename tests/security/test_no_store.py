"""Coach pages, runner pages and CSV exports are sent with `Cache-Control: no-store`: a shared
computer's browser, or a proxy, must not keep a copy of a client's health or a lead's details.

Walks the URL map: every GET of the coach's side (/coach…, the coach's API), of the runner's side
(/portal…, /api/v1/me…, /community…) and of the account pages, as its own role.
"""

from __future__ import annotations

from flask import g

from tests.conftest import sign_in
from tests.security.conftest import methods_of, walkable_rules

COACH_PREFIXES = ("/coach", "/api/v1/leads", "/api/v1/plans/")
RUNNER_PREFIXES = ("/portal", "/api/v1/me/", "/community", "/account")
# The feed is fetched by calendar apps at a secret URL (no login, no cookie); a member's photo is
# kept by her own browser only ("private"), never by a shared cache.
CACHED_PRIVATELY = {"portal.calendar", "community.photo"}


def test_every_private_page_and_export_says_no_store(app_ctx, world):
    problems, seen = [], set()
    for rule in walkable_rules(app_ctx):
        if "GET" not in methods_of(rule) or rule.endpoint in CACHED_PRIVATELY:
            continue
        if rule.rule.startswith(COACH_PREFIXES):
            user = world.coach
        elif rule.rule.startswith(RUNNER_PREFIXES):
            user = world.runner_a
        else:
            continue
        g.pop("_login_user", None)
        client = app_ctx.test_client()
        sign_in(client, user)
        url = world.url_for_rule(rule)
        response = client.get(url)
        seen.add(rule.rule)
        if response.status_code >= 500:
            problems.append(f"{url} -> {response.status_code}")
        elif "no-store" not in response.headers.get("Cache-Control", ""):
            problems.append(f"{url} ({rule.endpoint}) -> {response.headers.get('Cache-Control')}")
    assert any(r.endswith(".csv") for r in seen), "the walk reaches the CSV exports"
    assert {"/coach", "/portal", "/community", "/api/v1/me/plan", "/account"} <= seen
    assert not problems, "\n".join(problems)


def test_public_pages_are_left_to_their_own_caching(client):
    # Not this check's business: the landing page does not get no-store from it.
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")

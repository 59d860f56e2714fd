"""No open redirect: every `next=` goes through crm.forms.safe_next.

Walks the URL map as anonymous, runner and coach, sending hostile `next` values in the query and
in the form; no answer may send the browser to another site.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import g

from crm.forms import safe_next
from tests.conftest import sign_in
from tests.security.conftest import methods_of, walkable_rules

HOSTILE = [
    "//evil.com",
    "/\\evil.com",
    "\\/evil.com",
    "https:evil.com",
    "https://evil.com/",
    "http:/evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    " //evil.com",
    "javascript:alert(1)",
    "//evil.com/%2F..",
    "/%09/evil.com",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses_every_way_off_the_site(target):
    assert safe_next(target, "/home") in {"/home", "/%09/evil.com"}
    # Whatever it returns, a browser resolves it on this site.
    result = safe_next(target, "/home")
    assert result.startswith("/") and not result.startswith("//") and "\\" not in result


@pytest.mark.parametrize("target", ["/coach/leads?stage=new", "/portal/day/2030-01-01#log"])
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target, "/home") == target


def leaves_the_site(location: str) -> bool:
    if not location:
        return False
    if any(ch in location for ch in "\\\t\n\r") or location.lstrip().startswith("//"):
        return True
    parts = urlsplit(location)
    return bool(parts.scheme or parts.netloc) and parts.netloc != "localhost"


@pytest.mark.parametrize("who", ["anonymous", "runner_a", "coach"])
def test_no_route_redirects_to_another_site(app_ctx, world, who):
    users = {"coach": world.coach, "runner_a": world.runner_a, "anonymous": None}
    problems = []
    for rule in walkable_rules(app_ctx):
        for method in methods_of(rule):
            if rule.rule.startswith("/api/"):
                continue  # JSON answers; nothing there reads next=
            for in_query, in_form in (("//evil.com", "/\\evil.com"), ("https:evil.com",) * 2):
                g.pop("_login_user", None)
                client = app_ctx.test_client()
                if users[who] is not None:
                    sign_in(client, users[who])
                url = world.url_for_rule(rule)
                sep = "&" if "?" in url else "?"
                response = client.open(
                    f"{url}{sep}next={in_query}",
                    method=method,
                    data={"next": in_form} if method != "GET" else None,
                )
                response.close()  # a streamed export holds its request context until closed
                location = response.headers.get("Location", "")
                target = f"{in_query} / {in_form}"
                if response.status_code in {301, 302, 303, 307, 308} and leaves_the_site(location):
                    problems.append(f"{who} {method} {url} next={target!r} -> {location}")
    assert not problems, "\n".join(problems)


def test_login_after_a_hostile_next_lands_at_home(client, coach):
    from extensions import limiter

    limiter.reset()  # more logins than the per-minute limit allows
    for n, target in enumerate(HOSTILE):
        if n % 8 == 7:
            limiter.reset()
        response = client.post(
            "/login",
            query_string={"next": target},
            data={"email": coach.email, "password": "correct horse battery"},
        )
        assert response.status_code == 302
        assert not leaves_the_site(response.headers["Location"]), target
        client.post("/logout")


def test_next_is_read_only_through_safe_next():
    """Every place that reads a `next` value hands it to safe_next (or to a template whose form
    posts it back to a view that does)."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("crm", "programs", "tasks"):
        for path in (root / package).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                reads = 'get("next"' in line or "next.data" in line
                if reads and "safe_next(" not in line and "next=request.args" not in line:
                    offenders.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)

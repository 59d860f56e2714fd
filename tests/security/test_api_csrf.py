"""Every JSON write under /api/ made with a session cookie needs the CSRF header.

Walks the URL map: each POST/PUT/PATCH/DELETE route under /api/ is sent, with the coach's or a
runner's session cookie and a body, without `X-CSRFToken`; each must answer 400 and change
nothing. With the header, or with a bearer token instead of the cookie, the write goes through.
"""

from __future__ import annotations

import re

import pytest

from crm.accounts import services
from crm.leads.models import Lead, Stage
from extensions import db
from tests.conftest import sign_in
from tests.security.conftest import methods_of, walkable_rules
from tests.security.test_csrf import STATE_CHANGING, row_counts


@pytest.fixture
def csrf_on(app_ctx):
    app_ctx.config["WTF_CSRF_ENABLED"] = True
    yield
    app_ctx.config["WTF_CSRF_ENABLED"] = False


def csrf_token_of(client) -> str:
    page = client.get("/account").get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    found = found or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
    assert found, "the account page renders a CSRF token"
    return found[1]


@pytest.mark.parametrize("who", ["coach", "runner_a"])
def test_every_cookie_authenticated_api_write_needs_the_csrf_header(app_ctx, world, csrf_on, who):
    user = {"coach": world.coach, "runner_a": world.runner_a}[who]
    before = row_counts()
    problems, checked = [], []
    for rule in walkable_rules(app_ctx):
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(set(methods_of(rule)) & STATE_CHANGING):
            client = app_ctx.test_client()
            sign_in(client, user)
            client.get("/")  # a session with a CSRF secret, as a real browser has
            url = world.url_for_rule(rule)
            response = client.open(url, method=method, json={"stage": "lost"})
            checked.append(rule.endpoint)
            if response.status_code != 400 or "CSRF" not in response.get_data(as_text=True):
                problems.append(f"{method} {url} ({rule.endpoint}) -> {response.status_code}")
    assert "leads_api.patch_lead" in checked and "programs_api.create_log" in checked
    assert not problems, "cookie write without the CSRF header:\n" + "\n".join(problems)
    assert row_counts() == before


def test_the_lead_patch_goes_through_with_the_header_or_a_bearer_token(
    app_ctx, world, csrf_on, make_lead
):
    lead = make_lead(name="Nina New", stage=Stage.NEW)
    browser = app_ctx.test_client()
    sign_in(browser, world.coach)
    token = csrf_token_of(browser)
    response = browser.patch(
        f"/api/v1/leads/{lead.id}",
        json={"stage": "lost", "lost_reason": "Not now"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.get_json()
    bearer = services.issue_api_token(db.session, world.coach, "Script")
    script = app_ctx.test_client()
    response = script.patch(
        f"/api/v1/leads/{lead.id}",
        json={"stage": "new"},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert response.status_code in {200, 422}, response.get_json()  # no CSRF refusal
    assert "CSRF" not in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Lead, lead.id) is not None


def test_an_anonymous_booking_through_the_api_needs_no_header(app_ctx, csrf_on):
    # No session to borrow: the public booking API stays usable from anywhere.
    response = app_ctx.test_client().post("/api/v1/bookings", json={"name": "A"})
    assert response.status_code == 422

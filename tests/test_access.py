"""Every coach page needs the coach role: walk the URL map so a forgotten decorator fails here."""

from __future__ import annotations

import re

import pytest
from flask import g

from crm.accounts.models import Role

PROTECTED_PREFIXES = ("/coach", "/api/v1/leads")


def _required_role(view):
    """The role a view (or anything it wraps, e.g. flask-smorest's wrappers) demands."""
    seen = set()
    while view is not None and id(view) not in seen:
        seen.add(id(view))
        role = getattr(view, "required_role", None)
        if role is not None:
            return role
        view = getattr(view, "__wrapped__", None) or getattr(view, "view_class", None)
    return None


def _url(rule, ids) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(ids.get(m.group(1), 1)), rule.rule)


def _coach_rules(app):
    rules = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if _required_role(view) == Role.COACH:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                rules.append((rule, method))
    return rules


def test_every_coach_area_route_is_protected(app):
    unprotected = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PROTECTED_PREFIXES)
        and _required_role(app.view_functions[rule.endpoint]) != Role.COACH
    ]
    assert unprotected == []


@pytest.fixture
def ids(make_lead):
    lead = make_lead()
    return {"lead_id": lead.id}


def test_coach_routes_refuse_anonymous_and_runners(client, auth, make_user, ids, app):
    rules = _coach_rules(app)
    assert len(rules) > 10
    runner = make_user(role="runner")
    for rule, method in rules:
        url = _url(rule, ids)
        g.pop("_login_user", None)
        auth.logout()
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url)
            assert response.is_json, (method, url)
        else:
            assert response.status_code == 302, (method, url)
            assert "/login" in response.headers["Location"], (method, url)
        auth.login(runner)
        g.pop("_login_user", None)
        response = client.open(url, method=method)
        assert response.status_code == 403, (method, url, response.status_code)
        if url.startswith("/api/"):
            assert response.is_json

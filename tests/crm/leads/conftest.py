from __future__ import annotations

import pytest


@pytest.fixture
def coach_client(client, auth, coach):
    auth.login(coach)
    return client


@pytest.fixture
def forget_user():
    """Drop Flask-Login's per-context user cache between requests.

    The `app_ctx` fixture keeps one app context open, and the test client reuses it for every
    request, so `g._login_user` from one request would answer for the next one.
    """
    from flask import g

    return lambda: g.pop("_login_user", None)

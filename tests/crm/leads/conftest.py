from __future__ import annotations

import pytest


@pytest.fixture
def coach_client(client, auth, coach):
    auth.login(coach)
    return client

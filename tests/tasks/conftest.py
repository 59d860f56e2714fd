"""Fixtures for the client emails: runners with a plan, made through the portal's own intake."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import intake_values


@pytest.fixture
def make_client(db_session, make_user):
    """A runner who has done her intake (an active plan), in `timezone`, starting on `start`."""
    from programs.intake import submit_intake

    def make(start: date, *, email: str | None = None, first_name: str = "Maya", **overrides):
        user = make_user(
            role="runner", first_name=first_name, **({"email": email} if email else {})
        )
        submit_intake(db_session, user.id, intake_values(start, **overrides))
        return user

    return make

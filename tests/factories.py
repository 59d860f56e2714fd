"""Factories: each returns a committed model with sensible defaults; pass keywords to override."""

from __future__ import annotations

import functools
import itertools
from datetime import date

from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.leads.models import Lead, Stage

_seq = itertools.count(1)


@functools.cache
def _password_hash(password: str) -> str:
    # argon2 is slow on purpose; hash each test password once per run.
    from crm.accounts.services import hash_password

    return hash_password(password)


def create_user(session: Session, *, password: str = "correct horse battery", **kw) -> User:
    n = next(_seq)
    kw.setdefault("email", f"user{n}@example.com")
    kw.setdefault("role", Role.RUNNER)
    kw["role"] = Role(kw["role"])
    user = User(password_hash=_password_hash(password), **kw)
    session.add(user)
    session.commit()
    return user


def create_lead(session: Session, **kw) -> Lead:
    n = next(_seq)
    kw.setdefault("email", f"lead{n}@example.com")
    kw.setdefault("name", f"Lead Number{n}")
    kw.setdefault("stage", Stage.NEW)
    lead = Lead(**kw)
    session.add(lead)
    session.commit()
    return lead


# A Monday, so plan weeks line up with calendar weeks in the assertions.
PLAN_START = date(2030, 3, 4)


def intake_values(start: date = PLAN_START, **overrides) -> dict:
    """A runner's intake answers as the portal's form gives them: runs 1 minute, 4 days, a band,
    knee 2/10, from ``start``, in Los Angeles; pass keywords to override."""
    values = {
        "ability": "run_minutes",
        "run_minutes": 1,
        "days": [0, 2, 4, 5],
        "long_run_day": 5,
        "equipment": ["none", "band"],
        "pain_area": "knee",
        "pain_level": 2,
        "start_date": start,
        "race_date": None,
        "race_type": None,
        "age": 42,
        "timezone": "America/Los_Angeles",
    }
    values.update(overrides)
    return values

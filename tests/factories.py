"""Factories: each returns a committed model with sensible defaults; pass keywords to override."""

from __future__ import annotations

import functools
import itertools

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

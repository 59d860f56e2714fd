"""Factories: each returns a committed model with sensible defaults; pass keywords to override."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.leads.models import Lead, Stage

_seq = itertools.count(1)


def create_user(session: Session, *, password: str = "correct horse battery", **kw) -> User:
    from crm.accounts.services import hash_password

    n = next(_seq)
    kw.setdefault("email", f"user{n}@example.com")
    kw.setdefault("role", Role.RUNNER)
    kw["role"] = Role(kw["role"])
    user = User(password_hash=hash_password(password), **kw)
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

"""Sign-ins the server can take back: Flask-Login's alternative-id pattern.

At each login Flask-Login asks the user for the id to keep in the session cookie (and in the
remember-me cookie); `login_manager.id_attribute` points it at `User.new_login_id`, which opens a
`LoginSession` row and answers with a fresh random secret. The server keeps only the secret's
SHA-256. The user loader finds the user by that hash in one query, so revoking the row (logout,
"Sign out everywhere", a new password) ends the session and its remember-me cookie at once, even
in a copied cookie. Every login gets its own secret: no two remember-me cookies are alike.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import ColumnElement, Select, bindparam, delete, select, update
from sqlalchemy.orm import Session

from crm.accounts.models import ApiToken, LoginSession, PasswordResetToken, User
from crm.time import utcnow

# Without "Keep me signed in" a sign-in lasts a day at most (the browser usually forgets the
# cookie sooner); with it, as long as the remember-me cookie (REMEMBER_COOKIE_DURATION).
SESSION_HOURS = 24
DEFAULT_REMEMBER = timedelta(days=30)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def remember_duration() -> timedelta:
    if not has_app_context():
        return DEFAULT_REMEMBER
    value = current_app.config.get("REMEMBER_COOKIE_DURATION", DEFAULT_REMEMBER)
    return value if isinstance(value, timedelta) else timedelta(seconds=int(value))


def open_login_session(session: Session, user_id: int, *, remember: bool = False) -> str:
    """Record a new sign-in of the user (commits); returns its secret, the cookies' login id."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            user_id=user_id,
            token_hash=hash_secret(secret),
            remember=remember,
            created_at=now,
            expires_at=now + (remember_duration() if remember else timedelta(hours=SESSION_HOURS)),
        )
    )
    session.commit()
    return secret


def remember_login_session(session: Session, secret: str) -> None:
    """The sign-in asked to be remembered: it lives as long as the remember-me cookie."""
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == hash_secret(secret)))
    if row is not None and not row.remember:
        row.remember = True
        row.expires_at = row.created_at + remember_duration()
        session.commit()


def user_for_login(
    session: Session, secret: str, state: Callable[[], ColumnElement] | None = None
) -> User | None:
    """The active user of a live sign-in, else None — one query. `state` is an SQL expression
    whose value (why she may not use some pages, or NULL) is read in the same query and kept on
    the user as `access_state`."""
    if not secret or len(secret) > 200:
        return None
    row = session.execute(
        _login_query(state), {"token_hash": hash_secret(secret), "now": utcnow()}
    ).first()
    if row is None:
        return None
    user = row[0]
    user.access_state = row[1] if state is not None else None
    return user


_login_queries: dict[Callable | None, Select] = {}


def _login_query(state: Callable[[], ColumnElement] | None) -> Select:
    """The sign-in look-up, built once per process (it runs on every signed-in request)."""
    query = _login_queries.get(state)
    if query is None:
        columns = [User, state()] if state is not None else [User]
        query = _login_queries[state] = (
            select(*columns)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(
                LoginSession.token_hash == bindparam("token_hash"),
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > bindparam("now"),
                User.active.is_(True),
            )
        )
    return query


def end_login_session(session: Session, secret: str | None) -> None:
    """Log out: this sign-in's cookies stop working (commits)."""
    if not secret:
        return
    session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == hash_secret(secret), LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.commit()


def end_all_login_sessions(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """ "Sign out everywhere": every session and remember-me cookie of the user (no commit)."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return result.rowcount or 0


def revoke_everything(session: Session, user_id: int) -> None:
    """A new password: end every sign-in, API token and pending reset link (no commit)."""
    now = utcnow()
    end_all_login_sessions(session, user_id, now=now)
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )


def prune_sign_ins(session: Session, keep_days: int = 30) -> int:
    """Delete sign-ins and reset links that ended (expired, revoked or used) more than
    `keep_days` ago (commits); returns how many rows went."""
    cutoff = utcnow() - timedelta(days=keep_days)
    gone = session.execute(
        delete(LoginSession).where(
            (LoginSession.expires_at < cutoff) | (LoginSession.revoked_at < cutoff)
        )
    ).rowcount
    gone += session.execute(
        delete(PasswordResetToken).where(
            (PasswordResetToken.expires_at < cutoff) | (PasswordResetToken.used_at < cutoff)
        )
    ).rowcount
    session.commit()
    return gone or 0

"""Accounts: create users, check passwords, reset and change them (a new password ends every
sign-in and token of the user), API tokens that expire and can be revoked."""

from __future__ import annotations

import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from crm.accounts.access import hash_token
from crm.accounts.models import ApiToken, PasswordResetToken, Role, User
from crm.accounts.sessions import end_all_login_sessions, hash_secret, revoke_everything
from crm.forms import normalise_email
from crm.time import utcnow
from tasks.outbox import queue_email

_hasher = PasswordHasher()
# A hash to verify against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a real password")

RESET_MAX_AGE = 60 * 60  # one hour
DEFAULT_API_TOKEN_DAYS = 30
MIN_PASSWORD_LENGTH = 10


class AccountError(Exception):
    """A domain error with a message fit to show the user (and the form field it is about)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    session: Session, *, email: str, password: str | None, role: Role, **fields
) -> User:
    """Create a user (commits). Raises AccountError for a taken email or a short password."""
    if find_user(session, email) is not None:
        raise AccountError("An account with that email already exists.")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.")
    user = User(
        email=normalise_email(email),
        password_hash=hash_password(password) if password else None,
        role=role,
        **fields,
    )
    session.add(user)
    session.commit()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None (constant work either way)."""
    user = find_user(session, email)
    candidate = user.password_hash if user and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(candidate, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.commit()
    return user


def make_reset_token(user: User) -> str:
    """A new password-reset secret for `user`: random (nothing of her id or password hash in
    it), stored as a SHA-256, single use, valid RESET_MAX_AGE. Added to her session without a
    commit: the caller commits (with the email that carries it)."""
    session = object_session(user)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=hash_secret(token),
            created_at=now,
            expires_at=now + timedelta(seconds=RESET_MAX_AGE),
        )
    )
    session.flush()
    return token


def request_password_reset(session: Session, email: str) -> None:
    """Queue a reset email if the account exists; says nothing either way (no enumeration)."""
    user = find_user(session, email)
    if user is None or not user.is_active:
        return
    token = make_reset_token(user)
    queue_email(
        session,
        to=user.email,
        template="password_reset",
        context={"first_name": user.first_name, "token": token, "max_age_minutes": 60},
        idempotency_key=f"user:{user.id}:password-reset:{hash_secret(token)[:16]}",
        user_id=user.id,
        category="transactional",
    )
    session.commit()


def reset_password(session: Session, token: str, new_password: str) -> User:
    """Set a new password from a reset token (single use, expires); every sign-in, API token
    and other reset link of the user ends. Raises AccountError."""
    row = None
    if token and len(token) <= 200:
        row = session.scalar(
            select(PasswordResetToken)
            .where(PasswordResetToken.token_hash == hash_secret(token))
            .with_for_update()
        )
    if row is None:
        raise AccountError("This reset link is not valid.")
    if row.used_at is not None:
        raise AccountError("This reset link has already been used. Ask for a new one.")
    if row.expires_at <= utcnow():
        raise AccountError("This reset link has expired. Ask for a new one.")
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise AccountError("This reset link is not valid.")
    _set_password(session, user, new_password)
    return user


def reset_token_is_live(session: Session, token: str) -> bool:
    """The reset page asks before showing its form."""
    if not token or len(token) > 200:
        return False
    row = session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_secret(token))
    )
    return row is not None and row.used_at is None and row.expires_at > utcnow()


def change_password(session: Session, user: User, current: str, new_password: str) -> None:
    """The signed-in user's new password (she gives the current one). Every sign-in, API token
    and reset link ends, this browser's too: the view signs her in again. Raises AccountError."""
    try:
        _hasher.verify(user.password_hash or _DUMMY_HASH, current)
        if not user.password_hash:
            raise VerificationError
    except (VerificationError, InvalidHashError) as exc:
        raise AccountError("That is not your current password.", "current") from exc
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.")
    _set_password(session, user, new_password)


def _set_password(session: Session, user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    revoke_everything(session, user.id)
    session.commit()


def sign_out_everywhere(session: Session, user_id: int) -> int:
    """End every sign-in and remember-me cookie of the user (commits); returns how many."""
    count = end_all_login_sessions(session, user_id)
    session.commit()
    return count


def issue_api_token(
    session: Session, user: User, name: str = "API token", *, days: int | None = None
) -> str:
    """Create a bearer token for a coach, valid `days` (API_TOKEN_DAYS, 30 by default); returns
    the plain token (only its hash is stored)."""
    if user.role != Role.COACH:
        raise AccountError("Only the coach can use the API with a token.")
    if days is None:
        days = int(current_app.config.get("API_TOKEN_DAYS", DEFAULT_API_TOKEN_DAYS))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            name=name[:100],
            created_at=now,
            expires_at=now + timedelta(days=max(days, 1)),
        )
    )
    session.commit()
    return token


def revoke_api_token(session: Session, user: User, token_id: int) -> ApiToken:
    """The coach revokes one of her tokens (commits). Raises AccountError for another's."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise AccountError("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.commit()
    return token


def api_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first (live, expired and revoked)."""
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        )
    )


def count_coaches(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == Role.COACH))

"""Accounts: create users, check passwords, reset them with signed single-use tokens, API tokens."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.accounts.access import hash_token
from crm.accounts.models import ApiToken, Role, User
from crm.forms import normalise_email
from crm.time import utcnow
from tasks.outbox import queue_email

_hasher = PasswordHasher()
# A hash to verify against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a real password")

RESET_MAX_AGE = 60 * 60  # one hour
MIN_PASSWORD_LENGTH = 10


class AccountError(Exception):
    """A domain error with a message fit to show the user."""


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


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _password_fingerprint(user: User) -> str:
    # Part of the token: once the password changes, every earlier token stops working.
    return (user.password_hash or "unset")[-12:]


def make_reset_token(user: User) -> str:
    return _reset_serializer().dumps({"uid": user.id, "pw": _password_fingerprint(user)})


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
        idempotency_key=f"user:{user.id}:password-reset:{token[-16:]}",
        user_id=user.id,
        category="transactional",
    )
    session.commit()


def reset_password(session: Session, token: str, new_password: str) -> User:
    """Set a new password from a reset token (single use, expires). Raises AccountError."""
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired as exc:
        raise AccountError("This reset link has expired. Ask for a new one.") from exc
    except BadSignature as exc:
        raise AccountError("This reset link is not valid.") from exc
    user = session.get(User, data.get("uid"))
    if user is None or data.get("pw") != _password_fingerprint(user):
        raise AccountError("This reset link has already been used. Ask for a new one.")
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.")
    user.password_hash = hash_password(new_password)
    session.commit()
    return user


def issue_api_token(session: Session, user: User, name: str = "API token") -> str:
    """Create a bearer token for a coach; returns the plain token (only its hash is stored)."""
    if user.role != Role.COACH:
        raise AccountError("Only the coach can use the API with a token.")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name=name[:100]))
    session.commit()
    return token


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise AccountError("No such token.")
    token.revoked_at = utcnow()
    session.commit()


def count_coaches(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == Role.COACH))

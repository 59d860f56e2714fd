from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column, object_session

from crm.time import UTCDateTime, utcnow
from extensions import db


class Role(enum.StrEnum):
    COACH = "coach"
    RUNNER = "runner"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: one account per address, whatever the caller typed.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), index=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")
    active: Mapped[bool] = mapped_column(default=True)
    # A client's own choice: the weekly check-in and the training nudges (missed sessions, race
    # week, programme done) by email. Her bookings, payments and password emails always go.
    coaching_emails: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Read by the user loader in its one query: why this user may not use some pages (e.g. a
    # client whose access the coach ended: "ended"), or None. See access.register_access_state.
    access_state = None

    def new_login_id(self) -> str:
        """Flask-Login's id for a new login (`login_manager.id_attribute`): a new server-side
        sign-in whose secret the session and remember-me cookies carry (crm.accounts.sessions)."""
        from crm.accounts.sessions import open_login_session  # it imports this module

        return open_login_session(object_session(self) or db.session, self.id)

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive users cannot log in
        return self.active

    @property
    def is_coach(self) -> bool:
        return self.role == Role.COACH

    @property
    def display_name(self) -> str:
        return (f"{self.first_name} {self.last_name}".strip()) or self.email


class LoginSession(db.Model):
    """One sign-in: the browser's session cookie (and remember-me cookie) carry its secret, the
    server keeps its SHA-256. Logging out, "Sign out everywhere" and a new password revoke rows,
    so a copied cookie stops working at once (Flask-Login's alternative-id pattern)."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordResetToken(db.Model):
    """A password-reset link: a random secret (only its SHA-256 stored), single use, expiring.
    It says nothing about the user or her password."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(db.Model):
    """A coach's bearer token for the JSON API. Only its SHA-256 is stored; it expires
    (API_TOKEN_DAYS) and the coach can revoke it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="API token")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

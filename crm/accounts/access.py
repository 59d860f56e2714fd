"""Who may see what: the loaders that turn a request into a user (a sign-in the server can take
back, or a bearer token), the coach/runner role checks every route uses, and the CSRF header
that cookie-authenticated JSON writes must carry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import current_user, user_logged_in
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import ColumnElement, select, update
from wtforms.validators import ValidationError

from crm.accounts.models import ApiToken, Role, User
from crm.accounts.sessions import hash_secret, remember_login_session, user_for_login
from crm.time import utcnow
from extensions import db, login_manager

# Flask-Login asks `user.new_login_id()` for the id it keeps in the cookies: see sessions.py.
login_manager.id_attribute = "new_login_id"
# Sign-ins live on the server (login_sessions) and end there; nothing asks for a "fresh" login,
# which is all Flask-Login's IP/user-agent check would change: it is off, and with it a SHA-512
# of every request's address and browser.
login_manager.session_protection = None
# How stale `last_used_at` may get before a bearer request writes it again (one write an hour,
# not one per request).
TOKEN_TOUCH_EVERY = timedelta(hours=1)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def hash_token(token: str) -> str:
    return hash_secret(token)


def register_access_state(app: Flask, expression: Callable[[], ColumnElement]) -> None:
    """A feature tells the loaders how to read, in their one query, why a user may not use its
    pages (an SQL expression correlated to `User`, NULL when she may). The value is kept on the
    user as `access_state`; the feature's own guard acts on it."""
    app.extensions["hero_access_state"] = expression


def _state() -> Callable[[], ColumnElement] | None:
    return current_app.extensions.get("hero_access_state")


@login_manager.user_loader
def _load_user(login_id: str) -> User | None:
    return user_for_login(db.session, login_id, _state())


@user_logged_in.connect
def _remember_if_asked(app, user, **extra) -> None:
    # login_user() asks for the id before it knows about "Keep me signed in"; it says so here.
    if session.get("_remember") == "set":
        remember_login_session(db.session, session["_user_id"])


@login_manager.request_loader
def _load_user_from_bearer(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    now = utcnow()
    state = _state()
    columns = [User, ApiToken.id, ApiToken.last_used_at] + ([state()] if state else [])
    row = db.session.execute(
        select(*columns)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == hash_token(header[7:].strip()),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    user, token_id, last_used = row[0], row[1], row[2]
    user.access_state = row[3] if state else None
    if last_used is None or now - last_used > TOKEN_TOUCH_EVERY:
        db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        db.session.commit()
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/api/"):
        abort(401, "Sign in or send a bearer token.")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def require_csrf_header_for_cookie_writes() -> None:
    """A JSON write under /api/ made with the session cookie must carry the CSRF token in the
    `X-CSRFToken` header (a cross-site page cannot set it). A bearer-token request needs none:
    browsers never attach bearer tokens by themselves. Registered on the app for every /api/."""
    if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
        return
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    if not current_user.is_authenticated:
        return  # not signed in with a cookie: nothing a forged request could borrow
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except (ValidationError, CSRFError):
        abort(400, "Send the CSRF token in the X-CSRFToken header, or use a bearer token.")


def role_required(role: Role) -> Callable:
    """Anonymous visitors go to the login page (401 for the API); the wrong role gets 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role != role:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # read by the test that walks the URL map
        wrapped.private_page = True  # Cache-Control: no-store (see private_page)
        return wrapped

    return decorator


def private_page(view: Callable) -> Callable:
    """Mark a view whose answer belongs to one signed-in person: it is sent with
    `Cache-Control: no-store` (every role-checked view is marked already)."""
    view.private_page = True
    return view


def signed_in_required(view: Callable) -> Callable:
    """Any signed-in user (coach or runner); anonymous visitors go to the login page."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return private_page(wrapped)


def init_app(app: Flask) -> None:
    app.before_request(require_csrf_header_for_cookie_writes)

    @app.after_request
    def _no_store_for_private_pages(response):
        view = app.view_functions.get(request.endpoint or "")
        # A view may keep its own "private" caching (a member's photo: her browser only).
        if getattr(view, "private_page", False) and "private" not in response.headers.get(
            "Cache-Control", ""
        ):
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response


coach_required = role_required(Role.COACH)
runner_required = role_required(Role.RUNNER)

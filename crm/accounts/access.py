"""Who may see what: the coach/runner role checks every route uses, and bearer-token API auth."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from crm.accounts.models import ApiToken, Role, User
from crm.time import utcnow
from extensions import db, login_manager


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@login_manager.request_loader
def _load_user_from_bearer(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(header[7:].strip()), ApiToken.revoked_at.is_(None)
        )
    )
    if token is None:
        return None
    token.last_used_at = utcnow()
    db.session.commit()
    return db.session.get(User, token.user_id)


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/api/"):
        abort(401, "Sign in or send a bearer token.")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


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
        return wrapped

    return decorator


coach_required = role_required(Role.COACH)
runner_required = role_required(Role.RUNNER)

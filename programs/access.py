"""The portal's door: a client whose access is ended (or paused) reaches nothing of it.

One guard for the runner's pages, her API (`/api/v1/me/*`) and the community: a `before_request`
on the app that looks at the blueprint. Why she may not come in is read by the user loader in its
one query (`register_access_state`), so the guard costs no query of its own. The capability URLs
(the `.ics` feed, the check-in form) have no login and ask `access_state` of their owner.

A runner with no enrolment at all (added by the coach) has access; one with an active or past-due
enrolment has access; otherwise her newest enrolment says why not: "paused" or "ended".
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_login import current_user
from sqlalchemy import ColumnElement, case, exists, null, or_, select
from sqlalchemy.orm import Session

from crm.accounts.access import register_access_state
from crm.accounts.models import Role, User
from crm.billing.models import Enrolment, EnrolmentStatus
from extensions import db

# The blueprints of the runner's side: the portal, the programs API, the community.
RUNNER_BLUEPRINTS = frozenset({"portal", "programs_api", "community"})
# No login: the secret in the URL is the key, so these check their owner themselves.
CAPABILITY_ENDPOINTS = frozenset({"portal.calendar"})
LIVE = (EnrolmentStatus.ACTIVE, EnrolmentStatus.PAST_DUE)


def access_state_column() -> ColumnElement:
    """Per user (correlated to `User`): NULL when she may use the portal, else "paused" or
    "ended" (her newest enrolment's status)."""
    # Two comparisons, not IN: an IN list is rendered anew on every execution of the sign-in
    # look-up (SQLAlchemy's "post-compile" parameters); these are compiled once.
    live = exists().where(Enrolment.user_id == User.id, or_(*(Enrolment.status == s for s in LIVE)))
    newest = (
        select(Enrolment.status)
        .where(Enrolment.user_id == User.id)
        .order_by(Enrolment.started_at.desc(), Enrolment.id.desc())
        .limit(1)
        .correlate(User)
        .scalar_subquery()
    )
    return case((User.role != Role.RUNNER, null()), (live, null()), else_=newest)


def access_state(session: Session, user_id: int) -> str | None:
    """Why this user may not use the portal ("paused", "ended"), or None."""
    state = session.scalar(select(access_state_column()).where(User.id == user_id))
    return str(state) if state is not None else None


def access_ended_page(state: str, status: int = 403):
    """The kind page (or JSON under /api/) that says her access ended and how to come back."""
    if request.path.startswith("/api/"):
        message = (
            "Your access to the programme is paused. Contact your coach to pick it up again."
            if state == "paused"
            else "Your access to the programme has ended. Contact your coach to come back."
        )
        return jsonify(code=status, status="Forbidden", message=message, access=state), status
    coach = db.session.scalar(
        select(User.first_name).where(User.role == Role.COACH).order_by(User.id).limit(1)
    )
    return render_template("portal/access_ended.html", state=state, coach=coach or ""), status


def _guard():
    if request.blueprint not in RUNNER_BLUEPRINTS or request.endpoint in CAPABILITY_ENDPOINTS:
        return None
    if not current_user.is_authenticated or current_user.role != Role.RUNNER:
        return None  # the view's own role check answers (login page, 403)
    state = current_user.access_state
    if state is None:
        return None
    return access_ended_page(str(state))


def init_app(app: Flask) -> None:
    register_access_state(app, access_state_column)
    app.before_request(_guard)

"""JSON API of programs: preview a plan (coach), the signed-in runner's plan and logs.

Auth: the coach's or runner's session cookie, or a bearer token. A POST made with a session
cookie must carry the CSRF token in the ``X-CSRFToken`` header (a cross-site form cannot set
it); a bearer-only request needs none, since browsers never attach bearer tokens by themselves.
The check is made for every /api/ route in one place: crm.accounts.access.
"""

from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate

from crm.accounts.access import coach_required, runner_required
from crm.forms import ApiDate
from extensions import db
from programs.engine import Profile, ProfileError, generate_plan
from programs.errors import PortalError
from programs.library import current_library
from programs.logs import record_workout
from programs.plans import active_plan, load_plan

bp = Blueprint(
    "programs_api",
    __name__,
    url_prefix="/api/v1",
    description="0-to-5K plans: preview from a profile; the signed-in runner's plan and logs",
)


class ProfileIn(Schema):
    class Meta:
        unknown = RAISE

    ability = fields.String(
        required=True, validate=validate.OneOf(["walk_only", "run_minutes", "run_5k"])
    )
    run_minutes = fields.Integer(load_default=None, allow_none=True)
    days = fields.List(
        fields.Integer(), required=True, metadata={"description": "Weekdays, 0 = Monday"}
    )
    long_run_day = fields.Integer(load_default=None, allow_none=True)
    equipment = fields.List(
        fields.String(),
        load_default=lambda: ["none"],
        metadata={"description": "none, band, dumbbell, ankle_weight, machine"},
    )
    pain_area = fields.String(load_default="none")
    pain_level = fields.Integer(load_default=0)
    start_date = ApiDate(required=True)
    race_date = ApiDate(load_default=None, allow_none=True)
    race_type = fields.String(
        load_default=None, allow_none=True, metadata={"description": "5k or rundisney"}
    )
    age = fields.Integer(load_default=None, allow_none=True)


class PlanOut(Schema):
    engine_version = fields.String()
    profile = fields.Dict()
    weeks = fields.List(
        fields.Dict(), metadata={"description": "Weeks with dated sessions (segments / items)"}
    )
    adjusted = fields.Boolean()
    adjustment_reason = fields.String(allow_none=True)
    race_strategy = fields.Dict(allow_none=True)
    changes = fields.List(fields.Dict())
    flags = fields.List(fields.Dict())
    reviewed_weeks = fields.List(fields.Integer())


class MyPlanOut(Schema):
    plan_id = fields.Integer()
    created_at = fields.DateTime()
    engine_version = fields.String()
    coach_edited_days = fields.List(fields.Date())
    plan = fields.Nested(PlanOut)


class LogIn(Schema):
    class Meta:
        unknown = RAISE

    session_date = ApiDate(required=True)
    kind = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(["run_walk", "strength"]),
        metadata={"description": "Defaults to the session planned that day"},
    )
    status = fields.String(required=True, validate=validate.OneOf(["done", "partial", "skipped"]))
    effort = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 10))
    pain_during = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 10))
    pain_next_morning = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(0, 10)
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    client_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$"),
        metadata={
            "description": "An id the client makes (a UUID) for a log saved offline: sending it "
            "again returns the saved log instead of saving it twice"
        },
    )


class LogOut(Schema):
    id = fields.Integer()
    session_date = fields.Date()
    kind = fields.String()
    status = fields.String()
    effort = fields.Integer(allow_none=True)
    pain_during = fields.Integer(allow_none=True)
    pain_next_morning = fields.Integer(allow_none=True)
    note = fields.String()
    client_id = fields.String(allow_none=True)


def _field_errors(messages: dict[str, str]) -> dict[str, list[str]]:
    return {field or "_schema": [message] for field, message in messages.items()}


@bp.post("/plans/preview")
@coach_required
@bp.arguments(ProfileIn)
@bp.response(200, PlanOut)
@bp.alt_response(401, description="Not signed in")
@bp.alt_response(403, description="Not the coach")
def preview_plan(data: dict):
    """The plan the engine makes for a profile (nothing is saved). 422 with field errors."""
    try:
        profile = Profile.from_dict(data)
    except ProfileError as exc:
        abort(
            422, message="The profile is not valid.", errors={"json": _field_errors(exc.messages)}
        )
    return generate_plan(profile, current_library(db.session)).to_dict()


@bp.get("/me/plan")
@runner_required
@bp.response(200, MyPlanOut)
@bp.alt_response(401, description="Not signed in")
@bp.alt_response(403, description="Not a runner")
@bp.alt_response(404, description="No plan yet: the intake comes first")
def my_plan():
    """The signed-in runner's current plan, as she sees it (adapted, with coach edits)."""
    record = active_plan(db.session, current_user.id)
    if record is None:
        abort(404, message="No plan yet. Fill in the intake at /portal/intake first.")
    plan = load_plan(record)
    return {
        "plan_id": record.id,
        "created_at": record.created_at,
        "engine_version": record.engine_version,
        "coach_edited_days": sorted({s.date for s in plan.sessions if s.coach_edited}),
        "plan": plan.to_dict(),
    }


@bp.post("/me/logs")
@runner_required
@bp.arguments(LogIn)
@bp.response(201, LogOut)
@bp.alt_response(401, description="Not signed in")
@bp.alt_response(403, description="Not a runner")
def create_log(data: dict):
    """Log a session (a second log for the same day and kind updates the first). The plan
    re-adapts and the coach is flagged when needed. A log sent again with the same
    ``client_id`` is saved once. 422 with field errors."""
    try:
        log = record_workout(
            db.session,
            current_user.id,
            data["session_date"],
            data["status"],
            data["effort"],
            data["pain_during"],
            data["pain_next_morning"],
            data["note"],
            kind=data["kind"],
            client_id=data["client_id"],
        )
    except PortalError as exc:
        db.session.rollback()
        abort(422, message="The log is not valid.", errors={"json": _field_errors(exc.messages)})
    return {
        "id": log.id,
        "session_date": log.session_date,
        "kind": log.kind,
        "status": str(log.status),
        "effort": log.effort,
        "pain_during": log.pain_during,
        "pain_next_morning": log.pain_next_morning,
        "note": log.note,
        "client_id": log.client_id,
    }

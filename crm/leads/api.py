"""The leads JSON API (coach only, bearer token or session): list, read, move between stages."""

from __future__ import annotations

from flask import Flask
from flask_login import current_user
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields, validate

from crm.accounts.access import coach_required
from crm.forms import ApiDate
from crm.leads import services
from crm.leads.models import Lead, Stage
from extensions import api, csrf, db

bp = Blueprint(
    "leads_api",
    __name__,
    url_prefix="/api/v1/leads",
    description="The coach's leads: search, read, move between pipeline stages.",
)
csrf.exempt(bp)

SECURITY = [{"bearerAuth": []}, {"sessionCookie": []}]


class LeadListArgs(Schema):
    class Meta:
        unknown = RAISE

    q = fields.String(validate=validate.Length(max=100), metadata={"description": "Search name, "
                      "email and phone (case-insensitive substring)."})  # fmt: skip
    stage = fields.Enum(Stage, by_value=True)
    source = fields.String(validate=validate.Length(max=120))
    created_from = ApiDate(metadata={"description": "First day, in the coach's time zone."})
    created_to = ApiDate(metadata={"description": "Last day, in the coach's time zone."})
    sort = fields.String(validate=validate.OneOf(services.SORTS), load_default="newest")
    cursor = fields.String(
        validate=validate.Length(max=500),
        metadata={"description": "`next_cursor` of the previous page."},
    )
    limit = fields.Integer(
        load_default=services.PAGE_SIZE,
        validate=validate.Range(min=1, max=services.MAX_PAGE_SIZE),
    )


class LeadSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    email = fields.String()
    phone = fields.String()
    stage = fields.Enum(Stage, by_value=True)
    lost_reason = fields.String()
    source = fields.String()
    utm = fields.Dict()
    goal_race = fields.String()
    goal_date = ApiDate(allow_none=True)
    pain_level = fields.Integer(allow_none=True)
    pain_notes = fields.String()
    heard_from = fields.String()
    marketing_consent = fields.Boolean()
    automation_paused = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class LeadPageSchema(Schema):
    items = fields.List(fields.Nested(LeadSchema))
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "Pass as `cursor` for the next page; null at the end."},
    )


class LeadPatchSchema(Schema):
    class Meta:
        unknown = RAISE

    stage = fields.Enum(Stage, by_value=True, required=True)
    lost_reason = fields.String(
        validate=validate.Length(max=200),
        load_default="",
        metadata={"description": "Required when stage is `lost`."},
    )


@bp.route("", methods=["GET"])
@coach_required
@bp.arguments(LeadListArgs, location="query")
@bp.response(200, LeadPageSchema)
@bp.alt_response(401, description="Not signed in")
@bp.alt_response(403, description="Not the coach")
@bp.doc(security=SECURITY)
def list_leads(args: dict):
    """List leads, newest first by default, with keyset pagination."""
    filters = services.LeadFilters(
        q=args.get("q", ""),
        stage=args.get("stage"),
        source=args.get("source", ""),
        created_from=args.get("created_from"),
        created_to=args.get("created_to"),
        sort=args["sort"],
    )
    try:
        page = services.list_leads(
            db.session,
            filters,
            cursor=args.get("cursor"),
            limit=args["limit"],
            tz_name=services.coach_timezone(db.session),
        )
    except services.LeadError as exc:
        abort(422, message=str(exc), errors={"query": {"cursor": [str(exc)]}})
    return {"items": page.items, "next_cursor": page.next_cursor}


@bp.route("/<int:lead_id>", methods=["GET"])
@coach_required
@bp.response(200, LeadSchema)
@bp.alt_response(401, description="Not signed in")
@bp.alt_response(403, description="Not the coach")
@bp.alt_response(404, description="No such lead")
@bp.doc(security=SECURITY)
def get_lead(lead_id: int):
    """One lead."""
    return db.get_or_404(Lead, lead_id, description="No such lead.")


@bp.route("/<int:lead_id>", methods=["PATCH"])
@coach_required
@bp.arguments(LeadPatchSchema)
@bp.response(200, LeadSchema)
@bp.alt_response(401, description="Not signed in")
@bp.alt_response(403, description="Not the coach")
@bp.alt_response(404, description="No such lead")
@bp.doc(security=SECURITY)
def patch_lead(data: dict, lead_id: int):
    """Move a lead to another pipeline stage (422 for a move the pipeline does not allow)."""
    try:
        services.move_lead(
            db.session,
            lead_id,
            data["stage"],
            lost_reason=data.get("lost_reason", ""),
            actor_id=current_user.id,
        )
    except services.LeadNotFound:
        abort(404, message="No such lead.")
    except services.LeadError as exc:
        abort(422, message=str(exc), errors={"json": {exc.field or "stage": [str(exc)]}})
    return db.session.get(Lead, lead_id)


def register(app: Flask) -> None:
    api.register_blueprint(bp)

"""JSON API for booking: free slots and booking a call (the same services as the pages)."""

from __future__ import annotations

from datetime import datetime

from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from crm.booking import availability as coach_availability
from crm.booking import emails as booking_emails
from crm.booking import services
from crm.booking.errors import BookingInvalid, SlotTaken
from crm.booking.services import FIELD_LIMITS
from crm.booking.slots import InvalidSlot, Slot
from crm.forms import ApiAwareDateTime, ApiDate
from crm.site.caching import public
from crm.time import is_valid_timezone, zone
from extensions import db, limiter

bp = Blueprint(
    "booking_api", __name__, url_prefix="/api/v1", description="Free slots and free-call bookings"
)


def _zone_name(value: str) -> None:
    if not is_valid_timezone(value):
        raise ValidationError("Unknown time zone; use an IANA name such as America/Los_Angeles.")


class SlotsQuery(Schema):
    class Meta:
        unknown = RAISE

    start = ApiDate(load_default=None, metadata={"description": "First day (YYYY-MM-DD) in `tz`"})
    days = fields.Integer(load_default=7, validate=validate.Range(1, 62))
    tz = fields.String(load_default=None, validate=[validate.Length(max=64), _zone_name])


class SlotOut(Schema):
    start = fields.String(metadata={"description": "ISO-8601 with offset, in the requested zone"})
    end = fields.String()


class BookingIn(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(1, FIELD_LIMITS["name"]))
    email = fields.Email(required=True, validate=validate.Length(max=FIELD_LIMITS["email"]))
    phone = fields.String(load_default="", validate=validate.Length(max=FIELD_LIMITS["phone"]))
    slot_start = ApiAwareDateTime(required=True, metadata={"description": "ISO-8601 with offset"})
    timezone = fields.String(required=True, validate=[validate.Length(max=64), _zone_name])
    goal_race = fields.String(
        load_default="", validate=validate.Length(max=FIELD_LIMITS["goal_race"])
    )
    goal_date = ApiDate(load_default=None, allow_none=True)
    pain_level = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 10))
    pain_notes = fields.String(
        load_default="", validate=validate.Length(max=FIELD_LIMITS["pain_notes"])
    )
    heard_from = fields.String(
        load_default="", validate=validate.Length(max=FIELD_LIMITS["heard_from"])
    )
    marketing_consent = fields.Boolean(required=True)
    utm = fields.Dict(
        keys=fields.String(validate=validate.OneOf(services.UTM_KEYS)),
        values=fields.String(validate=validate.Length(max=FIELD_LIMITS["utm"])),
        load_default=dict,
    )

    @validates("name")
    def _name_not_blank(self, value: str, **_kw) -> None:
        if not value.strip():
            raise ValidationError("Tell us your name.")


class BookingOut(Schema):
    id = fields.Integer()
    lead_id = fields.Integer()
    start = fields.String()
    end = fields.String()
    manage_url = fields.String()


def _slot_json(slot: Slot, tz: str) -> dict[str, str]:
    start, end = slot.in_zone(zone(tz))
    return {"start": start.isoformat(), "end": end.isoformat()}


@bp.get("/slots")
@public(vary_cookie=False)  # the same for every anonymous caller: a shared cache may keep it
@bp.arguments(SlotsQuery, location="query", as_kwargs=True, unknown=RAISE)
@bp.response(200, SlotOut(many=True))
def list_slots(start=None, days: int = 7, tz: str | None = None):
    """Free slots from `start` (default today) for `days` days, shown in zone `tz`
    (default: the coach's)."""
    rules = coach_availability.load_rules(db.session)  # with her zone: one statement
    tz = tz or rules.timezone
    slots = coach_availability.free_slots(
        db.session, start_day=start, days=days, tz=tz, rules=rules
    )
    return [_slot_json(slot, tz) for slot in slots]


def _field_errors(errors: dict[str, str]) -> dict[str, list[str]]:
    return {field: [message] for field, message in errors.items()}


@bp.post("/bookings")
@limiter.limit("10/minute")
@bp.arguments(BookingIn())  # an instance: webargs would build one from a class per request
@bp.response(201, BookingOut)
@bp.alt_response(409, description="That time was just taken; `slots` lists free ones")
@bp.alt_response(429, description="Too many bookings from here: wait for Retry-After seconds")
def create_booking(data: dict):
    """Book a free call. 422 with field errors on bad input; 409 when the slot is taken."""
    try:
        booking = services.book_call(db.session, **data)
    except SlotTaken as exc:
        fresh = coach_availability.free_slots(db.session, days=7, tz=data["timezone"])[:20]
        abort(
            409,
            message=exc.message,
            errors={"json": {"slot_start": [exc.message]}},
            slots=[_slot_json(s, data["timezone"]) for s in fresh],
        )
    except InvalidSlot as exc:
        abort(422, message=exc.message, errors={"json": {"slot_start": [exc.message]}})
    except BookingInvalid as exc:
        abort(422, message="Some fields are not valid.", errors={"json": _field_errors(exc.errors)})
    start: datetime = booking.start_at.astimezone(zone(booking.timezone))
    end: datetime = booking.end_at.astimezone(zone(booking.timezone))
    return {
        "id": booking.id,
        "lead_id": booking.lead_id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "manage_url": booking_emails.manage_url(booking),
    }

"""Booking pages: the public /book page, the confirmation, the manage link, the coach's
availability and the call outcome buttons. Views parse, call one service, render."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from crm import time as crm_time
from crm.accounts.access import coach_required
from crm.booking import availability as coach_availability
from crm.booking import busy_feed, calls, services
from crm.booking import emails as booking_emails
from crm.booking import errors as booking_errors
from crm.booking.errors import BookingError, BookingInvalid, SlotTaken
from crm.booking.forms import (
    COMMON_ZONES,
    AvailabilityForm,
    BookingForm,
    BusyFeedForm,
    CallSettingsForm,
    CancelForm,
    DayOffForm,
    RescheduleForm,
    zone_choices,
)
from crm.booking.models import Booking, BookingStatus
from crm.booking.services import UTM_KEYS
from crm.booking.slots import WEEKDAYS, InvalidSlot, Slot
from crm.forms import in_date_range, parse_day, safe_next
from crm.site.caching import public
from crm.time import is_valid_timezone, utcnow, zone
from extensions import db, limiter

bp = Blueprint("booking", __name__)

DAYS_PER_PAGE = 7


# --- helpers that only shape input and output ------------------------------------------------


def _viewer_tz(raw: str | None) -> tuple[str, str | None]:
    """The visitor's zone from the query/form, else the coach's; with a note when it was unknown."""
    coach_tz = coach_availability.coach_settings(db.session).timezone
    if not raw:
        return coach_tz, None
    if is_valid_timezone(raw):
        return raw, None
    return coach_tz, f"We don't know the time zone {raw[:64]!r}, so times are shown in {coach_tz}."


def _start_day(raw: str | None, tz: str) -> date:
    today = utcnow().astimezone(zone(tz)).date()
    return max(parse_day(raw) or today, today)


def _parse_slot(raw: str | None) -> datetime | None:
    try:
        value = datetime.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return value if value.tzinfo is not None and in_date_range(value.date()) else None


def _group_by_day(slots: list[Slot], tz: str) -> list[tuple[date, list[dict[str, Any]]]]:
    viewer = zone(tz)
    shown = [
        {
            "value": slot.start.astimezone(viewer).isoformat(),
            "label": _clock(slot.start.astimezone(viewer)),
        }
        for slot in slots
    ]
    grouped = groupby(shown, key=lambda s: datetime.fromisoformat(s["value"]).date())
    return [(day, list(items)) for day, items in grouped]


def _clock(moment: datetime) -> str:
    return moment.strftime("%I:%M %p").lstrip("0")


NIGHT_FROM, NIGHT_TO = 22, 6  # 10 PM to 6 AM, the visitor's time (booking.js uses the same)


def _night_note(slots: list[Slot], tz: str) -> str | None:
    """'These are 2:00 AM–4:00 AM your time' when some free times fall at night in zone `tz`."""
    viewer = zone(tz)
    night = sorted(
        (
            local
            for local in (slot.start.astimezone(viewer) for slot in slots)
            if local.hour >= NIGHT_FROM or local.hour < NIGHT_TO
        ),
        key=lambda local: ((local.hour - NIGHT_FROM) % 24, local.minute),
    )
    if not night:
        return None
    first, last = _clock(night[0]), _clock(night[-1])
    span = first if first == last else f"{first}–{last}"
    return f"Some of Coach Ali's free times fall at night for you. These are {span} your time."


def _zone_names(current: str) -> list[str]:
    return list(COMMON_ZONES) if current in COMMON_ZONES else [current, *COMMON_ZONES]


def _utm_from(source) -> dict[str, str]:
    # Truncated on the way in: a long campaign link must not stop anyone from booking.
    limit = services.FIELD_LIMITS["utm"]
    return {key: source.get(key, "")[:limit] for key in UTM_KEYS if source.get(key)}


def _slot_page(tz: str, start_day: date) -> dict[str, Any]:
    """Template values for a week of free slots seen from zone `tz`."""
    rules = coach_availability.load_rules(db.session)
    now = utcnow()
    today = now.astimezone(zone(tz)).date()
    last_day = (now + timedelta(days=rules.horizon_days)).astimezone(zone(tz)).date()
    slots = coach_availability.free_slots(
        db.session, start_day=start_day, days=DAYS_PER_PAGE, tz=tz, now=now, rules=rules
    )
    later = start_day + timedelta(days=DAYS_PER_PAGE)
    return {
        "days": _group_by_day(slots, tz),
        "tz": tz,
        "zones": _zone_names(tz),
        "start_day": start_day,
        "prev_day": max(today, start_day - timedelta(days=DAYS_PER_PAGE))
        if start_day > today
        else None,
        "next_day": later if later <= last_day else None,
        "call_minutes": rules.call_minutes,
        "night_note": _night_note(slots, tz),
    }


HIDDEN_FIELDS = ("slot", "tz", *UTM_KEYS)


def _hidden_field_errors(form: BookingForm) -> list[tuple[str, str]]:
    """Errors of fields the visitor does not type, shown together above the slots."""
    return [(name, message) for name in HIDDEN_FIELDS for message in form[name].errors]


def _apply_errors(form, errors: dict[str, str]) -> None:
    mapping = {"timezone": "tz", "slot_start": "slot"}
    for field, message in errors.items():
        name = mapping.get(field, field)
        if name == "utm":
            form.form_errors.append(message)
        elif name in form:
            form[name].errors = [*form[name].errors, message]
        else:
            form.form_errors.append(message)


# --- the public booking page -----------------------------------------------------------------


@bp.route("/book", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
@public()
def book():
    # The page a shared cache keeps has no CSRF token (form-token.js fetches the visitor's own):
    # building the form with one would start a session and set a cookie.
    form = BookingForm(meta={"csrf": False}) if request.method == "GET" else BookingForm()
    status = 200
    # A zone in the URL or in a posted form was chosen; otherwise booking.js may switch to the
    # browser's own zone on the page, without a reload.
    tz_chosen = request.method == "POST" or bool(request.args.get("tz"))
    if request.method == "GET":
        tz, note = _viewer_tz(request.args.get("tz"))
        form.tz.data = tz
        form.slot.data = request.args.get("slot", "")[:64]
        for key, value in _utm_from(request.args).items():
            form[key].data = value
        if note:
            form.tz.errors = [note]
        start_day = _start_day(request.args.get("start"), tz)
    else:
        tz, note = _viewer_tz(request.form.get("tz"))
        start_day = _start_day(None, tz)
        if note:
            form.validate()
            form.tz.errors = [*form.tz.errors, "Pick your time zone from the list."]
            form.tz.data, status = tz, 422
        else:
            booking, status = _try_booking(form, tz)
            if booking is not None:
                token = booking_emails.make_manage_token(booking)
                return redirect(url_for("booking.confirmed", token=token))
    utm = {key: form[key].data for key in UTM_KEYS if form[key].data}
    phone_call = calls.needs_phone(coach_availability.coach_settings(db.session))
    if phone_call:
        form.phone.label.text = "Phone (Coach Ali will call you)"
        form.phone.render_kw = {**(form.phone.render_kw or {}), "required": True}
    chosen = _parse_slot(form.slot.data)
    if chosen is not None:  # the same instant, spelled as the slots are in zone `tz`
        form.slot.data = chosen.astimezone(zone(tz)).isoformat()
    return (
        render_template(
            "booking/book.html",
            form=form,
            utm=utm,
            tz_chosen=tz_chosen,
            phone_call=phone_call,
            hidden_field_errors=_hidden_field_errors,
            **_slot_page(tz, start_day),
        ),
        status,
    )


@bp.errorhandler(CSRFError)
def _booking_without_token(error: CSRFError):
    """A booking posted without its token (no JavaScript, or the token fetch failed): the form
    again with what she typed and a token of her own, so pressing the button once more books."""
    if request.endpoint != "booking.book":  # the manage and coach forms: the usual error page
        return render_template("errors/error.html", error=error), 400
    form = BookingForm(meta={"csrf": False})
    form.validate()
    for field in form:
        field.errors = []
    form.form_errors = [
        "Sorry, your browser had not yet got this form's security (CSRF) token. "
        "Please press “Book my FREE call” again."
    ]
    tz, _note = _viewer_tz(request.form.get("tz"))
    utm = {key: form[key].data for key in UTM_KEYS if form[key].data}
    page = render_template(
        "booking/book.html",
        form=form,
        utm=utm,
        hidden_field_errors=_hidden_field_errors,
        **_slot_page(tz, _start_day(None, tz)),
    )
    return page, 400, {"Cache-Control": "private, no-store"}


def _try_booking(form: BookingForm, tz: str) -> tuple[Booking | None, int]:
    if not form.validate():
        return None, 422
    slot_start = _parse_slot(form.slot.data)
    if slot_start is None:
        form.slot.errors = ["Pick one of the times shown."]
        return None, 422
    try:
        booking = services.book_call(
            db.session,
            name=form.name.data,
            email=form.email.data,
            phone=form.phone.data or "",
            slot_start=slot_start,
            timezone=tz,
            goal_race=form.goal_race.data or "",
            goal_date=form.goal_date.data,
            pain_level=int(form.pain_level.data) if form.pain_level.data else None,
            pain_notes=form.pain_notes.data or "",
            heard_from=form.heard_from.data or "",
            marketing_consent=bool(form.marketing_consent.data),
            utm={key: form[key].data for key in UTM_KEYS if form[key].data},
        )
    except SlotTaken as exc:
        form.slot.errors = [exc.message]
        form.slot.data = ""
        return None, 409
    except InvalidSlot as exc:
        form.slot.errors = [exc.message]
        form.slot.data = ""
        return None, 422
    except BookingInvalid as exc:
        _apply_errors(form, exc.errors)
        return None, 422
    return booking, 201


@bp.get("/book/confirmed/<token>")
def confirmed(token: str):
    booking = _booking_or_invalid(token)
    if isinstance(booking, tuple):
        return booking
    return render_template("booking/confirmed.html", **_booking_view(booking, token))


# --- the manage link -------------------------------------------------------------------------


def _booking_or_invalid(token: str):
    try:
        return services.booking_from_token(db.session, token)
    except booking_errors.InvalidToken as exc:
        return render_template("booking/manage_invalid.html", message=exc.message), 404


def _booking_view(booking: Booking, token: str) -> dict[str, Any]:
    tz = booking.timezone
    start = booking.start_at.astimezone(zone(tz))
    return {
        "booking": booking,
        "token": booking_emails.make_manage_token(booking),
        "when": crm_time.format_when(booking.start_at, tz),
        "start_local": start,
        "minutes": round((booking.end_at - booking.start_at).total_seconds() / 60),
        "changeable": booking.status == BookingStatus.BOOKED and booking.start_at > utcnow(),
        "BookingStatus": BookingStatus,
    }


@bp.get("/manage/<token>")
def manage(token: str):
    booking = _booking_or_invalid(token)
    if isinstance(booking, tuple):
        return booking
    tz, note = _viewer_tz(request.args.get("tz") or booking.timezone)
    view = _booking_view(booking, token)
    form = RescheduleForm(tz=tz)
    if note:
        flash(note, "warning")
    slot_page = (
        _slot_page(tz, _start_day(request.args.get("start"), tz)) if view["changeable"] else {}
    )
    return render_template(
        "booking/manage.html", form=form, cancel_form=CancelForm(), **view, **slot_page
    )


@bp.post("/manage/<token>/reschedule")
@limiter.limit("10/minute")
def reschedule(token: str):
    booking = _booking_or_invalid(token)
    if isinstance(booking, tuple):
        return booking
    form = RescheduleForm()
    tz, _note = _viewer_tz(form.tz.data or booking.timezone)
    status = 422
    if form.validate():
        slot_start = _parse_slot(form.slot.data)
        if slot_start is None:
            form.slot.errors = ["Pick one of the times shown."]
        else:
            try:
                new = services.reschedule_booking(db.session, booking.id, slot_start)
            except SlotTaken as exc:
                form.slot.errors, status = [exc.message], 409
            except (InvalidSlot, BookingError) as exc:
                form.slot.errors = [exc.message]
            else:
                flash("Your call has been moved. A new invite is on its way.", "success")
                return redirect(
                    url_for("booking.manage", token=booking_emails.make_manage_token(new))
                )
    view = _booking_view(booking, token)
    slot_page = _slot_page(tz, _start_day(None, tz)) if view["changeable"] else {}
    return (
        render_template(
            "booking/manage.html", form=form, cancel_form=CancelForm(), **view, **slot_page
        ),
        status,
    )


@bp.post("/manage/<token>/cancel")
@limiter.limit("10/minute")
def cancel(token: str):
    booking = _booking_or_invalid(token)
    if isinstance(booking, tuple):
        return booking
    if CancelForm().validate():
        try:
            services.cancel_booking(db.session, booking.id)
        except BookingError as exc:
            flash(exc.message, "error")
        else:
            flash("Your call is cancelled. You can book a new one any time.", "success")
    return redirect(url_for("booking.manage", token=token))


@bp.get("/manage/<token>/invite.ics")
def invite(token: str):
    booking = _booking_or_invalid(token)
    if isinstance(booking, tuple):
        return booking
    if booking.status != BookingStatus.BOOKED:
        abort(404)
    return Response(
        booking_emails.booking_ics(db.session, booking),
        mimetype="text/calendar",
        headers={"Content-Disposition": "attachment; filename=free-call.ics"},
    )


# --- the coach's pages -----------------------------------------------------------------------

BLANK_ROWS = 3


@bp.route("/coach/availability", methods=["GET", "POST"])
@coach_required
def availability():
    current = coach_availability.get_availability(db.session)
    form = AvailabilityForm()
    form.timezone.choices = zone_choices(_zone_names(current.settings.timezone))
    status = 200
    if request.method == "GET":
        settings = current.settings
        form.timezone.data = settings.timezone
        for key in coach_availability.SETTING_BOUNDS:
            form[key].data = getattr(settings, key)
        rows = [
            {"weekday": str(w.weekday), "start": w.start_time, "end": w.end_time}
            for w in current.windows
        ]
        while form.windows.entries:
            form.windows.pop_entry()
        for row in rows + [{"weekday": "0", "start": None, "end": None}] * BLANK_ROWS:
            form.windows.append_entry(row)
    elif form.validate():
        windows, index = [], []
        for i, entry in enumerate(form.windows.entries):
            start, end = entry.form.start.data, entry.form.end.data
            if start is None and end is None:
                continue
            if start is None or end is None:
                entry.form.end.errors = [*entry.form.end.errors, "Give both a start and an end."]
                continue
            windows.append((int(entry.form.weekday.data), start, end))
            index.append(i)
        if not any(entry.form.end.errors for entry in form.windows.entries):
            try:
                coach_availability.save_availability(
                    db.session,
                    timezone=form.timezone.data,
                    call_minutes=form.call_minutes.data,
                    buffer_minutes=form.buffer_minutes.data,
                    min_notice_hours=form.min_notice_hours.data,
                    horizon_days=form.horizon_days.data,
                    windows=windows,
                )
            except booking_errors.AvailabilityError as exc:
                for key, message in exc.errors.items():
                    if key.startswith("windows-"):
                        row = form.windows.entries[index[int(key.split("-", 1)[1])]].form
                        row.end.errors = [*row.end.errors, message]
                    else:
                        form[key].errors = [*form[key].errors, message]
            else:
                flash("Availability saved.", "success")
                return redirect(url_for("booking.availability"))
        status = 422
    else:
        status = 422
    return (
        render_template(
            "booking/availability.html",
            form=form,
            day_off_form=DayOffForm(formdata=None),
            feed_form=BusyFeedForm(formdata=None),
            feed=busy_feed.feed_status(db.session),
            days_off=current.days_off,
            weekdays=WEEKDAYS,
        ),
        status,
    )


@bp.route("/coach/call-settings", methods=["GET", "POST"])
@coach_required
def call_settings():
    settings = coach_availability.coach_settings(db.session)
    form = CallSettingsForm(
        data={"call_kind": settings.call_kind or "video", "video_link": settings.video_link or ""}
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate():
            try:
                calls.save_call_settings(
                    db.session, call_kind=form.call_kind.data, video_link=form.video_link.data
                )
            except booking_errors.AvailabilityError as exc:
                for key, message in exc.errors.items():
                    form[key].errors = [*form[key].errors, message]
            else:
                flash("Saved: new bookings follow it.", "success")
                return redirect(url_for("booking.call_settings"))
    return render_template("booking/call_settings.html", form=form), status


@bp.post("/coach/availability/days-off")
@coach_required
def add_day_off():
    form = DayOffForm()
    if form.validate():
        try:
            coach_availability.add_day_off(db.session, form.day.data, form.note.data or "")
        except booking_errors.AvailabilityError as exc:
            for key, message in exc.errors.items():
                form[key].errors = [*form[key].errors, message]
        else:
            flash(f"{form.day.data:%A %d %B %Y} is now a day off.", "success")
            return redirect(url_for("booking.availability"))
    return _availability_page(day_off_form=form)


def _filled_availability_form(current) -> AvailabilityForm:
    avail_form = AvailabilityForm(formdata=None)
    avail_form.timezone.choices = zone_choices(_zone_names(current.settings.timezone))
    avail_form.timezone.data = current.settings.timezone
    for key in coach_availability.SETTING_BOUNDS:
        avail_form[key].data = getattr(current.settings, key)
    while avail_form.windows.entries:
        avail_form.windows.pop_entry()
    for w in current.windows:
        avail_form.windows.append_entry(
            {"weekday": str(w.weekday), "start": w.start_time, "end": w.end_time}
        )
    for _ in range(BLANK_ROWS):
        avail_form.windows.append_entry({"weekday": "0", "start": None, "end": None})
    return avail_form


def _availability_page(*, day_off_form=None, feed_form=None, status: int = 422):
    """The Availability page again, with the form that failed (its messages) and the others."""
    current = coach_availability.get_availability(db.session)
    return (
        render_template(
            "booking/availability.html",
            form=_filled_availability_form(current),
            day_off_form=day_off_form or DayOffForm(formdata=None),
            feed_form=feed_form or BusyFeedForm(formdata=None),
            feed=busy_feed.feed_status(db.session),
            days_off=current.days_off,
            weekdays=WEEKDAYS,
        ),
        status,
    )


@bp.post("/coach/availability/calendar")
@coach_required
def save_busy_feed():
    form = BusyFeedForm()
    if form.validate():
        try:
            feed = busy_feed.save_feed_url(db.session, form.url.data or "")
        except booking_errors.AvailabilityError as exc:
            form.url.errors = [*form.url.errors, *exc.errors.values()]
        else:
            if feed is None:
                flash("Your calendar is no longer used for busy times.", "success")
            elif busy_feed.refresh_busy_feed(db.session):
                flash(
                    "Calendar connected: its busy times now block your free-call slots.", "success"
                )
            else:
                flash("Calendar saved, but it could not be read yet (see below).", "warning")
            return redirect(url_for("booking.availability") + "#calendar")
    return _availability_page(feed_form=form)


@bp.post("/coach/availability/calendar/remove")
@coach_required
def remove_busy_feed():
    form = BusyFeedForm()
    if form.validate():
        busy_feed.save_feed_url(db.session, "")
        flash("Your calendar is no longer used for busy times.", "success")
    return redirect(url_for("booking.availability") + "#calendar")


@bp.post("/coach/availability/days-off/<int:day_off_id>/delete")
@coach_required
def remove_day_off(day_off_id: int):
    coach_availability.remove_day_off(db.session, day_off_id)
    flash("Day off removed.", "success")
    return redirect(url_for("booking.availability"))


@bp.post("/coach/bookings/<int:booking_id>/outcome")
@coach_required
def mark_outcome(booking_id: int):
    booking = db.get_or_404(Booking, booking_id)
    try:
        services.mark_call_outcome(
            db.session, booking.id, request.form.get("outcome", ""), current_user.id
        )
    except BookingError as exc:
        flash(exc.message, "error")
    else:
        label = "held" if request.form.get("outcome") == "held" else "a no-show"
        flash(f"Call marked {label}.", "success")
    fallback = url_for("leads.lead_detail", lead_id=booking.lead_id)
    return redirect(safe_next(request.form.get("next"), fallback))

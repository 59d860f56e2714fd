"""Booking forms: the visitor's details, the manage link's reschedule, the coach's availability."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional

from crm.booking.availability import SETTING_BOUNDS
from crm.booking.services import FIELD_LIMITS
from crm.booking.slots import WEEKDAYS
from crm.forms import DateField

COMMON_ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/New_York",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Toronto",
    "America/Halifax",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Paris",
    "Europe/Berlin",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
)

HEARD_FROM = [SelectChoice("", "Choose one (optional)")] + [
    SelectChoice(option)
    for option in (
        "Instagram",
        "Facebook",
        "Google search",
        "An article on this site",
        "A friend",
        "A runDisney group",
        "Podcast",
        "Other",
    )
]

PAIN_LEVELS = [SelectChoice("", "Choose (optional)")] + [
    SelectChoice(str(n), f"{n}" + {0: " — no pain", 5: " — moderate", 10: " — worst"}.get(n, ""))
    for n in range(11)
]


def zone_choices(zones) -> list[SelectChoice]:
    return [SelectChoice(z, z.replace("_", " ")) for z in zones]


class BookingForm(FlaskForm):
    slot = HiddenField("Time", validators=[DataRequired("Pick a time for your call.")])
    tz = HiddenField("Time zone", validators=[DataRequired("Pick your time zone.")])
    name = StringField(
        "Your name",
        validators=[DataRequired("Tell us your name."), Length(max=FIELD_LIMITS["name"])],
        render_kw={"autocomplete": "name"},
    )
    email = StringField(
        "Email",
        validators=[
            DataRequired("We need your email to send the invite."),
            Length(max=FIELD_LIMITS["email"]),
            Email("Enter a valid email address."),
        ],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )
    phone = StringField(
        "Phone (optional)",
        validators=[Optional(), Length(max=FIELD_LIMITS["phone"])],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    goal_race = StringField(
        "Goal race (optional)",
        validators=[Optional(), Length(max=FIELD_LIMITS["goal_race"])],
        render_kw={"placeholder": "e.g. Disneyland 5K"},
    )
    goal_date = DateField("Race date (optional)", validators=[Optional()])
    pain_notes = TextAreaField(
        "Do you have pain or an injury now?",
        validators=[Optional(), Length(max=FIELD_LIMITS["pain_notes"])],
        render_kw={"rows": 3, "placeholder": "e.g. my right knee hurts after 10 minutes"},
    )
    pain_level = SelectField("How bad is it today? (0–10)", choices=PAIN_LEVELS, default="")
    heard_from = SelectField("How did you hear about us?", choices=HEARD_FROM, default="")
    marketing_consent = BooleanField("Send me running tips and offers by email (optional)")
    utm_source = HiddenField(validators=[Length(max=FIELD_LIMITS["utm"])])
    utm_medium = HiddenField(validators=[Length(max=FIELD_LIMITS["utm"])])
    utm_campaign = HiddenField(validators=[Length(max=FIELD_LIMITS["utm"])])
    utm_term = HiddenField(validators=[Length(max=FIELD_LIMITS["utm"])])
    utm_content = HiddenField(validators=[Length(max=FIELD_LIMITS["utm"])])
    submit = SubmitField("Book my FREE call")


class RescheduleForm(FlaskForm):
    slot = HiddenField("New time", validators=[DataRequired("Pick a new time.")])
    tz = HiddenField("Time zone")
    submit = SubmitField("Move my call")


class CancelForm(FlaskForm):
    submit = SubmitField("Cancel my call")


class OutcomeForm(FlaskForm):
    outcome = HiddenField(validators=[DataRequired()])
    next = HiddenField()


class WindowForm(Form):
    """One weekly window; a row with no times is ignored (that is how a window is removed)."""

    weekday = SelectField(
        "Day",
        choices=[SelectChoice(str(i), name[:3]) for i, name in enumerate(WEEKDAYS)],
        default="0",
    )
    start = TimeField("From", validators=[Optional()])
    end = TimeField("To", validators=[Optional()])


def _bounded(label: str, key: str) -> IntegerField:
    low, high = SETTING_BOUNDS[key]
    return IntegerField(
        label,
        validators=[InputRequired(f"Enter a number from {low} to {high}."), NumberRange(low, high)],
        render_kw={"min": low, "max": high, "inputmode": "numeric"},
    )


class AvailabilityForm(FlaskForm):
    timezone = SelectField("Your time zone", choices=zone_choices(COMMON_ZONES))
    call_minutes = _bounded("Call length (minutes)", "call_minutes")
    buffer_minutes = _bounded("Break between calls (minutes)", "buffer_minutes")
    min_notice_hours = _bounded("Minimum notice (hours)", "min_notice_hours")
    horizon_days = _bounded("Bookable up to (days ahead)", "horizon_days")
    windows = FieldList(FormField(WindowForm), min_entries=1, max_entries=70)
    submit = SubmitField("Save availability")


class CallSettingsForm(FlaskForm):
    call_kind = RadioField(
        "How do your free calls happen?",
        choices=[
            SelectChoice("phone", "Phone call: I call them (a phone number is required)"),
            SelectChoice("video", "Video call: the link is in their confirmation and invite"),
        ],
        default="video",
    )
    video_link = StringField(
        "Your meeting link (optional)",
        description="Your own Zoom or Google Meet room, used for every call. Leave it empty "
        "and each booking gets its own private Jitsi Meet room (free, nothing to install).",
        validators=[Optional(), Length(max=300)],
        render_kw={"placeholder": "https://zoom.us/j/…", "inputmode": "url"},
    )
    submit = SubmitField("Save")


class DayOffForm(FlaskForm):
    day = DateField("Day off", validators=[DataRequired("Pick a day.")])
    note = StringField("Note (optional)", validators=[Optional(), Length(max=120)])
    submit = SubmitField("Add day off")


class BusyFeedForm(FlaskForm):
    # A secret address: never filled back into the page (the page shows it masked).
    url = StringField(
        "Your calendar's secret address in iCal format",
        validators=[Optional(), Length(max=2000, message="That address is too long.")],
        render_kw={
            "autocomplete": "off",
            "spellcheck": "false",
            "inputmode": "url",
            "placeholder": "https://calendar.google.com/calendar/ical/…/basic.ics",
        },
    )
    submit = SubmitField("Save calendar")

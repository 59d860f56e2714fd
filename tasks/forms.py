"""Forms of the check-in page and the coach's template editor."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from crm.forms import choices

FEELINGS = (("great", "Great"), ("ok", "OK"), ("hard", "Hard"))
SCALE = [
    SelectChoice(str(n), f"{n}" + {0: " — none", 5: " — moderate", 10: " — worst"}.get(n, ""))
    for n in range(11)
]


class CheckInForm(FlaskForm):
    feeling = RadioField(
        "How did this week go?",
        choices=choices(FEELINGS),
        validators=[InputRequired("Tap great, OK or hard.")],
    )
    pain = SelectField(
        "Pain this week (0 = none, 10 = worst)",
        choices=SCALE,
        validators=[InputRequired("Pick a number from 0 to 10.")],
    )
    confidence = SelectField(
        "How confident do you feel about next week? (0–10)",
        choices=SCALE,
        default="7",
        validators=[InputRequired("Pick a number from 0 to 10.")],
    )
    note = TextAreaField("Anything to tell your coach?", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Send my check-in")


class TemplateForm(FlaskForm):
    subject = StringField("Subject", validators=[Optional(), Length(max=300)])
    body = TextAreaField(
        "Body (Markdown, or HTML if it starts with a tag)",
        validators=[Optional(), Length(max=20_000)],
    )
    delays = StringField(
        "Delays (hours, comma-separated)", validators=[Optional(), Length(max=200)]
    )
    contact = SelectField("Preview with", choices=[], validate_choice=False)
    action = HiddenField()
    submit = SubmitField("Save")


class ContactForm(FlaskForm):
    contact = SelectField("Contact", choices=[], validate_choice=False)


class AutomationForm(FlaskForm):
    paused = HiddenField(validators=[DataRequired()])
    next = HiddenField()

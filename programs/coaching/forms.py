"""The weekly check-in form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

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

"""Forms of the coach's template editor."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional


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

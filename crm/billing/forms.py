from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Regexp,
    ValidationError,
)

from crm.billing.money import parse_cents
from crm.forms import choices


class MoneyField(StringField):
    """An amount typed as 149 or 149.50, kept as integer cents in `.cents`."""

    cents: int | None = None

    def pre_validate(self, form) -> None:
        self.cents = None
        if self.data:
            try:
                self.cents = parse_cents(self.data)
            except ValueError as exc:
                raise ValidationError("Enter an amount like 149 or 149.50.") from exc


class ProgrammeForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("What she gets", validators=[Length(max=4000)])
    weeks = IntegerField(
        "Length in weeks", default=12, validators=[InputRequired(), NumberRange(min=1, max=104)]
    )
    active = BooleanField("On sale", default=True)
    submit = SubmitField("Save programme")


class PriceForm(FlaskForm):
    kind = SelectField(
        "Type",
        choices=choices([("one_time", "Pay in full"), ("instalments", "Monthly instalments")]),
    )
    amount = MoneyField("Amount per payment (USD)", validators=[DataRequired(), Length(max=12)])
    instalments = IntegerField(
        "Number of monthly payments",
        default=3,
        validators=[InputRequired(), NumberRange(min=1, max=24)],
    )
    submit = SubmitField("Add price")


class SettingsForm(FlaskForm):
    grace_days = IntegerField(
        "Grace period after a failed instalment (days)",
        validators=[InputRequired(), NumberRange(min=0, max=60)],
    )
    offer_valid_days = IntegerField(
        "Offer links stay valid for (days)",
        validators=[InputRequired(), NumberRange(min=1, max=90)],
    )
    submit = SubmitField("Save settings")


class SendOfferForm(FlaskForm):
    programme_id = SelectField("Programme", coerce=int, validators=[InputRequired()])
    submit = SubmitField("Send offer")


class ChoosePriceForm(FlaskForm):
    price_id = RadioField("How would you like to pay?", coerce=int, validators=[InputRequired()])
    submit = SubmitField("Continue to secure payment")


class RefundForm(FlaskForm):
    amount = MoneyField("Amount to refund", validators=[DataRequired(), Length(max=12)])
    reason = StringField("Reason (optional)", validators=[Length(max=200)])
    request_key = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{8,64}$")])
    submit = SubmitField("Refund")


class ConfirmForm(FlaskForm):
    """A bare POST with CSRF (cancel plan, pause/resume/end, sync, test checkout)."""

    action = HiddenField()
    submit = SubmitField("Confirm")


class SetPasswordForm(FlaskForm):
    session_id = HiddenField(validators=[DataRequired()])
    password = PasswordField(
        "Choose a password", validators=[DataRequired(), Length(min=10, max=200)]
    )
    confirm = PasswordField(
        "Repeat it", validators=[DataRequired(), EqualTo("password", "The passwords differ.")]
    )
    submit = SubmitField("Set password and start my intake")

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from crm.forms import DateField, choices
from crm.leads.models import Stage
from crm.leads.services import NOTE_MAX_LENGTH

STAGE_CHOICES = choices((s.value, s.label) for s in Stage)
SORT_CHOICES = choices(
    [("newest", "Newest first"), ("oldest", "Oldest first"), ("name", "Name A–Z")]
)


class LeadFilterForm(FlaskForm):
    """The lead list's search and filters (a GET form: no CSRF token in the URL)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=100)])
    stage = SelectField("Stage", choices=choices([("", "All stages")]) + STAGE_CHOICES,
                        validators=[Optional()])  # fmt: skip
    source = SelectField("Source", choices=choices([("", "All sources")]), validate_choice=False,
                         validators=[Optional(), Length(max=120)])  # fmt: skip
    created_from = DateField("Created from", validators=[Optional()])
    created_to = DateField("Created to", validators=[Optional()])
    sort = SelectField("Sort", choices=SORT_CHOICES, default="newest", validators=[Optional()])

    def validate_created_to(self, field) -> None:
        if field.data and self.created_from.data and field.data < self.created_from.data:
            raise ValidationError("The end date is before the start date.")


class StageForm(FlaskForm):
    stage = SelectField("Move to", choices=STAGE_CHOICES, validators=[DataRequired()])
    lost_reason = StringField("Reason (if lost)", validators=[Length(max=200)])
    next = HiddenField()
    submit = SubmitField("Move")

    def validate_lost_reason(self, field) -> None:
        if self.stage.data == Stage.LOST.value and not (field.data or "").strip():
            raise ValidationError("Say why the lead was lost.")


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[DataRequired(), Length(max=NOTE_MAX_LENGTH)])
    submit = SubmitField("Save note")


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token (delete, undo, pause)."""

    next = HiddenField()


class UndoForm(ActionForm):
    event_id = HiddenField(validators=[DataRequired()])


class ImportForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[
            FileRequired("Choose a CSV file."),
            FileAllowed(["csv", "txt"], "Upload a .csv file."),
        ],
    )
    submit = SubmitField("Import")

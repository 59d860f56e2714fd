"""Forms of the runner's portal and the coach's client view (Flask-WTF, CSRF on)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from crm.forms import DateField, choices

WEEKDAYS = [
    ("0", "Monday"),
    ("1", "Tuesday"),
    ("2", "Wednesday"),
    ("3", "Thursday"),
    ("4", "Friday"),
    ("5", "Saturday"),
    ("6", "Sunday"),
]
ABILITY_CHOICES = [
    ("walk_only", "I walk, but I can't run yet"),
    ("run_minutes", "I can run a few minutes without stopping"),
    ("run_5k", "I can already run 5K (3.1 miles)"),
]
PAIN_AREA_CHOICES = [
    ("none", "Nothing hurts"),
    ("knee", "Knee"),
    ("shin", "Shin (shin splints)"),
    ("hip", "Hip"),
    ("it_band", "IT band (outside of the thigh or knee)"),
    ("foot", "Foot"),
]
EQUIPMENT_CHOICES = [
    ("band", "Elastic band (loop or long band)"),
    ("dumbbell", "Dumbbells or a kettlebell"),
    ("ankle_weight", "Ankle weights"),
    ("machine", "A gym with machines"),
]
RACE_CHOICES = [
    ("", "No race yet"),
    ("5k", "A 5K race"),
    ("rundisney", "A runDisney 5K"),
]
ZERO_TO_TEN = [(str(n), str(n)) for n in range(11)]
ONE_TO_TEN = [(str(n), str(n)) for n in range(1, 11)]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class IntakeForm(FlaskForm):
    """The engine's profile, asked in plain words. Field names match ``Profile`` so the
    engine's per-field messages land on the right input."""

    ability = RadioField(
        "What can you do today?", choices=choices(ABILITY_CHOICES), validators=[InputRequired()]
    )
    run_minutes = IntegerField(
        "How many minutes can you run without stopping?",
        validators=[Optional(), NumberRange(1, 60)],
        description="Even 1 minute counts. Example: 3.",
    )
    days = MultiCheckboxField(
        "Which days can you train?",
        choices=choices(WEEKDAYS),
        description="Pick 3 to 6 days. Example: Monday, Wednesday, Friday and Saturday.",
    )
    long_run_day = SelectField(
        "Which day suits your longer run?",
        choices=choices([("", "No preference"), *WEEKDAYS]),
        validators=[Optional()],
        description="Usually a weekend day, when you have more time.",
    )
    equipment = MultiCheckboxField(
        "What equipment do you have?",
        choices=choices(EQUIPMENT_CHOICES),
        description="Tick what you own. Body weight needs nothing; leave all unticked if so.",
    )
    pain_area = RadioField(
        "Where does it hurt when you run or walk?",
        choices=choices(PAIN_AREA_CHOICES),
        default="none",
        validators=[InputRequired()],
    )
    pain_level = SelectField(
        "How much does it hurt right now? (0 = not at all, 10 = worst imaginable)",
        choices=choices(ZERO_TO_TEN),
        default="0",
        description="Example: a dull ache you notice on stairs is about 3.",
    )
    start_date = DateField("When do you want to start?", validators=[InputRequired()])
    race_type = SelectField(
        "Are you training for a race?", choices=choices(RACE_CHOICES), default=""
    )
    race_date = DateField(
        "Race date",
        validators=[Optional()],
        description=(
            "runDisney races sweep anyone slower than 16 minutes per mile; "
            "your plan makes sure you can hold that."
        ),
    )
    age = IntegerField("Your age (optional)", validators=[Optional(), NumberRange(13, 100)])
    timezone = StringField(
        "Your time zone",
        validators=[InputRequired(), Length(max=64)],
        description="Like America/New_York. It decides when 'today' starts.",
    )
    submit = SubmitField("Make my plan")

    def profile_values(self) -> dict[str, Any]:
        """The answers shaped as the engine's profile dict (plus ``timezone``)."""
        ability = self.ability.data
        return {
            "ability": ability,
            "run_minutes": self.run_minutes.data if ability == "run_minutes" else None,
            "days": [int(d) for d in self.days.data or []],
            "long_run_day": int(self.long_run_day.data) if self.long_run_day.data else None,
            "equipment": ["none", *(self.equipment.data or [])],
            "pain_area": self.pain_area.data,
            "pain_level": int(self.pain_level.data or 0),
            "start_date": self.start_date.data,
            "race_date": self.race_date.data if self.race_type.data else None,
            "race_type": self.race_type.data or None,
            "age": self.age.data,
            "timezone": (self.timezone.data or "").strip(),
        }

    def fill_from(self, profile: dict[str, Any], timezone: str) -> None:
        """Pre-fill from a stored profile dict (re-taking the intake)."""
        self.ability.data = profile.get("ability")
        self.run_minutes.data = profile.get("run_minutes")
        self.days.data = [str(d) for d in profile.get("days", [])]
        lr = profile.get("long_run_day")
        self.long_run_day.data = "" if lr is None else str(lr)
        self.equipment.data = [e for e in profile.get("equipment", []) if e != "none"]
        self.pain_area.data = profile.get("pain_area", "none")
        self.pain_level.data = str(profile.get("pain_level", 0))
        self.start_date.data = date.fromisoformat(profile["start_date"])
        rd = profile.get("race_date")
        self.race_date.data = date.fromisoformat(rd) if rd else None
        self.race_type.data = profile.get("race_type") or ""
        self.age.data = profile.get("age")
        self.timezone.data = timezone


class LogForm(FlaskForm):
    """The ten-second log: how it went, how hard, how much it hurt."""

    session_date = HiddenField(validators=[InputRequired()])
    kind = HiddenField(validators=[InputRequired()])
    status = RadioField(
        "How did it go?",
        choices=choices([("done", "Done"), ("partial", "Partly"), ("skipped", "Skipped")]),
        validators=[InputRequired(message="Tap done, partly or skipped.")],
    )
    # Left blank for a skipped session (and pain during, for a strength session whose exercises
    # were rated): record_workout judges the values, so the fields don't refuse a blank.
    effort = RadioField(
        "How hard was it? (1 easy – 10 all-out)",
        choices=choices(ONE_TO_TEN),
        validate_choice=False,
    )
    pain_during = RadioField(
        "Pain during (0 none – 10 worst)", choices=choices(ZERO_TO_TEN), validate_choice=False
    )
    note = TextAreaField("Anything to tell your coach? (optional)", validators=[Length(max=2000)])
    submit = SubmitField("Save")


class MorningPainForm(FlaskForm):
    """Next-morning pain for a logged session."""

    log_id = HiddenField(validators=[InputRequired()])
    pain_next_morning = RadioField(
        "Pain this morning (0 none – 10 worst)",
        choices=choices(ZERO_TO_TEN),
        validators=[InputRequired(message="Tap a number from 0 to 10.")],
    )
    submit = SubmitField("Save")


class EmailChoiceForm(FlaskForm):
    """Her check-in and nudge emails on or off (the plan page)."""

    coaching_emails = BooleanField("Weekly check-in and training nudges by email")
    submit = SubmitField("Save")


class DemoForm(FlaskForm):
    """A demonstration of a library exercise: a photo of the start or end position, or a
    short video from her phone."""

    kind = RadioField(
        "What is it?",
        choices=choices(
            [
                ("video", "A short video"),
                ("start", "Photo: start position"),
                ("end", "Photo: end position"),
            ]
        ),  # fmt: skip
        default="video",
        validators=[InputRequired(message="Pick video, start photo or end photo.")],
    )
    file = FileField(
        "File from your phone", validators=[FileRequired(message="Choose a photo or video.")]
    )
    submit = SubmitField("Upload")


class ConfirmForm(FlaskForm):
    """A bare CSRF-protected POST (regenerate the calendar link, resolve a flag…)."""

    submit = SubmitField("OK")


class SwapExerciseForm(FlaskForm):
    session_date = HiddenField(validators=[InputRequired()])
    kind = HiddenField(validators=[InputRequired()])
    exercise_id = HiddenField(validators=[InputRequired()])
    # Choices are per exercise on the page; the service checks the pick is a valid swap.
    replacement = SelectField(
        "Swap for", choices=[], validate_choice=False, validators=[InputRequired()]
    )
    submit = SubmitField("Swap")


class MoveSessionForm(FlaskForm):
    session_date = HiddenField(validators=[InputRequired()])
    kind = HiddenField(validators=[InputRequired()])
    to_date = DateField("Move to", validators=[InputRequired()])
    submit = SubmitField("Move")


class SkipSessionForm(FlaskForm):
    session_date = HiddenField(validators=[InputRequired()])
    kind = HiddenField(validators=[InputRequired()])
    submit = SubmitField("Skip")


class IntervalsForm(FlaskForm):
    session_date = HiddenField(validators=[InputRequired()])
    kind = HiddenField(validators=[InputRequired()])
    repeats = IntegerField("Runs", validators=[InputRequired(), NumberRange(1, 20)])
    run_seconds = IntegerField("Run (s)", validators=[InputRequired(), NumberRange(10, 3600)])
    walk_seconds = IntegerField("Walk (s)", validators=[InputRequired(), NumberRange(0, 600)])
    submit = SubmitField("Set intervals")


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[InputRequired(), Length(max=4000)])
    submit = SubmitField("Add note")


class ThresholdForm(FlaskForm):
    pain_threshold = SelectField("Flag pain above", choices=choices(ZERO_TO_TEN[:10]))
    submit = SubmitField("Save")


DIRECTION_CHOICES = [
    ("flexion", "Forward (flexion)"),
    ("extension", "Backward (extension)"),
    ("abduction", "Away from the other leg (abduction)"),
    ("adduction", "Toward the other leg (adduction)"),
    ("external_rotation", "Rotating out (external rotation)"),
    ("internal_rotation", "Rotating in (internal rotation)"),
]
KNEE_CHOICES = [("straight", "Knee straight"), ("bent", "Knee bent")]
POSITION_CHOICES = [("standing", "Standing"), ("lying", "Lying"), ("sitting", "Sitting")]
EXERCISE_EQUIPMENT_CHOICES = [("none", "No equipment"), *EQUIPMENT_CHOICES]
TAG_CHOICES = [
    ("knee_dominant", "Loads the knee (squat, lunge, step-down): left out for a sore knee"),
    ("impact", "Impact (jumps, hops): left out for a sore knee or pain above 3"),
]


class ExerciseForm(FlaskForm):
    """One of the coach's exercises. The engine's ``validate_exercise`` is the judge; its
    per-field messages are put on these fields (``ENGINE_FIELDS`` maps them)."""

    slug = StringField(
        "Id",
        validators=[Optional(), Length(max=64)],
        description="Lowercase words and dashes, e.g. banded-side-step-low. It can't change later.",
    )
    name = StringField("Name", validators=[Optional(), Length(max=80)])
    instructions = TextAreaField(
        "Instructions", validators=[Optional(), Length(max=400)],
        description="How to do it, in one or two sentences.",
    )  # fmt: skip
    cue = StringField(
        "Coaching cue", validators=[Optional(), Length(max=160)],
        description="The one thing to think about, e.g. “Toes point forward.”",
    )  # fmt: skip
    direction = SelectField("Direction the hip moves", choices=choices(DIRECTION_CHOICES))
    knee = SelectField("Knee", choices=choices(KNEE_CHOICES))
    position = SelectField("Position", choices=choices(POSITION_CHOICES))
    equipment = SelectField("Equipment", choices=choices(EXERCISE_EQUIPMENT_CHOICES))
    sets = IntegerField("Sets", validators=[Optional()], default=2)
    reps = IntegerField("Reps", validators=[Optional()])
    seconds = IntegerField("Seconds", validators=[Optional()])
    per_side = RadioField(
        "Each side?", choices=choices([("yes", "Yes, each leg"), ("no", "No")]), default="yes"
    )
    tags = MultiCheckboxField("Tags", choices=choices(TAG_CHOICES))
    # Choices are set by the view (the library as it is); the service checks the links.
    easier = SelectField("Easier variant", choices=[], validate_choice=False)
    harder = SelectField("Harder variant", choices=[], validate_choice=False)
    submit = SubmitField("Save exercise")

    ENGINE_FIELDS = {
        "id": "slug",
        "dose": "reps",
        "dose.sets": "sets",
        "dose.reps": "reps",
        "dose.seconds": "seconds",
        "dose.per_side": "per_side",
    }

    def exercise_values(self) -> dict[str, Any]:
        """The answers as an exercise dict for the engine (``exercises.yaml`` shape)."""
        dose: dict[str, Any] = {"sets": self.sets.data, "per_side": self.per_side.data == "yes"}
        if self.reps.data is not None:
            dose["reps"] = self.reps.data
        if self.seconds.data is not None:
            dose["seconds"] = self.seconds.data
        return {
            "id": (self.slug.data or "").strip(),
            "name": self.name.data,
            "instructions": self.instructions.data,
            "cue": self.cue.data,
            "direction": self.direction.data,
            "knee": self.knee.data,
            "position": self.position.data,
            "equipment": self.equipment.data,
            "dose": dose,
            "tags": list(self.tags.data or []),
            "easier": self.easier.data or None,
            "harder": self.harder.data or None,
        }

    def fill_from(self, values: dict[str, Any]) -> None:
        """Pre-fill from an exercise dict (editing one of hers)."""
        dose = values["dose"]
        self.slug.data = values["id"]
        for key in ("name", "instructions", "cue", "direction", "knee", "position", "equipment"):
            getattr(self, key).data = values[key]
        self.sets.data, self.reps.data = dose["sets"], dose.get("reps")
        self.seconds.data = dose.get("seconds")
        self.per_side.data = "yes" if dose["per_side"] else "no"
        self.tags.data = list(values.get("tags") or [])
        self.easier.data = values.get("easier") or ""
        self.harder.data = values.get("harder") or ""

    def engine_error(self, engine_field: str | None, message: str) -> None:
        """Put one of the engine's messages on the field it is about."""
        name = self.ENGINE_FIELDS.get(engine_field or "", engine_field or "")
        field = getattr(self, name, None) if name else None
        if field is None or not hasattr(field, "errors"):
            field = self.slug
        text = message[:1].upper() + message[1:]
        field.errors = [*(field.errors or []), text if text.endswith(".") else f"{text}."]


class ExerciseFilterForm(FlaskForm):
    """The library page's search and filters (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=80)])
    direction = SelectField(
        "Direction",
        choices=choices([("", "Any direction"), *DIRECTION_CHOICES]),
        default="",
        validators=[Optional()],
    )
    knee = SelectField("Knee", choices=choices([("", "Knee: any"), *KNEE_CHOICES]), default="",
                       validators=[Optional()])  # fmt: skip
    position = SelectField("Position", choices=choices([("", "Any position"), *POSITION_CHOICES]),
                           default="", validators=[Optional()])  # fmt: skip
    equipment = SelectField(
        "Equipment",
        choices=choices([("", "Any equipment"), *EXERCISE_EQUIPMENT_CHOICES]),
        default="",
        validators=[Optional()],
    )

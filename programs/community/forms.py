"""Community forms: a post, a reply, a report, a milestone, member settings, a weekly thread."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from programs.community.rules import LIMITS


class PostForm(FlaskForm):
    body = TextAreaField(
        "Share an update",
        validators=[Optional(), Length(max=LIMITS["body"])],
        render_kw={"rows": 3, "placeholder": "How did today's run feel?"},
    )
    photo = FileField("Photo (optional)")


class CommentForm(FlaskForm):
    body = TextAreaField(
        "Reply",
        validators=[DataRequired("Write a reply first."), Length(max=LIMITS["comment"])],
        render_kw={"rows": 2},
    )


class ReportForm(FlaskForm):
    reason = StringField("What is wrong with it?", validators=[Length(max=LIMITS["reason"])])


class MilestoneForm(FlaskForm):
    kind = HiddenField(validators=[DataRequired()])
    text = TextAreaField("Add a few words (optional)", validators=[Length(max=LIMITS["body"])])


class SettingsForm(FlaskForm):
    display_name = StringField(
        "Your name in the community",
        description="Others see only this name — your first name, a nickname, anything you like.",
        validators=[
            DataRequired("Choose a name others will see."),
            Length(max=LIMITS["display_name"]),
        ],
    )
    # Consent is opt-in: both boxes start unticked.
    notify_replies = BooleanField("Email me when someone replies to my post", default=False)
    weekly_digest = BooleanField("Send me the weekly community digest", default=False)


class ThreadForm(FlaskForm):
    title = StringField(
        "Thread title",
        validators=[DataRequired("Give the thread a title."), Length(max=LIMITS["title"])],
    )
    body = TextAreaField("Opening words", validators=[Length(max=LIMITS["body"])])


class ActionForm(FlaskForm):
    """CSRF only: hide, delete, pin, mute, react."""

"""The coach's article editor."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from crm.articles.services import LIMITS


class ArticleForm(FlaskForm):
    title = StringField(
        "Title", validators=[DataRequired("Give the article a title."), Length(max=LIMITS["title"])]
    )
    slug = StringField(
        "Web address",
        description="Lower-case words joined by dashes. Left empty, it is made from the title.",
        validators=[Optional(), Length(max=LIMITS["slug"])],
    )
    summary = TextAreaField(
        "Summary",
        description="One or two sentences: shown in the list, in search results and when shared.",
        validators=[Optional(), Length(max=LIMITS["summary"])],
        render_kw={"rows": 2},
    )
    body = TextAreaField(
        "Article (Markdown)",
        description="Every article ends with a “Book a FREE call” box. Put [[cta]] on its own "
        "line for one more in the middle, [[exercise:clamshell]] to show an exercise from the "
        "plan library.",
        validators=[Length(max=LIMITS["body"])],
        render_kw={"rows": 18, "data-preview-source": "1"},
    )
    tags = StringField(
        "Tags",
        description="Separated by commas, e.g. knee pain, strength",
        validators=[Optional(), Length(max=LIMITS["tags"])],
    )
    video_url = StringField(
        "Video link (YouTube or Vimeo)", validators=[Optional(), Length(max=LIMITS["video_url"])]
    )
    cover = FileField("Cover picture (JPEG, PNG or WebP, under 5 MB)")
    remove_cover = BooleanField("Remove the current cover picture")
    status = SelectField(
        "State", choices=[SelectChoice("draft", "Draft"), SelectChoice("published", "Published")]
    )
    published_at = DateTimeLocalField(
        "Publish date", description="In your time zone. Empty: now, when you publish.",
        format="%Y-%m-%dT%H:%M", validators=[Optional()],
    )  # fmt: skip


class DeleteForm(FlaskForm):
    pass

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from crm.accounts.access import coach_required
from crm.site import services
from crm.site.caching import public
from extensions import db

bp = Blueprint("site", __name__)


class LandingForm(FlaskForm):
    headline = StringField(
        "Headline", validators=[DataRequired(), Length(max=services.FIELD_LIMITS["headline"])]
    )
    subhead = TextAreaField(
        "Who it is for", validators=[DataRequired(), Length(max=services.FIELD_LIMITS["subhead"])]
    )
    method = TextAreaField(
        "Your method", validators=[DataRequired(), Length(max=services.FIELD_LIMITS["method"])]
    )
    included = TextAreaField(
        "What is included (one item per line)",
        validators=[DataRequired(), Length(max=services.FIELD_LIMITS["included"])],
    )
    about = TextAreaField(
        "About you", validators=[DataRequired(), Length(max=services.FIELD_LIMITS["about"])]
    )
    submit = SubmitField("Save")


@cache
def _favicon_bytes(static_folder: str) -> bytes:
    return (Path(static_folder) / "favicon.ico").read_bytes()


@bp.get("/favicon.ico")
def favicon():
    # Browsers ask for /favicon.ico whatever the page says; answer instead of logging a 404.
    response = Response(
        _favicon_bytes(current_app.static_folder), mimetype="image/vnd.microsoft.icon"
    )
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.get("/")
@public(lambda: services.landing_version(db.session))
def landing():
    return render_template("site/landing.html", copy=services.cached_landing_copy(db.session))


@bp.route("/coach/site", methods=["GET", "POST"])
@coach_required
def edit_landing():
    form = LandingForm(data=services.landing_copy(db.session))
    if form.validate_on_submit():
        services.save_landing_copy(db.session, {k: form[k].data for k in services.DEFAULT_LANDING})
        flash("Landing page saved.", "success")
        return redirect(url_for("site.edit_landing"))
    return render_template("site/edit_landing.html", form=form)

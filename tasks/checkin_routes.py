"""The runner's one-click weekly check-in form: /checkin/<signed token>, no login."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from extensions import db, limiter
from tasks import checkins
from tasks.forms import CheckInForm

bp = Blueprint("checkin", __name__)


@bp.route("/checkin/<token>", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def form(token: str):
    try:
        link = checkins.read_checkin_token(token)
    except checkins.CheckInLinkExpired as exc:
        return render_template("checkin/link.html", message=str(exc), expired=True), 410
    except checkins.CheckInLinkInvalid as exc:
        return render_template("checkin/link.html", message=str(exc), expired=False), 404
    done = checkins.checkin_for(db.session, link.user_id, link.week)
    if done is not None:
        return render_template("checkin/thanks.html", checkin=done)
    form = CheckInForm()
    if form.validate_on_submit():
        try:
            checkins.submit_checkin(
                db.session,
                token,
                feeling=form.feeling.data,
                pain=form.pain.data,
                confidence=form.confidence.data,
                note=form.note.data or "",
            )
            return redirect(url_for("checkin.form", token=token))
        except checkins.AlreadyCheckedIn:
            return redirect(url_for("checkin.form", token=token))
        except checkins.CheckInError as exc:
            for field, message in exc.messages.items():
                getattr(form, field, form.note).errors.append(message)
    return render_template("checkin/form.html", form=form, week=link.week)

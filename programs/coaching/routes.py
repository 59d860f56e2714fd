"""The runner's one-click pages from her coaching emails, no login: the weekly check-in form
(/checkin/<signed token>) and turning the check-ins and nudges off (/emails/coaching/<token>)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from crm.accounts.models import User
from extensions import csrf, db, limiter
from programs.access import access_ended_page, access_state
from programs.coaching import checkins
from programs.coaching.clients import read_coaching_token, set_coaching_emails
from programs.coaching.forms import CheckInForm

bp = Blueprint("coaching", __name__)


@bp.route("/checkin/<token>", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def checkin_form(token: str):
    try:
        link = checkins.read_checkin_token(token)
    except checkins.CheckInLinkExpired as exc:
        return render_template("checkin/link.html", message=str(exc), expired=True), 410
    except checkins.CheckInLinkInvalid as exc:
        return render_template("checkin/link.html", message=str(exc), expired=False), 404
    state = access_state(db.session, link.user_id)
    if state is not None:
        return access_ended_page(state)
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
            return redirect(url_for("coaching.checkin_form", token=token))
        except checkins.AlreadyCheckedIn:
            return redirect(url_for("coaching.checkin_form", token=token))
        except checkins.CheckInError as exc:
            for field, message in exc.messages.items():
                getattr(form, field, form.note).errors.append(message)
    return render_template("checkin/form.html", form=form, week=link.week)


@bp.route("/emails/coaching/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click from the check-ins and nudges; the URL is signed
def coaching_off(token: str):
    """A client turns off her check-in and nudge emails from the link in one of them."""
    user_id = read_coaching_token(token)
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None:
        abort(404)
    if request.method == "POST":
        set_coaching_emails(db.session, user, False)
        db.session.commit()
    return render_template("checkin/coaching_off.html", user=user, token=token)

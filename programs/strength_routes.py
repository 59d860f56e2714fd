"""Strength days' own pages: demonstration files (served with range requests so a phone can
seek a video), the built-in exercises' drawings, the coach's pins and the printable
home-exercise sheet. The runner's strength day itself is the portal's day page."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.utils import secure_filename

from crm.accounts.access import coach_required
from crm.storage import StorageUnavailable
from extensions import db
from programs.client_list import client_user
from programs.demos import media_file
from programs.drawings import exercise_svg
from programs.errors import PortalError
from programs.forms import ConfirmForm
from programs.home_sheet import home_exercise_sheet
from programs.library import current_library
from programs.plans import active_plan, load_plan
from programs.strength import set_pin
from programs.today import local_today

bp = Blueprint("strength", __name__)

MEDIA_TYPES = {"jpg": "image/jpeg", "mp4": "video/mp4"}
# Keys are random and never reused: a file at a key never changes.
IMMUTABLE = 60 * 60 * 24 * 365


@bp.get("/strength/media/<key>")
@login_required
def media(key: str):
    try:
        data = media_file(key)
    except StorageUnavailable:
        abort(503)
    if data is None:
        abort(404)
    response = Response(data, mimetype=MEDIA_TYPES[key.rsplit(".", 1)[1]])
    response.cache_control.private = True
    response.cache_control.max_age = IMMUTABLE
    response.set_etag(key)
    # Range requests (a phone seeking a video asks for pieces) and If-None-Match.
    return response.make_conditional(request, accept_ranges=True, complete_length=len(data))


@bp.get("/strength/drawings/<exercise_id>.svg")
@login_required
def drawing(exercise_id: str):
    ex = current_library(db.session).by_id.get(exercise_id)
    if ex is None:
        abort(404)
    svg = exercise_svg(ex)
    response = Response(svg, mimetype="image/svg+xml")
    response.cache_control.private = True
    response.cache_control.max_age = 60 * 60 * 24
    response.set_etag(str(hash(svg) & 0xFFFFFFFF))
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response.make_conditional(request)


@bp.post("/coach/clients/<int:user_id>/strength/pin")
@coach_required
def pin(user_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    exercise_id = request.form.get("exercise_id", "")
    pinned = request.form.get("pinned") == "1"
    try:
        set_pin(db.session, user_id, exercise_id, pinned)
    except PortalError as exc:
        db.session.rollback()
        flash(next(iter(exc.messages.values())), "error")
    else:
        flash(
            "Pinned: her feedback won't change this exercise."
            if pinned
            else "Unpinned: her feedback can change this exercise again.",
            "success",
        )
    return redirect(url_for("clients.client_detail", user_id=user_id) + "#strength")


@bp.get("/coach/clients/<int:user_id>/home-exercises.pdf")
@coach_required
def home_sheet(user_id: int):
    client = client_user(db.session, user_id)
    record = active_plan(db.session, user_id) if client is not None else None
    if record is None:
        abort(404)
    pdf = home_exercise_sheet(
        db.session, client, load_plan(record), local_today(db.session, user_id),
        current_user.display_name,
    )  # fmt: skip
    response = Response(pdf, mimetype="application/pdf")
    name = secure_filename(f"home-exercises-{client.display_name}.pdf") or "home-exercises.pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.cache_control.private = True
    response.cache_control.no_store = True
    return response

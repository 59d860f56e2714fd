"""The coach's view of her clients: the list (sortable by flags and adherence), a client page
with the plan and its edit actions, adherence, pain, flags and notes."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm.accounts.access import coach_required
from crm.forms import parse_day
from crm.time import utcnow, zone
from extensions import db
from programs.client_list import add_note as add_client_note
from programs.client_list import client_overview, client_user, notes_for, set_pain_threshold
from programs.engine import ProfileError
from programs.errors import PortalError
from programs.flags import open_flags, sync_flags
from programs.flags import resolve_flag as resolve_coach_flag
from programs.forms import (
    ConfirmForm,
    IntakeForm,
    IntervalsForm,
    MoveSessionForm,
    NoteForm,
    SkipSessionForm,
    SwapExerciseForm,
    ThresholdForm,
)
from programs.intake import regenerate_plan, submit_intake
from programs.library import current_library
from programs.plan_edits import (
    move_session,
    set_intervals,
    skip_session,
    swap_exercise,
    swap_options,
)
from programs.plans import active_plan, runner_profile
from programs.progress import progress
from programs.routes import _attach_errors, charts, plan_context
from programs.strength import RATING_LABELS, exercise_histories
from programs.today import local_today

bp = Blueprint("clients", __name__, url_prefix="/coach/clients")


def _coach_today() -> date:
    try:
        return utcnow().astimezone(zone(current_user.timezone)).date()
    except ValueError:
        return utcnow().date()


def _client_or_404(user_id: int):
    user = client_user(db.session, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("")
@coach_required
def client_list():
    sort = request.args.get("sort", "flags")
    if sort not in ("flags", "adherence", "name"):
        sort = "flags"
    rows = client_overview(db.session, _coach_today(), sort)
    return render_template("clients/list.html", rows=rows, sort=sort)


@bp.get("/<int:user_id>")
@coach_required
def client_detail(user_id: int):
    return _detail(user_id)


def _detail(user_id: int, status: int = 200, **forms):
    user = _client_or_404(user_id)
    record = active_plan(db.session, user_id)
    today = local_today(db.session, user_id)
    ctx: dict = {"client": user, "record": record, "today": today}
    if record is not None:
        sync_flags(db.session, user_id, today)
        db.session.commit()
        ctx.update(plan_context(record, today))
        data = progress(db.session, user_id, today)
        ctx["data"] = data
        ctx["charts"] = charts(data)
        library = current_library(db.session)
        ctx["exercise_histories"] = exercise_histories(db.session, user_id, ctx["plan"], today)
        ctx["rating_labels"] = RATING_LABELS
        ctx["swap_options"] = {
            item.exercise_id: swap_options(ctx["plan"], item.exercise_id, library)
            for s in ctx["plan"].sessions
            for item in (*s.items, *s.block)
        }
    profile = runner_profile(db.session, user_id)
    threshold = ThresholdForm()
    if profile is not None:
        threshold.pain_threshold.data = str(profile.pain_threshold)
    ctx.update(
        profile=profile,
        flags=open_flags(db.session, user_id),
        notes=notes_for(db.session, user_id),
        note_form=forms.get("note_form") or NoteForm(formdata=None),
        threshold_form=threshold,
        confirm_form=ConfirmForm(formdata=None),
        error_form=forms.get("error_form"),
    )
    return render_template("clients/detail.html", **ctx), status


def _parse_day(value: str | None) -> date:
    day = parse_day(value)
    if day is None:
        abort(400)
    return day


def _edit(user_id: int, form, action) -> object:
    """Run one coach edit: validate the form, call the service, report back on the page."""
    _client_or_404(user_id)
    if not form.validate_on_submit():
        return _detail(user_id, 422, error_form=form)
    try:
        action()
    except PortalError as exc:
        db.session.rollback()
        _attach_errors(form, {k or "session_date": v for k, v in exc.messages.items()})
        return _detail(user_id, 422, error_form=form)
    flash("Plan updated. The change is marked as yours; adaptation won't undo it.", "success")
    return redirect(url_for("clients.client_detail", user_id=user_id) + "#plan")


@bp.post("/<int:user_id>/swap")
@coach_required
def swap(user_id: int):
    form = SwapExerciseForm()
    return _edit(
        user_id,
        form,
        lambda: swap_exercise(
            db.session,
            user_id,
            _parse_day(form.session_date.data),
            form.kind.data,
            form.exercise_id.data,
            form.replacement.data,
            by=current_user.id,
        ),
    )


@bp.post("/<int:user_id>/move")
@coach_required
def move(user_id: int):
    form = MoveSessionForm()
    return _edit(
        user_id,
        form,
        lambda: move_session(
            db.session,
            user_id,
            _parse_day(form.session_date.data),
            form.kind.data,
            form.to_date.data,
            by=current_user.id,
        ),
    )


@bp.post("/<int:user_id>/skip")
@coach_required
def skip(user_id: int):
    form = SkipSessionForm()
    return _edit(
        user_id,
        form,
        lambda: skip_session(
            db.session,
            user_id,
            _parse_day(form.session_date.data),
            form.kind.data,
            by=current_user.id,
        ),
    )


@bp.post("/<int:user_id>/intervals")
@coach_required
def intervals(user_id: int):
    form = IntervalsForm()
    return _edit(
        user_id,
        form,
        lambda: set_intervals(
            db.session,
            user_id,
            _parse_day(form.session_date.data),
            form.repeats.data,
            form.run_seconds.data,
            form.walk_seconds.data,
            by=current_user.id,
        ),
    )


@bp.post("/<int:user_id>/notes")
@coach_required
def add_note(user_id: int):
    _client_or_404(user_id)
    form = NoteForm()
    if form.validate_on_submit():
        add_client_note(db.session, user_id, current_user.id, form.body.data)
        flash("Note added.", "success")
        return redirect(url_for("clients.client_detail", user_id=user_id) + "#notes")
    return _detail(user_id, 422, note_form=form)


@bp.post("/<int:user_id>/flags/<int:flag_id>/resolve")
@coach_required
def resolve_flag(user_id: int, flag_id: int):
    _client_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        flag = next((f for f in open_flags(db.session, user_id) if f.id == flag_id), None)
        if flag is None:
            abort(404)
        resolve_coach_flag(db.session, flag_id)
        flash("Flag resolved.", "success")
    return redirect(url_for("clients.client_detail", user_id=user_id) + "#flags")


@bp.post("/<int:user_id>/threshold")
@coach_required
def threshold(user_id: int):
    _client_or_404(user_id)
    form = ThresholdForm()
    if form.validate_on_submit():
        try:
            set_pain_threshold(db.session, user_id, int(form.pain_threshold.data))
        except PortalError as exc:
            flash(next(iter(exc.messages.values())), "error")
        else:
            flash("Pain threshold saved.", "success")
    return redirect(url_for("clients.client_detail", user_id=user_id) + "#flags")


@bp.post("/<int:user_id>/regenerate")
@coach_required
def regenerate(user_id: int):
    _client_or_404(user_id)
    if ConfirmForm().validate_on_submit():
        try:
            regenerate_plan(db.session, user_id)
        except (PortalError, ProfileError) as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            flash("New plan generated from her profile. Her logs are kept.", "success")
    return redirect(url_for("clients.client_detail", user_id=user_id))


@bp.route("/<int:user_id>/profile", methods=["GET", "POST"])
@coach_required
def edit_profile(user_id: int):
    """The coach changes the intake answers; saving regenerates the plan (logs kept)."""
    user = _client_or_404(user_id)
    profile = runner_profile(db.session, user_id)
    form = IntakeForm()
    if request.method == "GET":
        if profile is not None:
            form.fill_from(profile.profile, profile.timezone)
        else:
            form.timezone.data = user.timezone
            form.start_date.data = local_today(db.session, user_id)
    if form.validate_on_submit():
        try:
            submit_intake(db.session, user_id, form.profile_values())
        except ProfileError as exc:
            db.session.rollback()
            _attach_errors(form, exc.messages)
        else:
            flash("Profile saved and a new plan generated. Her logs are kept.", "success")
            return redirect(url_for("clients.client_detail", user_id=user_id))
    return render_template("clients/profile.html", form=form, client=user)


def client_page(session, user_id: int) -> str | None:
    """The URL of the coach's page for this runner, once she has a plan (the lead page links it)."""
    if active_plan(session, user_id) is None:
        return None
    return url_for("clients.client_detail", user_id=user_id)

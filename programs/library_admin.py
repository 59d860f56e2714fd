"""The coach's exercise library: every exercise (built-in and hers) with search, filters and
the coverage grid; a page per exercise; add, edit and switch off her own. The engine's
``validate_exercise`` judges every form; ``programs.library.current_library`` is what plans use."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from crm.accounts.access import coach_required
from crm.accounts.models import Role
from crm.articles.images import ImageRejected
from crm.forms import choices
from crm.storage import StorageUnavailable
from extensions import db
from programs.demos import DemoRejected, add_photo, add_video, demos_for, remove_media, upload_limit
from programs.engine import LibraryError
from programs.engine.library import DIRECTIONS, KNEE_POSITIONS
from programs.forms import (
    DIRECTION_CHOICES,
    EXERCISE_EQUIPMENT_CHOICES,
    KNEE_CHOICES,
    POSITION_CHOICES,
    ConfirmForm,
    DemoForm,
    ExerciseFilterForm,
    ExerciseForm,
)
from programs.library import (
    CatalogueEntry,
    coach_exercise,
    current_library,
    exercise_catalogue,
    library_coverage,
    library_grid_gaps,
    library_message,
    save_coach_exercise,
    set_coach_exercise_active,
)
from programs.strength_models import MediaKind

bp = Blueprint("exercises", __name__, url_prefix="/coach/exercises")

LABELS = {
    "direction": dict(DIRECTION_CHOICES),
    "knee": dict(KNEE_CHOICES),
    "position": dict(POSITION_CHOICES),
    "equipment": dict(EXERCISE_EQUIPMENT_CHOICES),
}


@bp.context_processor
def _labels() -> dict:
    return {"labels": LABELS, "directions": DIRECTIONS, "knee_positions": KNEE_POSITIONS}


@bp.get("")
@coach_required
def exercise_list():
    form = ExerciseFilterForm(request.args)
    filters = {
        k: v
        for k, v in form.data.items()
        if k in ("q", "direction", "knee", "position", "equipment")
    }
    if not form.validate():
        filters = {}
    entries = exercise_catalogue(db.session, **{k: v or "" for k, v in filters.items()})
    library = current_library(db.session)
    return render_template(
        "exercises/list.html",
        form=form,
        entries=entries,
        filtered=any(filters.values()),
        coverage=library_coverage(library),
        grid_gaps=library_grid_gaps(db.session),
    )


def _entry_or_404(slug: str) -> CatalogueEntry:
    entry = next((e for e in exercise_catalogue(db.session) if e.exercise.id == slug), None)
    if entry is None:
        abort(404)
    return entry


@bp.get("/<slug>")
@coach_required
def exercise_detail(slug: str):
    return _detail_page(slug)


def _detail_page(slug: str, demo_form: DemoForm | None = None, status: int = 200):
    entry = _entry_or_404(slug)
    library = current_library(db.session)
    return render_template(
        "exercises/detail.html",
        entry=entry,
        ex=entry.exercise,
        library=library,
        confirm_form=ConfirmForm(formdata=None),
        demo=demos_for(db.session, [slug]).get(slug),
        demo_form=demo_form or DemoForm(formdata=None),
    ), status


def current_user_role() -> Role | None:
    return getattr(current_user, "role", None) if current_user.is_authenticated else None


@bp.url_value_preprocessor
def _video_upload_limit(endpoint: str | None, values: dict | None) -> None:
    # Before any hook reads the form: a video may be larger than other requests' bodies.
    if endpoint == "exercises.upload_demo":
        request.max_content_length = upload_limit()


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(exc: RequestEntityTooLarge):
    """A file beyond the video limit: the coach's form again with the reason on it."""
    if request.endpoint != "exercises.upload_demo" or current_user_role() != Role.COACH:
        return exc
    form = DemoForm(formdata=None)
    megabytes = current_app.config["DEMO_VIDEO_MAX_MB"]
    form.file.errors = [f"That file is too large: videos must be under {megabytes} MB."]
    return _detail_page((request.view_args or {}).get("slug", ""), form, 413)


@bp.post("/<slug>/demo")
@coach_required
def upload_demo(slug: str):
    """A photo (start or end position) or a short video of the exercise."""
    _entry_or_404(slug)
    form = DemoForm()
    if not form.validate_on_submit():
        return _detail_page(slug, form, 422)
    kind = MediaKind(form.kind.data)
    data = form.file.data.read(upload_limit() + 1)
    try:
        if kind == MediaKind.VIDEO:
            add_video(db.session, slug, data)
        else:
            add_photo(db.session, slug, kind, data)
    except (DemoRejected, ImageRejected) as exc:
        db.session.rollback()
        form.file.errors = [str(exc)]
        return _detail_page(slug, form, 422)
    except StorageUnavailable:
        db.session.rollback()
        form.file.errors = ["The file store isn't answering; nothing was saved. Try again."]
        return _detail_page(slug, form, 503)
    if kind == MediaKind.VIDEO:
        flash("Video received. It shows here once it is ready for phones.", "success")
    else:
        flash("Photo saved.", "success")
    return redirect(url_for("exercises.exercise_detail", slug=slug) + "#demo")


@bp.post("/<slug>/demo/<kind>/delete")
@coach_required
def delete_demo(slug: str, kind: str):
    if not ConfirmForm().validate_on_submit() or kind not in {k.value for k in MediaKind}:
        abort(400)
    _entry_or_404(slug)
    if remove_media(db.session, slug, MediaKind(kind)):
        flash("Removed.", "success")
    return redirect(url_for("exercises.exercise_detail", slug=slug) + "#demo")


def _link_choices(form: ExerciseForm, own_id: str | None) -> None:
    library = current_library(db.session)
    options = choices([("", "None")]) + choices(
        (ex.id, f"{ex.name} ({LABELS['direction'][ex.direction].split(' (')[0].lower()})")
        for ex in sorted(library.exercises, key=lambda e: DIRECTIONS.index(e.direction))
        if ex.id != own_id
    )
    form.easier.choices = options
    form.harder.choices = options


def _save(form: ExerciseForm, slug: str | None):
    """Validate through the engine and save; on error the form again, every message on its
    field."""
    if form.validate_on_submit():
        try:
            row = save_coach_exercise(db.session, form.exercise_values(), slug)
        except LibraryError as exc:
            db.session.rollback()
            for problem in exc.problems:
                form.engine_error(problem.field, library_message(problem))
        else:
            flash(f"Saved. New plans and adaptations can now use {row.name}.", "success")
            return redirect(url_for("exercises.exercise_detail", slug=row.slug))
    return render_template("exercises/form.html", form=form, slug=slug), (
        422 if request.method == "POST" else 200
    )


@bp.route("/new", methods=["GET", "POST"])
@coach_required
def new_exercise():
    form = ExerciseForm()
    _link_choices(form, None)
    return _save(form, None)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@coach_required
def edit_exercise(slug: str):
    row = coach_exercise(db.session, slug)
    if row is None:
        abort(404)
    form = ExerciseForm()
    _link_choices(form, slug)
    if request.method == "GET":
        form.fill_from(row.to_engine_dict())
    return _save(form, slug)


def _set_active(slug: str, active: bool):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        row = set_coach_exercise_active(db.session, slug, active)
    except LibraryError as exc:
        db.session.rollback()
        if coach_exercise(db.session, slug) is None:
            abort(404)
        problems = "; ".join(f"its {p.field or 'id'} {library_message(p)}" for p in exc.problems)
        flash(f"Can't switch it back on: {problems}. Edit it first.", "error")
    else:
        if active:
            flash(f"{row.name} is back in the library for new plans.", "success")
        else:
            flash(
                f"{row.name} is switched off: new plans won't use it; plans that have it keep it.",
                "success",
            )
    return redirect(url_for("exercises.exercise_detail", slug=slug))


@bp.post("/<slug>/deactivate")
@coach_required
def deactivate_exercise(slug: str):
    return _set_active(slug, False)


@bp.post("/<slug>/activate")
@coach_required
def activate_exercise(slug: str):
    return _set_active(slug, True)

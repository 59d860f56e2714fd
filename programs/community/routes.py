"""Community pages: the feed, a post with its replies, settings; the coach's moderation.

Every member route goes through `member_required` and every service re-checks the acting user,
so a guessed post id (IDOR) answers 404 exactly like a post that does not exist.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import wraps

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from crm.accounts.access import coach_required, private_page
from crm.articles import images
from crm.forms import bounded_id, safe_next
from extensions import db, limiter, login_manager
from programs.community.feed import feed as member_feed
from programs.community.feed import post_view, visible_photo
from programs.community.forms import (
    ActionForm,
    CommentForm,
    MilestoneForm,
    PostForm,
    ReportForm,
    SettingsForm,
    ThreadForm,
)
from programs.community.members import (
    is_member,
    is_muted,
    is_new_member,
    member_settings,
    needs_display_name,
    save_settings,
)
from programs.community.moderation import create_thread as start_thread
from programs.community.moderation import delete_post as remove_post
from programs.community.moderation import dismiss_reports as clear_reports
from programs.community.moderation import ensure_welcome_post, set_hidden, set_muted, set_pinned
from programs.community.moderation import hide_comment as hide_reply
from programs.community.moderation import moderation as moderation_queue
from programs.community.posts import add_comment as write_comment
from programs.community.posts import create_post as write_post
from programs.community.posts import report_post, toggle_reaction
from programs.community.posts import share_milestone as post_milestone
from programs.community.rules import MILESTONES, REACTIONS, CommunityError, NotFound

bp = Blueprint("community", __name__)


def member_required(view: Callable) -> Callable:
    """Anonymous → login; not a client (or no longer one) → a 403 page that says why."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not is_member(db.session, current_user.id):
            return render_template("community/no_access.html"), 403
        return view(*args, **kwargs)

    return private_page(wrapped)


def _back(default: str):
    return redirect(safe_next(request.form.get("next"), default))


def _photo(form) -> bytes | None:
    upload = form.photo.data
    if not upload or not upload.filename:
        return None
    return upload.read(images.MAX_UPLOAD_BYTES + 1)


def _flash_error(exc: CommunityError) -> None:
    flash(exc.message, "error")


# --- members ---------------------------------------------------------------------------------


@bp.get("/community")
@member_required
def feed():
    if needs_display_name(db.session, current_user.id):
        return redirect(url_for("community.profile", next=url_for("community.feed")))
    return _feed_page(PostForm(), before=request.args.get("before", type=bounded_id))


def _feed_page(form: PostForm, before: int | None = None, status: int = 200):
    data = member_feed(db.session, current_user.id, before=before)
    return (
        render_template(
            "community/feed.html",
            feed=data,
            form=form,
            action_form=ActionForm(),
            thread_form=ThreadForm(formdata=None) if current_user.is_coach else None,
            reactions=REACTIONS,
            milestones=MILESTONES,
            muted=is_muted(db.session, current_user.id),
            new_member=is_new_member(db.session, current_user.id),
            before=before,
        ),
        status,
    )


@bp.post("/community/posts")
@member_required
@limiter.limit("20/hour")
def create_post():
    form = PostForm()
    if form.validate_on_submit():
        try:
            write_post(db.session, current_user.id, form.body.data or "", _photo(form))
        except CommunityError as exc:
            target = form.photo if exc.field == "photo" else form.body
            target.errors = [*target.errors, exc.message]
        else:
            flash("Posted.", "success")
            return redirect(url_for("community.feed"))
    return _feed_page(form, status=422)


@bp.get("/community/posts/<int:post_id>")
@member_required
def post_detail(post_id: int):
    return _post_page(post_id, CommentForm(formdata=None))


def _post_page(post_id: int, form: CommentForm, status: int = 200):
    try:
        view, names = post_view(db.session, current_user.id, post_id)
    except NotFound:
        abort(404)
    return (
        render_template(
            "community/post.html",
            view=view,
            names=names,
            form=form,
            report_form=ReportForm(formdata=None),
            action_form=ActionForm(),
            reactions=REACTIONS,
            milestones=MILESTONES,
        ),
        status,
    )


@bp.post("/community/posts/<int:post_id>/comments")
@member_required
@limiter.limit("60/hour")
def add_comment(post_id: int):
    form = CommentForm()
    if form.validate_on_submit():
        try:
            write_comment(db.session, current_user.id, post_id, form.body.data)
        except NotFound:
            abort(404)
        except CommunityError as exc:
            form.body.errors = [*form.body.errors, exc.message]
        else:
            return redirect(url_for("community.post_detail", post_id=post_id) + "#replies")
    return _post_page(post_id, form, status=422)


@bp.post("/community/posts/<int:post_id>/react")
@member_required
def react(post_id: int):
    if ActionForm().validate_on_submit():
        try:
            toggle_reaction(db.session, current_user.id, post_id, request.form.get("emoji", ""))
        except NotFound:
            abort(404)
        except CommunityError as exc:
            _flash_error(exc)
    return _back(url_for("community.feed") + f"#post-{post_id}")


@bp.post("/community/posts/<int:post_id>/report")
@member_required
def report(post_id: int):
    form = ReportForm()
    if form.validate_on_submit():
        try:
            report_post(db.session, current_user.id, post_id, form.reason.data or "")
        except NotFound:
            abort(404)
        flash("Thank you — the coach will take a look.", "success")
    return redirect(url_for("community.post_detail", post_id=post_id))


@bp.post("/community/milestones")
@member_required
@limiter.limit("20/hour")
def share_milestone():
    form = MilestoneForm()
    if form.validate_on_submit():
        try:
            post = post_milestone(db.session, current_user.id, form.kind.data, form.text.data or "")
        except CommunityError as exc:
            _flash_error(exc)
        else:
            flash("Shared with the community. Well done!", "success")
            return _back(url_for("community.feed") + f"#post-{post.id}")
    else:
        flash("That milestone could not be shared.", "error")
    return _back(url_for("community.feed"))


@bp.route("/community/profile", methods=["GET", "POST"])
@member_required
def profile():
    settings = member_settings(db.session, current_user.id)
    form = SettingsForm(obj=settings)
    if request.method == "GET" and settings is None:
        form.display_name.data = current_user.first_name
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                save_settings(
                    db.session,
                    current_user.id,
                    display_name=form.display_name.data,
                    notify_replies=form.notify_replies.data,
                    weekly_digest=form.weekly_digest.data,
                )
            except CommunityError as exc:
                form.display_name.errors = [*form.display_name.errors, exc.message]
            else:
                if settings is None:  # she just joined: never an empty feed
                    ensure_welcome_post(db.session)
                flash("Saved.", "success")
                return _back(url_for("community.feed"))
    return render_template(
        "community/profile.html", form=form, first_time=settings is None,
        next=request.args.get("next", ""),
    ), status  # fmt: skip


@bp.get("/community/photos/<key>")
@member_required
def photo(key: str):
    try:
        data = visible_photo(db.session, current_user.id, key)
    except NotFound:
        abort(404)
    # A key names one picture for ever (a new upload gets a new key): it is a strong ETag.
    response = send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=3600, etag=key)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# --- the coach -------------------------------------------------------------------------------


@bp.get("/coach/community")
@coach_required
def moderation():
    return render_template(
        "community/moderation.html",
        data=moderation_queue(db.session, current_user.id),
        action_form=ActionForm(),
        thread_form=ThreadForm(formdata=None),
    )


@bp.post("/coach/community/threads")
@coach_required
def create_thread():
    form = ThreadForm()
    if form.validate_on_submit():
        try:
            start_thread(db.session, current_user.id, form.title.data, form.body.data)
        except CommunityError as exc:
            _flash_error(exc)
        else:
            flash("Thread pinned to the top of the feed.", "success")
            return redirect(url_for("community.feed"))
    else:
        flash("Give the thread a title.", "error")
    return redirect(url_for("community.moderation"))


def _coach_action(action: Callable[[], object], done: str, post_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action()
    except NotFound:
        abort(404)
    flash(done, "success")
    return _back(url_for("community.moderation"))


@bp.post("/coach/community/posts/<int:post_id>/hide")
@coach_required
def hide_post(post_id: int):
    return _coach_action(
        lambda: set_hidden(db.session, current_user.id, post_id, True),
        "Post hidden. Only you can see it now.",
        post_id,
    )


@bp.post("/coach/community/posts/<int:post_id>/unhide")
@coach_required
def unhide_post(post_id: int):
    return _coach_action(
        lambda: set_hidden(db.session, current_user.id, post_id, False),
        "Post visible again.",
        post_id,
    )


@bp.post("/coach/community/posts/<int:post_id>/delete")
@coach_required
def delete_post(post_id: int):
    return _coach_action(
        lambda: remove_post(db.session, current_user.id, post_id),
        "Post deleted.",
        post_id,
    )


@bp.post("/coach/community/posts/<int:post_id>/pin")
@coach_required
def pin_post(post_id: int):
    pinned = request.form.get("pinned") == "1"
    return _coach_action(
        lambda: set_pinned(db.session, current_user.id, post_id, pinned),
        "Pinned." if pinned else "Unpinned.",
        post_id,
    )


@bp.post("/coach/community/posts/<int:post_id>/dismiss")
@coach_required
def dismiss_reports(post_id: int):
    return _coach_action(
        lambda: clear_reports(db.session, current_user.id, post_id),
        "Reports dismissed.",
        post_id,
    )


@bp.post("/coach/community/comments/<int:comment_id>/hide")
@coach_required
def hide_comment(comment_id: int):
    return _coach_action(
        lambda: hide_reply(db.session, current_user.id, comment_id),
        "Reply hidden.",
        comment_id,
    )


@bp.post("/coach/community/members/<int:user_id>/mute")
@coach_required
def mute_member(user_id: int):
    muted = request.form.get("muted", "1") == "1"
    return _coach_action(
        lambda: set_muted(db.session, current_user.id, user_id, muted),
        "Member muted: she can read but not post." if muted else "Member can post again.",
        user_id,
    )

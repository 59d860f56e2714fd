from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from crm.accounts import services
from crm.accounts.access import coach_required, signed_in_required
from crm.accounts.forms import (
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    ResetRequestForm,
    SetPasswordForm,
)
from crm.accounts.sessions import end_login_session
from crm.forms import safe_next
from crm.time import utcnow
from extensions import db, limiter

bp = Blueprint("accounts", __name__)


def home_for(user) -> str:
    if user.is_coach:
        return url_for("dashboard.home") if "dashboard.home" in _endpoints() else "/"
    return url_for("portal.today") if "portal.today" in _endpoints() else "/"


def _endpoints() -> set[str]:
    return {rule.endpoint for rule in current_app.url_map.iter_rules()}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute;50/hour", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            form.password.errors.append("That email and password don't match an account.")
        else:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next"), home_for(user)))
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@signed_in_required
def logout():
    # The server forgets this sign-in: a copy of the cookie no longer works either.
    end_login_session(db.session, session.get("_user_id"))
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("site.landing"))


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("5/minute;20/hour", methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(db.session, form.email.data)
        # The same answer whether or not the account exists.
        flash("If that email has an account, a reset link is on its way.", "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_request.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def reset_password(token: str):
    if request.method == "GET" and not services.reset_token_is_live(db.session, token):
        flash("This reset link is not valid any more. Ask for a new one.", "error")
        return redirect(url_for("accounts.reset_request"))
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = services.reset_password(db.session, token, form.password.data)
        except services.AccountError as exc:
            flash(str(exc), "error")
            return redirect(url_for("accounts.reset_request"))
        logout_user()
        login_user(user)
        flash("Your password is saved. You are signed out on every other device.", "success")
        return redirect(home_for(user))
    return render_template("accounts/reset_password.html", form=form)


# --- the signed-in user's account ---------------------------------------------------------------


@bp.get("/account")
@signed_in_required
def account():
    return render_template(
        "accounts/account.html", form=ChangePasswordForm(formdata=None), confirm_form=ConfirmForm()
    )


@bp.post("/account/password")
@signed_in_required
@limiter.limit("10/minute")
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(db.session, user, form.current.data, form.password.data)
        except services.AccountError as exc:
            field = form.current if exc.field == "current" else form.password
            field.errors = [*field.errors, str(exc)]
        else:
            # Every sign-in ended, this one too: sign this browser in again.
            logout_user()
            login_user(user)
            flash("Password changed. You are signed out on every other device.", "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/account.html", form=form, confirm_form=ConfirmForm()), 422


@bp.post("/account/sign-out-everywhere")
@signed_in_required
def sign_out_everywhere():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.sign_out_everywhere(db.session, current_user.id)
    logout_user()
    flash("You are signed out on every device, this one too.", "info")
    return redirect(url_for("accounts.login"))


# --- the coach's API tokens ---------------------------------------------------------------------


@bp.get("/coach/api-tokens")
@coach_required
def api_tokens():
    return render_template(
        "accounts/api_tokens.html",
        tokens=services.api_tokens(db.session, current_user.id),
        now=utcnow(),
        confirm_form=ConfirmForm(),
        days=current_app.config.get("API_TOKEN_DAYS", services.DEFAULT_API_TOKEN_DAYS),
    )


@bp.post("/coach/api-tokens/<int:token_id>/revoke")
@coach_required
def revoke_api_token(token_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        token = services.revoke_api_token(db.session, current_user, token_id)
    except services.AccountError:
        abort(404)
    flash(f"“{token.name}” is revoked: programs using it are refused from now on.", "success")
    return redirect(url_for("accounts.api_tokens"))

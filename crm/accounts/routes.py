from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from crm.accounts import services
from crm.accounts.forms import LoginForm, ResetRequestForm, SetPasswordForm
from crm.forms import safe_next
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
@login_required
def logout():
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
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = services.reset_password(db.session, token, form.password.data)
        except services.AccountError as exc:
            flash(str(exc), "error")
            return redirect(url_for("accounts.reset_request"))
        login_user(user)
        flash("Your password is saved.", "success")
        return redirect(home_for(user))
    return render_template("accounts/reset_password.html", form=form)

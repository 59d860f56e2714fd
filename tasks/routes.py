"""Outbox pages: the coach's outbox, an email as sent, and the public unsubscribe link."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from crm.accounts.access import coach_required
from extensions import csrf, db
from tasks import services
from tasks.models import EmailStatus, OutboxEmail, SuppressionReason
from tasks.outbox import OutboxError, read_unsubscribe_token, suppress_address, suppression_for

bp = Blueprint("outbox", __name__)

# An email's own HTML, shown as sent: no scripts, nothing loaded but images.
EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'"
)


@bp.get("/coach/outbox")
@coach_required
def index():
    status = request.args.get("status") or None
    if status and status not in {s.value for s in EmailStatus}:
        status = None
    before = request.args.get("before", type=int)
    emails = services.list_emails(db.session, status=status, before_id=before)
    return render_template(
        "outbox/index.html",
        emails=emails,
        status=status,
        statuses=[s.value for s in EmailStatus],
        counts=services.count_by_status(db.session),
        next_before=emails[-1].id if len(emails) == services.PAGE_SIZE else None,
    )


@bp.get("/coach/outbox/<int:email_id>")
@coach_required
def detail(email_id: int):
    return render_template("outbox/detail.html", email=db.get_or_404(OutboxEmail, email_id))


@bp.get("/coach/outbox/<int:email_id>/html")
@coach_required
def as_sent(email_id: int):
    response = make_response(db.get_or_404(OutboxEmail, email_id).html)
    response.headers["Content-Security-Policy"] = EMAIL_CSP
    return response


@bp.post("/coach/outbox/<int:email_id>/retry")
@coach_required
def retry(email_id: int):
    try:
        services.retry_email(db.session, email_id)
        flash("The email is queued again.", "success")
    except OutboxError as exc:
        flash(str(exc), "error")
    return redirect(_local(request.form.get("next")) or url_for("outbox.detail", email_id=email_id))


@bp.post("/coach/outbox/<int:email_id>/cancel")
@coach_required
def cancel(email_id: int):
    try:
        services.cancel_email(db.session, email_id)
        flash("The email is cancelled and will not be sent.", "success")
    except OutboxError as exc:
        flash(str(exc), "error")
    return redirect(_local(request.form.get("next")) or url_for("outbox.detail", email_id=email_id))


def _local(path: str | None) -> str | None:
    # Only paths on this site: a form field must not turn the button into an open redirect.
    return path if path and path.startswith("/") and not path.startswith("//") else None


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click: mail clients POST without a form token; the URL is signed
def unsubscribe(token: str):
    email = read_unsubscribe_token(token)
    if email is None:
        abort(404)
    if request.method == "POST":
        suppress_address(db.session, email, SuppressionReason.UNSUBSCRIBED)
        return render_template("outbox/unsubscribed.html", email=email)
    done = suppression_for(db.session, email) is not None
    return render_template("outbox/unsubscribe.html", email=email, token=token, done=done)

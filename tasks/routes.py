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
from flask_login import current_user

from crm.accounts.access import coach_required
from crm.forms import bounded_id, choices, safe_next
from extensions import csrf, db
from tasks import editor, services
from tasks.consent import suppress_address, suppression_for
from tasks.forms import TemplateForm
from tasks.models import EmailStatus, OutboxEmail, SuppressionReason
from tasks.outbox import OutboxError
from tasks.overrides import (
    TemplateRefused,
    get_override,
    overrides,
    placeholders,
    reset_override,
    save_override,
)
from tasks.render import as_shown, read_unsubscribe_token

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
    before = request.args.get("before", type=bounded_id)
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
    email = db.get_or_404(OutboxEmail, email_id)
    _html, text = as_shown(db.session, email)
    return render_template("outbox/detail.html", email=email, text=text)


@bp.get("/coach/outbox/<int:email_id>/html")
@coach_required
def as_sent(email_id: int):
    response = make_response(as_shown(db.session, db.get_or_404(OutboxEmail, email_id))[0])
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
    return redirect(
        safe_next(request.form.get("next"), url_for("outbox.detail", email_id=email_id))
    )


@bp.post("/coach/outbox/<int:email_id>/cancel")
@coach_required
def cancel(email_id: int):
    try:
        services.cancel_email(db.session, email_id)
        flash("The email is cancelled and will not be sent.", "success")
    except OutboxError as exc:
        flash(str(exc), "error")
    return redirect(
        safe_next(request.form.get("next"), url_for("outbox.detail", email_id=email_id))
    )


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


# --- sequences and templates editor ------------------------------------------------------------


@bp.get("/coach/sequences")
@coach_required
def sequences():
    return render_template(
        "sequences/index.html", sequences=editor.sequences(), overrides=overrides(db.session)
    )


def _parse_delays(raw: str | None) -> list[int] | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return [int(part) for part in raw.replace(";", ",").split(",") if part.strip()]
    except ValueError:
        raise TemplateRefused({"delays": "Delays are whole hours, like 0, 48, 120."}) from None


@bp.route("/coach/sequences/<template>", methods=["GET", "POST"])
@coach_required
def edit_template(template: str):
    step = editor.step(template)
    if step is None:
        abort(404)
    override = get_override(db.session, template)
    form = TemplateForm(obj=None)
    form.contact.choices = choices([("", "Sample data"), *editor.contacts(db.session)])
    if request.method == "GET":
        form.subject.data = override.subject if override else ""
        form.body.data = override.body if override else ""
        delays = override.delay_hours if override and override.delay_hours else step.delays
        form.delays.data = ", ".join(str(h) for h in delays) if delays else ""
        form.contact.data = request.args.get("contact", "")
    preview = None
    if form.validate_on_submit():
        try:
            delays = _parse_delays(form.delays.data) if step.delays else None
            if form.action.data == "preview":
                preview = editor.preview(
                    db.session,
                    template,
                    form.contact.data,
                    subject=form.subject.data,
                    body=form.body.data,
                )
            else:
                save_override(
                    db.session,
                    template,
                    subject=form.subject.data or "",
                    body=form.body.data or "",
                    delays=delays if delays != list(step.delays or ()) else None,
                    preview_context=editor.contact_context(db.session, template, form.contact.data),
                    actor_id=current_user.id,
                )
                flash("Saved: this email now uses your version.", "success")
                return redirect(url_for("outbox.edit_template", template=template,
                                        contact=form.contact.data or None))  # fmt: skip
        except TemplateRefused as exc:
            for field, message in exc.messages.items():
                getattr(form, field, form.body).errors.append(message)
    if preview is None and not form.errors:
        preview = editor.preview(db.session, template, form.contact.data)
    return render_template(
        "sequences/edit.html",
        step=step,
        form=form,
        override=override,
        placeholders=placeholders(template),
        preview=preview,
    )


@bp.post("/coach/sequences/<template>/test")
@coach_required
def send_template_test(template: str):
    if editor.step(template) is None:
        abort(404)
    contact = request.form.get("contact") or None
    editor.send_test(db.session, template, contact, current_user)
    flash(f"A test is on its way to {current_user.email}.", "success")
    return redirect(url_for("outbox.edit_template", template=template, contact=contact))


@bp.post("/coach/sequences/<template>/reset")
@coach_required
def reset_template(template: str):
    if editor.step(template) is None:
        abort(404)
    reset_override(db.session, template)
    flash("Back to the built-in email.", "success")
    return redirect(url_for("outbox.edit_template", template=template))

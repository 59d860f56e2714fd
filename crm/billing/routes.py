"""Billing pages: the coach's programmes, payments and client billing; the public offer page,
the offline test checkout and the "you're in" page. Views parse, call one service, render."""

from __future__ import annotations

import csv
import io
import secrets
import time
from datetime import datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user
from sqlalchemy import select
from wtforms import SelectChoice

from crm.accounts.access import coach_required
from crm.accounts.services import AccountError, make_reset_token, reset_password
from crm.billing import access as plan_access  # the view `access` takes the module's name
from crm.billing import catalogue, checkout, offers, refunds, reports, stripe_events
from crm.billing import stripe_gateway as gateway
from crm.billing.errors import BillingError, OfferUnavailable
from crm.billing.forms import (
    ChoosePriceForm,
    ConfirmForm,
    PriceForm,
    ProgrammeForm,
    RefundForm,
    SendOfferForm,
    SetPasswordForm,
    SettingsForm,
)
from crm.billing.models import CheckoutAttempt, Enrolment, Payment, PaymentStatus, Price, Programme
from crm.billing.money import format_money
from crm.forms import bounded_id, choices, parse_day
from crm.leads.models import Lead
from crm.leads.services import spreadsheet_cells
from crm.time import zone
from extensions import db, limiter

bp = Blueprint("billing", __name__)


_EVENT_WORDS = (
    ("charge.dispute.", "A dispute"),
    ("charge.refund", "A refund"),
    ("refund.", "A refund"),
    ("invoice.payment_failed", "A failed instalment"),
    ("invoice.", "An instalment"),
    ("customer.subscription.", "A change to an instalment plan"),
    ("checkout.session.", "A checkout"),
)


def event_words(kind: str) -> str:
    """A Stripe event type in the coach's words."""
    return next((words for prefix, words in _EVENT_WORDS if kind.startswith(prefix)), kind)


@bp.app_template_filter("money")
def _money_filter(cents: int, currency: str = "usd") -> str:
    return format_money(cents or 0, currency)


def _programme_choices() -> list[SelectChoice]:
    on_sale = select(Programme.id, Programme.name).where(catalogue.on_sale())
    return choices(db.session.execute(on_sale.order_by(Programme.name)))


# --- the coach: programmes and prices ---------------------------------------------------------


@bp.get("/coach/programmes")
@coach_required
def programmes():
    settings = catalogue.get_settings(db.session)
    db.session.commit()
    settings_form = SettingsForm(obj=settings)
    rows = db.session.scalars(select(Programme).order_by(Programme.active.desc(), Programme.name))
    return render_template(
        "billing/programmes.html",
        programmes=list(rows),
        settings_form=settings_form,
        sync_form=ConfirmForm(),
        stripe_configured=not gateway.is_offline(),
    )


def _save_programme_form(form: ProgrammeForm, programme_id: int | None) -> Programme | None:
    """Save a valid submitted programme form; a refusal becomes a message on the weeks field."""
    if not form.validate_on_submit():
        return None
    try:
        return catalogue.save_programme(
            db.session,
            programme_id=programme_id,
            name=form.name.data,
            description=form.description.data or "",
            weeks=form.weeks.data,
            active=form.active.data,
        )
    except BillingError as exc:
        form.weeks.errors.append(str(exc))
        return None


@bp.route("/coach/programmes/new", methods=["GET", "POST"])
@coach_required
def programme_new():
    form = ProgrammeForm()
    programme = _save_programme_form(form, None)
    if programme is not None:
        flash("Programme saved. Now add its prices.", "success")
        return redirect(url_for("billing.programme_edit", programme_id=programme.id))
    return render_template("billing/programme_form.html", form=form, programme=None)


@bp.route("/coach/programmes/<int:programme_id>", methods=["GET", "POST"])
@coach_required
def programme_edit(programme_id: int):
    programme = db.get_or_404(Programme, programme_id)
    form = ProgrammeForm(obj=programme)
    if _save_programme_form(form, programme.id) is not None:
        flash("Programme saved.", "success")
        return redirect(url_for("billing.programme_edit", programme_id=programme.id))
    return render_template(
        "billing/programme_form.html",
        form=form,
        programme=programme,
        price_form=PriceForm(prefix="price"),
        retire_form=ConfirmForm(),
    )


@bp.post("/coach/programmes/<int:programme_id>/prices")
@coach_required
def price_add(programme_id: int):
    programme = db.get_or_404(Programme, programme_id)
    price_form = PriceForm(prefix="price")
    if price_form.validate_on_submit():
        try:
            catalogue.add_price(
                db.session,
                programme.id,
                kind=price_form.kind.data,
                amount_cents=price_form.amount.cents,
                instalments=price_form.instalments.data,
            )
        except BillingError as exc:
            price_form.amount.errors.append(str(exc))
        else:
            flash("Price added.", "success")
            return redirect(url_for("billing.programme_edit", programme_id=programme.id))
    return render_template(
        "billing/programme_form.html",
        form=ProgrammeForm(obj=programme),
        programme=programme,
        price_form=price_form,
        retire_form=ConfirmForm(),
    ), 422


@bp.post("/coach/prices/<int:price_id>/retire")
@coach_required
def price_retire(price_id: int):
    price = db.get_or_404(Price, price_id)
    if ConfirmForm().validate_on_submit():
        catalogue.retire_price(db.session, price.id)
        flash("Price retired: it is no longer offered.", "success")
    return redirect(url_for("billing.programme_edit", programme_id=price.programme_id))


@bp.post("/coach/billing/settings")
@coach_required
def settings_save():
    form = SettingsForm()
    if form.validate_on_submit():
        catalogue.save_settings(
            db.session, grace_days=form.grace_days.data, offer_valid_days=form.offer_valid_days.data
        )
        flash("Billing settings saved.", "success")
    else:
        for field, errors in form.errors.items():
            flash(f"{form[field].label.text}: {' '.join(errors)}", "error")
    return redirect(url_for("billing.programmes"))


@bp.post("/coach/programmes/sync")
@coach_required
def stripe_sync():
    if ConfirmForm().validate_on_submit():
        try:
            report = catalogue.stripe_sync(db.session)
        except (BillingError, gateway.GatewayError) as exc:
            flash(str(exc), "error")
        else:
            flash("Stripe is in sync: " + "; ".join(line.strip() for line in report), "success")
    return redirect(url_for("billing.programmes"))


# --- the coach: offers ------------------------------------------------------------------------


@bp.post("/coach/leads/<int:lead_id>/offer")
@coach_required
def send_offer(lead_id: int):
    lead = db.get_or_404(Lead, lead_id)
    form = SendOfferForm(prefix="offer")
    form.programme_id.choices = _programme_choices()
    back = (
        request.referrer
        if request.referrer and request.referrer.startswith(request.host_url)
        else url_for("billing.programmes")
    )
    if not form.validate_on_submit():
        flash("Choose a programme with a price before sending an offer.", "error")
        return redirect(back)
    try:
        offer = offers.send_offer(
            db.session, lead.id, form.programme_id.data, actor_id=current_user.id
        )
    except BillingError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Offer sent to {lead.email}. Link: {offers.offer_url(offer)}", "success")
    return redirect(back)


# --- the coach: payments ledger and client billing --------------------------------------------


def _parse_day(value: str | None) -> datetime | None:
    day = parse_day(value)
    if day is None:
        return None
    midnight = datetime.min.time()
    return datetime.combine(day, midnight, tzinfo=zone(current_app.config["COACH_TIMEZONE"]))


def _ledger_filters():
    status = request.args.get("status") or None
    if status not in {s.value for s in PaymentStatus}:
        status = None
    start = _parse_day(request.args.get("from"))
    end = _parse_day(request.args.get("to"))
    return status, start, (end + timedelta(days=1)) if end else None


@bp.get("/coach/payments")
@coach_required
def payments():
    status, start, end = _ledger_filters()
    page = max(request.args.get("page", 1, type=bounded_id) or 1, 1)
    stmt = reports.payments_query(status=status, start=start, end=end)
    rows = db.paginate(stmt, page=page, per_page=50, error_out=False)
    summary = reports.revenue_summary(db.session)
    settings = catalogue.get_settings(db.session)
    waiting = stripe_events.waiting_events(db.session)
    disputes = reports.open_disputes(db.session)
    db.session.commit()
    return render_template(
        "billing/payments.html",
        rows=rows,
        summary=summary,
        statuses=[s.value for s in PaymentStatus],
        settings=settings,
        waiting=waiting,
        event_words=event_words,
        disputes=disputes,
        filter_args={k: v for k, v in request.args.items() if k in ("status", "from", "to") and v},
    )


@bp.get("/coach/payments.csv")
@coach_required
def payments_csv():
    status, start, end = _ledger_filters()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "payment_id",
            "date_utc",
            "client",
            "email",
            "programme",
            "description",
            "amount",
            "refunded",
            "currency",
            "status",
            "stripe_id",
        ]
    )
    for p in db.session.scalars(reports.payments_query(status=status, start=start, end=end)):
        user = p.enrolment.user
        writer.writerow(
            spreadsheet_cells(
                [
                    p.id,
                    (p.paid_at or p.created_at).isoformat(),
                    user.display_name,
                    user.email,
                    p.enrolment.programme.name,
                    p.description,
                    f"{p.amount_cents / 100:.2f}",
                    f"{p.refunded_cents / 100:.2f}",
                    p.currency.upper(),
                    p.status.value,
                    p.stripe_object_id,
                ]
            )
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=payments.csv"},
    )


@bp.get("/coach/enrolments/<int:enrolment_id>")
@coach_required
def enrolment(enrolment_id: int):
    row = db.get_or_404(Enrolment, enrolment_id)
    refund_forms = {}
    for p in row.payments:
        if p.refundable_cents:
            form = RefundForm(prefix=f"refund{p.id}")
            form.amount.data = f"{p.refundable_cents / 100:.2f}"
            form.request_key.data = secrets.token_urlsafe(16)
            refund_forms[p.id] = form
    return render_template(
        "billing/enrolment.html",
        enrolment=row,
        refund_forms=refund_forms,
        action_form=ConfirmForm(),
    )


@bp.post("/coach/payments/<int:payment_id>/refund")
@coach_required
def refund(payment_id: int):
    payment = db.get_or_404(Payment, payment_id)
    form = RefundForm(prefix=f"refund{payment.id}")
    back = url_for("billing.enrolment", enrolment_id=payment.enrolment_id)
    if not form.validate_on_submit():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        flash(f"Refund not sent: {errors}", "error")
        return redirect(back)
    try:
        refunds.refund_payment(
            db.session,
            payment.id,
            form.amount.cents,
            request_key=form.request_key.data,
            actor_id=current_user.id,
            reason=form.reason.data or "",
        )
    except (BillingError, gateway.GatewayError) as exc:
        flash(str(exc), "error")
    else:
        flash(f"Refunded {format_money(form.amount.cents, payment.currency)}.", "success")
    return redirect(back)


@bp.post("/coach/enrolments/<int:enrolment_id>/cancel-plan")
@coach_required
def cancel_plan(enrolment_id: int):
    row = db.get_or_404(Enrolment, enrolment_id)
    if ConfirmForm().validate_on_submit():
        try:
            plan_access.cancel_plan(db.session, row.id, actor_id=current_user.id)
        except (BillingError, gateway.GatewayError) as exc:
            flash(str(exc), "error")
        else:
            flash("Instalment plan cancelled: no further payments will be taken.", "success")
    return redirect(url_for("billing.enrolment", enrolment_id=row.id))


@bp.post("/coach/enrolments/<int:enrolment_id>/access")
@coach_required
def access(enrolment_id: int):
    row = db.get_or_404(Enrolment, enrolment_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            plan_access.set_access(
                db.session, row.id, form.action.data or "", actor_id=current_user.id
            )
        except BillingError as exc:
            flash(str(exc), "error")
        else:
            flash("Access updated.", "success")
    return redirect(url_for("billing.enrolment", enrolment_id=row.id))


# --- public: the offer, the checkout, "you're in" ---------------------------------------------


@bp.get("/offer/<token>")
def offer(token: str):
    try:
        offer = offers.load_offer(db.session, token, mark_opened=True)
    except OfferUnavailable as exc:
        return render_template("billing/offer_unavailable.html", message=str(exc)), 410
    form = ChoosePriceForm()
    form.price_id.choices = choices((p.id, p.label) for p in offer.programme.active_prices)
    if form.price_id.choices:
        form.price_id.data = form.price_id.choices[0].value
    return render_template("billing/offer.html", offer=offer, form=form, token=token)


@bp.post("/offer/<token>/checkout")
@limiter.limit("20 per minute")
def offer_checkout(token: str):
    try:
        offer = offers.load_offer(db.session, token)
    except OfferUnavailable as exc:
        return render_template("billing/offer_unavailable.html", message=str(exc)), 410
    form = ChoosePriceForm()
    form.price_id.choices = choices((p.id, p.label) for p in offer.programme.active_prices)
    if form.validate_on_submit():
        try:
            attempt = checkout.start_checkout_attempt(db.session, token, form.price_id.data)
        except OfferUnavailable as exc:
            return render_template("billing/offer_unavailable.html", message=str(exc)), 410
        except (BillingError, gateway.GatewayError) as exc:
            form.price_id.errors.append(
                str(exc)
                if isinstance(exc, BillingError)
                else "Payment could not start just now. Please try again in a minute."
            )
        else:
            _bind_checkout_to_browser(attempt.stripe_session_id)
            return redirect(attempt.url, code=303)
    return render_template("billing/offer.html", offer=offer, form=form, token=token), 422


# The set-password step after payment belongs to the browser that paid: the checkout it started
# is remembered in its (signed) session, so the success URL alone (shared, logged, in history)
# never lets anyone set her password. Elsewhere the page asks her to use the emailed link.
_BOUND_KEY = "hero_checkout"
_BOUND_SECONDS = 24 * 3600  # as long as a Stripe Checkout Session stays open


def _bind_checkout_to_browser(stripe_session_id: str | None) -> None:
    session[_BOUND_KEY] = {"sid": stripe_session_id, "at": int(time.time())}


def _bound_to_this_browser(stripe_session_id: str) -> bool:
    bound = session.get(_BOUND_KEY)
    return (
        isinstance(bound, dict)
        and bool(stripe_session_id)
        and bound.get("sid") == stripe_session_id
        and isinstance(bound.get("at"), int)
        and time.time() - bound["at"] < _BOUND_SECONDS
    )


def _offline_attempt_or_404(session_id: str) -> CheckoutAttempt:
    # Offline test mode cannot be reached once a Stripe key is configured.
    if not gateway.is_offline():
        abort(404)
    attempt = db.session.scalar(
        select(CheckoutAttempt).where(CheckoutAttempt.stripe_session_id == session_id)
    )
    if attempt is None or attempt.offline_session is None:
        abort(404)
    return attempt


@bp.get("/checkout/test/<session_id>")
def test_checkout(session_id: str):
    attempt = _offline_attempt_or_404(session_id)
    return render_template("billing/test_checkout.html", attempt=attempt, form=ConfirmForm())


@bp.post("/checkout/test/<session_id>")
def test_checkout_pay(session_id: str):
    _offline_attempt_or_404(session_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return redirect(checkout.complete_offline_checkout(db.session, session_id), code=303)


@bp.get("/checkout/success")
@limiter.limit("60 per minute")
def checkout_success():
    session_id = (request.args.get("session_id") or "").strip()
    if not session_id or len(session_id) > 255:
        abort(404)
    try:
        enrolment = checkout.fulfil_checkout(db.session, session_id)
    except BillingError:
        abort(404)
    except gateway.GatewayError:
        return render_template("billing/success.html", enrolment=None, form=None, retry=True), 503
    if enrolment is not None:
        stripe_events.release_waiting(db.session)  # e.g. a refund that came before this
    form = None
    needs_password = enrolment is not None and not enrolment.user.password_hash
    if needs_password and _bound_to_this_browser(session_id):
        form = SetPasswordForm(session_id=session_id)
    return render_template(
        "billing/success.html",
        enrolment=enrolment,
        form=form,
        needs_password=needs_password,
        retry=False,
        intake_path=checkout.INTAKE_PATH,
    )


@bp.post("/checkout/success/password")
@limiter.limit("10 per minute")
def checkout_set_password():
    form = SetPasswordForm()
    session_id = form.session_id.data or ""
    enrolment = checkout.enrolment_for_session(db.session, session_id[:255])
    if enrolment is None:
        abort(404)
    if not _bound_to_this_browser(session_id) or enrolment.user.password_hash:
        # Not the paying browser, or already done: the emailed link is the way in.
        return render_template(
            "billing/success.html",
            enrolment=enrolment,
            form=None,
            needs_password=not enrolment.user.password_hash,
            retry=False,
            intake_path=checkout.INTAKE_PATH,
        ), 403
    if form.validate_on_submit():
        try:
            # The token never leaves the server: the bound browser is the proof.
            user = reset_password(db.session, make_reset_token(enrolment.user), form.password.data)
        except AccountError as exc:
            form.password.errors.append(str(exc))
        else:
            session.pop(_BOUND_KEY, None)  # once
            login_user(user)
            flash("Password set. Welcome aboard!", "success")
            return redirect(checkout.INTAKE_PATH)
    return render_template(
        "billing/success.html",
        enrolment=enrolment,
        form=form,
        needs_password=True,
        retry=False,
        intake_path=checkout.INTAKE_PATH,
    ), 422

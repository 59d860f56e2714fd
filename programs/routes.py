"""The runner's portal (phone first): intake, today with the interval timer and the ten-second
log, the week and the whole plan, progress, and the calendar feed. Views parse, call one
service, render."""

from __future__ import annotations

from datetime import date, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from crm.accounts.access import runner_required
from crm.forms import blank_form, parse_day
from extensions import db
from programs import markup
from programs.calendar import calendar_feed, calendar_secret, regenerate_calendar_secret
from programs.coaching.clients import set_coaching_emails
from programs.community.forms import MilestoneForm
from programs.community.members import is_member
from programs.community.rules import MILESTONES
from programs.engine import ProfileError
from programs.errors import PortalError
from programs.forms import ConfirmForm, EmailChoiceForm, IntakeForm, LogForm, MorningPainForm
from programs.intake import submit_intake
from programs.logs import record_morning_pain, record_workout
from programs.plans import active_plan, load_plan, logs_for, runner_profile
from programs.progress import Progress, milestone_shared
from programs.progress import progress as runner_progress
from programs.strength import feedback_from_form, record_strength_session, strength_day
from programs.today import TodayView, local_today
from programs.today import today as runner_today

bp = Blueprint("portal", __name__, url_prefix="/portal")

# Pieces of the portal's pages built in Python (programs/markup.py).
bp.add_app_template_global(markup.radio_buttons)
bp.add_app_template_global(markup.hidden_input)
bp.add_app_template_global(markup.choice_fieldset)
bp.add_app_template_global(markup.STATUS_BUTTONS, "status_buttons")
bp.add_app_template_global(markup.RATING_BUTTONS, "rating_buttons")
bp.add_app_template_global(markup.FEEDBACK_PAIN_BUTTONS, "feedback_pain_buttons")
bp.add_app_template_filter(markup.clock, "clock")
bp.add_app_template_filter(markup.segment_label, "segment_label")
bp.add_app_template_filter(markup.dose, "dose")

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def plan_context(record, on_date: date) -> dict:
    """What the plan and week pages (the runner's and the coach's) show."""
    plan = load_plan(record)
    logs = {(lg.session_date, lg.kind): lg for lg in logs_for(db.session, record.user_id)}
    current = next(
        (w for w in plan.weeks if w.start_date <= on_date < w.start_date + timedelta(days=7)),
        None,
    )
    return {
        "record": record,
        "plan": plan,
        "logs": logs,
        "current_week": current,
        "on_date": on_date,
        "weekday_names": WEEKDAY_NAMES,
    }


def charts(data: Progress) -> dict:
    """Geometry for the server-rendered SVG charts (no JS): running minutes per week as bars
    (planned outline, done filled), the longest continuous run as a line, pain as a line."""
    width, height, left, bottom, top = 340, 180, 28, 22, 10
    weeks = data.weeks
    plot_h = height - bottom - top
    top_value = max(
        [w.planned_run_minutes for w in weeks] + [w.done_run_minutes for w in weeks] + [10]
    )
    step = 5 if top_value <= 30 else 10
    top_value = step * -(-int(top_value) // step)
    slot = (width - left - 4) / max(len(weeks), 1)
    bar_w = max(min(slot * 0.6, 28), 4)

    def y(v: float, hi: float = top_value) -> float:
        return round(top + plot_h - plot_h * v / hi, 1)

    bars, longest = [], []
    for i, w in enumerate(weeks):
        x = round(left + slot * i + (slot - bar_w) / 2, 1)
        bars.append(
            {
                "x": x,
                "w": round(bar_w, 1),
                "planned_y": y(w.planned_run_minutes),
                "planned_h": round(top + plot_h - y(w.planned_run_minutes), 1),
                "done_y": y(w.done_run_minutes),
                "done_h": round(top + plot_h - y(w.done_run_minutes), 1),
                "label": str(w.index + 1),
                "cx": round(x + bar_w / 2, 1),
                "title": f"Week {w.index + 1}: {w.done_run_minutes:.0f} of "
                f"{w.planned_run_minutes:.0f} running minutes; longest run "
                f"{w.longest_run_minutes:.1f} min",
            }
        )
        longest.append(f"{round(x + bar_w / 2, 1)},{y(w.longest_run_minutes)}")
    ticks = [{"v": v, "y": y(v)} for v in range(0, top_value + 1, step)]
    points = data.pain.points
    pain_slot = (width - left - 8) / max(len(points) - 1, 1)
    pain = [
        {
            "x": round(left + 4 + pain_slot * i, 1),
            "y": y(p[1] or 0, 10),
            "v": p[1],
            "label": p[0].strftime("%-d %b"),
            "morning": p[2],
            "my": y(p[2], 10) if p[2] is not None else None,
        }
        for i, p in enumerate(points)
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "base": top + plot_h,
        "top": top,
        "bars": bars,
        "longest": " ".join(longest),
        "ticks": ticks,
        "pain": pain,
        "pain_line": " ".join(f"{p['x']},{p['y']}" for p in pain),
        "pain_ticks": [{"v": v, "y": y(v, 10)} for v in (0, 2, 4, 6, 8, 10)],
    }


def _today() -> date:
    return local_today(db.session, current_user.id)


@bp.get("")
@runner_required
def today():
    return _day_page(runner_today(db.session, current_user.id))


@bp.get("/day/<date:day>")
@runner_required
def day(day: date):
    view = runner_today(db.session, current_user.id, day)
    if day == view.today:
        return redirect(url_for("portal.today"))
    return _day_page(view)


def _day_page(view: TodayView, log_form: LogForm | None = None, status: int = 200):
    if view.plan is None:
        return render_template("portal/start.html")
    on_date, today = view.on_date, view.today
    forms = {}
    for s in view.sessions:
        if log_form is not None and log_form.kind.data == s.kind:
            log_form.session_date.data = on_date.isoformat()
            forms[s.kind] = log_form  # refused: her answers and their errors, as sent
            continue
        existing = view.logs.get(s.kind)
        forms[s.kind] = blank_form(
            LogForm,
            session_date=on_date.isoformat(),
            kind=s.kind,
            **(_logged_values(existing) if existing is not None else {}),
        )
    milestone = _milestone(view) if view.milestone else None
    # One blank form serves every prompt: the page writes each prompt's log id itself.
    mform = blank_form(MorningPainForm) if view.morning_prompts else None
    mornings = [(lg, mform) for lg in view.morning_prompts]
    return (
        render_template(
            "portal/today.html",
            view=view,
            forms=forms,
            mornings=mornings,
            milestone=milestone,
            is_today=on_date == today,
            can_log=on_date <= today,
            strength=strength_day(db.session, current_user.id, view.sessions, on_date),
        ),
        status,
    )


def _logged_values(log) -> dict:
    """A saved log as its form's values, for the day page to show it."""
    return {
        "status": str(log.status),
        "effort": str(log.effort) if log.effort else None,
        "pain_during": str(log.pain_during) if log.pain_during is not None else None,
        "note": log.note,
    }


def _milestone(view: TodayView) -> dict | None:
    """The share-with-the-community card, for a member whose run/walk that day was a first."""
    on_date, today, kind = view.on_date, view.today, view.milestone
    if not is_member(db.session, current_user.id):
        return None
    form = MilestoneForm(formdata=None, kind=kind)
    here = (
        url_for("portal.today")
        if on_date == today
        else url_for("portal.day", day=on_date.isoformat())
    )
    return {
        "kind": kind,
        "text": MILESTONES[kind],
        "form": form,
        "next": here,
        "shared": milestone_shared(db.session, current_user.id, kind),
    }


@bp.route("/intake", methods=["GET", "POST"])
@runner_required
def intake():
    form = IntakeForm()
    existing = runner_profile(db.session, current_user.id)
    if request.method == "GET":
        if existing is not None:
            form.fill_from(existing.profile, existing.timezone)
        else:
            form.start_date.data = _today() + timedelta(days=1)
            form.timezone.data = current_user.timezone
    if form.validate_on_submit():
        try:
            submit_intake(db.session, current_user.id, form.profile_values())
        except ProfileError as exc:
            db.session.rollback()
            _attach_errors(form, exc.messages)
        else:
            flash("Your plan is ready. Here's what to do first.", "success")
            return redirect(url_for("portal.plan"))
    return render_template("portal/intake.html", form=form, retake=existing is not None)


def _attach_errors(form, messages: dict[str, str]) -> None:
    for name, message in messages.items():
        field = getattr(form, name, None)
        if field is None or not hasattr(field, "errors"):
            field = form.ability
        errors = list(field.errors) if isinstance(field.errors, list | tuple) else []
        field.errors = [*errors, message]


@bp.post("/log")
@runner_required
def log():
    form = LogForm()
    on_date = parse_day(form.session_date.data)
    if on_date is None:
        abort(400)
    if form.validate_on_submit():
        # A strength session's log carries her word on each exercise as well.
        feedback = feedback_from_form(request.form)
        record, extra = (
            (record_strength_session, {"feedback": feedback}) if feedback else (record_workout, {})
        )
        try:
            record(
                db.session,
                current_user.id,
                on_date,
                form.status.data,
                form.effort.data,
                form.pain_during.data,
                note=form.note.data or "",
                kind=form.kind.data,
                **extra,
            )
        except PortalError as exc:
            db.session.rollback()
            _attach_errors(form, {k or "status": v for k, v in exc.messages.items()})
        else:
            flash(_thanks(form.status.data), "success")
            if on_date == _today():
                return redirect(url_for("portal.today") + "#log")
            return redirect(url_for("portal.day", day=on_date.isoformat()) + "#log")
    return _day_page(runner_today(db.session, current_user.id, on_date), form, 422)


def _thanks(status: str) -> str:
    return {
        "done": "Logged. Nice work! Tomorrow we'll ask how it feels.",
        "partial": "Logged. Part of a session still counts.",
        "skipped": "Logged. Rest is part of the plan too; your coach can see how you're doing.",
    }.get(status, "Logged.")


@bp.post("/morning")
@runner_required
def morning():
    form = MorningPainForm()
    if form.validate_on_submit() and (form.log_id.data or "").isdigit():
        try:
            record_morning_pain(
                db.session, current_user.id, int(form.log_id.data), form.pain_next_morning.data
            )
        except PortalError as exc:
            db.session.rollback()
            flash(next(iter(exc.messages.values())), "error")
        else:
            flash("Thanks. That helps the plan pick the right next step.", "success")
    else:
        flash("Tap a number from 0 to 10.", "error")
    return redirect(url_for("portal.today"))


@bp.get("/plan")
@runner_required
def plan():
    record = active_plan(db.session, current_user.id)
    if record is None:
        return render_template("portal/start.html")
    secret = calendar_secret(db.session, current_user.id)
    return render_template(
        "portal/plan.html",
        **plan_context(record, _today()),
        ics_url=url_for("portal.calendar", secret=secret, _external=True),
        calendar_form=ConfirmForm(),
        email_form=EmailChoiceForm(coaching_emails=current_user.coaching_emails),
    )


@bp.post("/emails")
@runner_required
def email_choice():
    form = EmailChoiceForm()
    if form.validate_on_submit():
        wanted = bool(form.coaching_emails.data)
        if set_coaching_emails(db.session, current_user, wanted):
            db.session.commit()
        state = "on" if wanted else "off"
        flash(f"Check-in and nudge emails are {state}.", "success")
    return redirect(url_for("portal.plan") + "#emails")


@bp.get("/week")
@runner_required
def week():
    record = active_plan(db.session, current_user.id)
    if record is None:
        return render_template("portal/start.html")
    ctx = plan_context(record, _today())
    index = request.args.get("w", type=int)
    if index is None:
        index = ctx["current_week"].index if ctx["current_week"] else 0
    chosen = next((w for w in ctx["plan"].weeks if w.index == index), None)
    if chosen is None:
        abort(404)
    return render_template(
        "portal/week.html", **ctx, week=chosen, week_end=chosen.start_date + timedelta(days=6)
    )


@bp.get("/progress")
@runner_required
def progress():
    data = runner_progress(db.session, current_user.id, _today())
    if data.record is None:
        return render_template("portal/start.html")
    return render_template("portal/progress.html", data=data, charts=charts(data))


@bp.post("/calendar/regenerate")
@runner_required
def regenerate_calendar():
    if ConfirmForm().validate_on_submit():
        regenerate_calendar_secret(db.session, current_user.id)
        flash("New calendar link made. The old link no longer works.", "success")
    return redirect(url_for("portal.plan") + "#calendar")


@bp.get("/calendar/<secret>.ics")
def calendar(secret: str):
    """The feed at a secret URL: calendar apps cannot log in, so the secret is the key."""
    body = calendar_feed(db.session, secret, current_app.config.get("BASE_URL", ""))
    if body is None:
        abort(404)
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": 'inline; filename="hero-plan.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )

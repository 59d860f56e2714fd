"""The coach's lead pages: list, export, pipeline board, lead detail, notes, CSV import."""

from __future__ import annotations

import csv
import functools
import io
from html import escape as escape_html

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
    stream_with_context,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from werkzeug.routing import BuildError

from crm.accounts.access import coach_required
from crm.forms import choices, safe_next
from crm.leads import importer, services
from crm.leads.forms import (
    STAGE_CHOICES,
    ActionForm,
    ImportForm,
    LeadFilterForm,
    NoteForm,
    StageForm,
    UndoForm,
)
from crm.leads.models import Lead, Stage
from crm.memo import Newest
from crm.time import day_formatter, utcnow
from extensions import db

bp = Blueprint("leads", __name__)

UNDO_KEY = "lead_undo"


def _filters(form: LeadFilterForm) -> services.LeadFilters:
    return services.LeadFilters(
        q=(form.q.data or "").strip(),
        stage=Stage(form.stage.data) if form.stage.data else None,
        source=form.source.data or "",
        created_from=form.created_from.data,
        created_to=form.created_to.data,
        sort=form.sort.data or "newest",
    )


def _with_sources(form: LeadFilterForm, sources: list[str]) -> LeadFilterForm:
    form.source.choices = choices([("", "All sources"), *((s, s) for s in sources)])
    return form


def _filter_form(sources: list[str]) -> LeadFilterForm:
    return _with_sources(LeadFilterForm(request.args), sources)


def _pop_undo() -> dict | None:
    return session.pop(UNDO_KEY, None)


# "Previous" with keyset pages: each page link carries the cursors of the pages before it
# (dot-separated, oldest first), at most TRAIL_MAX of them so the URL stays short; a leading
# "~" says older ones were dropped, so "Previous" stops there (and "First page" remains).
TRAIL_MAX = 20
TRAIL_TRIMMED = "~"
_CURSOR_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _trimmed(trimmed: bool, cursors: list[str]) -> list[str]:
    if len(cursors) > TRAIL_MAX:
        trimmed, cursors = True, cursors[len(cursors) - TRAIL_MAX :]
    return [TRAIL_TRIMMED, *cursors] if trimmed else cursors


def _trail() -> list[str]:
    """The trail from the URL; a tampered one is ignored (Previous then leads to page one)."""
    parts = [p for p in (request.args.get("trail") or "").split(".") if p]
    trimmed = bool(parts) and parts[0] == TRAIL_TRIMMED
    cursors = parts[1:] if trimmed else parts
    if not all(len(c) <= 400 and set(c) <= _CURSOR_CHARS for c in cursors):
        return []
    return _trimmed(trimmed, cursors)


def _page_links(filters: services.LeadFilters, cursor: str | None, page) -> dict:
    """URLs of the previous and next pages (None when there is none)."""
    trail = _trail()
    args = filters.as_args()
    prev_url = None
    if trail and trail[-1] != TRAIL_TRIMMED:
        back = ".".join(trail[:-1]) or None
        prev_url = url_for("leads.lead_list", cursor=trail[-1], trail=back, **args)
    elif cursor and not trail:
        prev_url = url_for("leads.lead_list", **args)  # page 2's previous is the first page
    next_url = None
    if page.next_cursor:
        ahead = trail + [cursor] if cursor else trail
        trimmed = bool(ahead) and ahead[0] == TRAIL_TRIMMED
        ahead = _trimmed(trimmed, ahead[1:] if trimmed else ahead)
        next_url = url_for(
            "leads.lead_list", cursor=page.next_cursor, trail=".".join(ahead) or None, **args
        )
    return {"prev_url": prev_url, "next_url": next_url}


# The lead list's filter fields: a URL with none of them (the first page, or a later one of the
# whole list) asks for the defaults, with nothing to validate.
FILTER_ARGS = frozenset({"q", "stage", "source", "created_from", "created_to", "sort"})


@functools.lru_cache(maxsize=64)
def _blank_filters(script_root: str, sources: tuple[str, ...]) -> Markup:
    """The filter form with nothing asked for, rendered once per process, path prefix and list
    of sources (a new source renders it anew): the same markup as a refused or filtered one."""
    form = _with_sources(LeadFilterForm(formdata=None), list(sources))
    return Markup(render_template("leads/_filters.html", form=form))


@bp.get("/coach/leads")
@coach_required
def lead_list():
    if FILTER_ARGS.isdisjoint(request.args):
        return _lead_list_page(None, services.LeadFilters())
    form = LeadFilterForm(request.args)  # the sources are the menu's, not a rule to validate
    if not form.validate():
        tz_name, sources = services.timezone_and_sources(db.session)
        _with_sources(form, sources)
        return render_template(
            "leads/list.html", form=form, page=None, total=0, filters=None, tz_name="UTC"
        ), 400
    return _lead_list_page(form, _filters(form))


def _lead_list_page(form: LeadFilterForm | None, filters: services.LeadFilters):
    """A page of the list for valid `filters`; `form` is None when none was asked for."""
    cursor = request.args.get("cursor") or None
    try:
        page = services.lead_list_page(db.session, filters, cursor=cursor)
    except services.LeadError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("leads.lead_list", **filters.as_args()))
    blank = None
    if form is None:
        blank = _blank_filters(request.script_root, tuple(page.sources))
    else:
        _with_sources(form, page.sources)
    return render_template(
        "leads/list.html",
        form=form,
        blank_filters=blank,
        page=page,
        rows=_table_rows(page.rows, page.tz_name),
        total=page.total,
        count_cap=services.COUNT_CAP,
        filters=filters,
        first_page=not cursor,
        tz_name=page.tz_name,
        **_page_links(filters, cursor, page),
        undo=_pop_undo(),
    )


# Each stage's badge, built once: an enum property costs a call per row.
_BADGES = {
    stage: f'<span class="badge text-bg-{stage.colour}">{stage.label}</span>' for stage in Stage
}


def _table_rows(rows, tz_name: str) -> Markup:
    """The lead table's rows as HTML, built here: 50 rows of nine cells through the template's
    autoescape (a call per cell) and the `when` filter cost more than the rest of the page. Every
    value from the database goes through the standard library's html.escape (the same five
    characters as markupsafe's, at half the cost: no Markup per cell); the URL is digits and the
    day ours. A row's HTML depends only on its values, the zone and the year (`_row_html`)."""
    detail = url_for("leads.lead_detail", lead_id=0).removesuffix("0")  # one build, not 50
    day = day_formatter(tz_name)
    html = []
    for lead_id, name, email, phone, stage, source, created_at, *_ in rows:  # LIST_COLUMNS
        key = (detail, tz_name, day.year, lead_id, name, email, phone, stage, source, created_at)
        row = _row_html.get(key)
        if row is None:
            email = escape_html(email)
            row = (
                "\n      <tr>\n"
                f'        <td><a href="{detail}{lead_id}">{escape_html(name)}</a>\n'
                "            "
                f'<div class="small text-muted d-md-none text-break">{email}</div></td>\n'
                f'        <td class="d-none d-md-table-cell text-break">{email}</td>\n'
                f'        <td class="d-none d-lg-table-cell">{escape_html(phone)}</td>\n'
                f"        <td>{_BADGES[stage]}</td>\n"
                f'        <td class="d-none d-md-table-cell">{escape_html(source)}</td>\n'
                f'        <td class="d-none d-sm-table-cell small">{day(created_at)}</td>\n'
                "      </tr>\n    "
            )
            _row_html.put(key, row)
        html.append(row)
    return Markup("".join(html))


# Each row's HTML by everything it shows (a pure function of the key: never stale), so a list
# seen again is joined, not rebuilt; the ROW_HTML_LIMIT rows last shown (~3 MB).
ROW_HTML_LIMIT = 5000
_row_html: Newest[tuple, str] = Newest(ROW_HTML_LIMIT)


@bp.get("/coach/leads/export.csv")
@coach_required
def export_csv():
    tz_name, sources = services.timezone_and_sources(db.session)
    form = _filter_form(sources)
    if not form.validate():
        abort(400, "Those filters are not valid.")
    filters = _filters(form)

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(services.EXPORT_COLUMNS)
        for lead in services.iter_leads(db.session, filters, tz_name=tz_name):
            writer.writerow(services.export_row(lead))
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    filename = f"leads-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/coach/pipeline")
@coach_required
def pipeline():
    return render_template(
        "leads/pipeline.html",
        counts=services.stage_counts(db.session),
        board=services.recent_by_stage(db.session),
        stages=list(Stage),
        undo=_pop_undo(),
    )


@bp.post("/coach/leads/<int:lead_id>/stage")
@coach_required
def change_stage(lead_id: int):
    lead = db.get_or_404(Lead, lead_id)
    form = StageForm()
    back = safe_next(form.next.data, url_for("leads.lead_detail", lead_id=lead.id))
    if not form.validate_on_submit():
        if back.startswith(url_for("leads.lead_detail", lead_id=lead.id)):
            return _render_detail(lead.id, stage_form=form), 400
        flash(_first_error(form), "error")
        return redirect(back)
    try:
        event = services.move_lead(
            db.session,
            lead.id,
            form.stage.data,
            lost_reason=form.lost_reason.data or "",
            actor_id=current_user.id,
        )
    except services.LeadError as exc:
        flash(str(exc), "error")
        return redirect(back)
    if event is not None:
        session[UNDO_KEY] = {
            "lead_id": lead.id,
            "event_id": event.id,
            "message": f"{lead.name} moved to {lead.stage.label}.",
            "next": back,
        }
    return redirect(back)


@bp.post("/coach/leads/<int:lead_id>/stage/undo")
@coach_required
def undo_stage(lead_id: int):
    form = UndoForm()
    back = safe_next(form.next.data, url_for("leads.lead_detail", lead_id=lead_id))
    if not form.validate_on_submit() or not (form.event_id.data or "").isdigit():
        flash("That change can no longer be undone.", "error")
        return redirect(back)
    try:
        stage = services.undo_stage_change(
            db.session, lead_id, int(form.event_id.data), actor_id=current_user.id
        )
    except services.LeadNotFound:
        abort(404)
    except services.LeadError as exc:
        flash(str(exc), "error")
        return redirect(back)
    flash(f"Undone: the lead is back in {stage.label}.", "success")
    return redirect(back)


def _first_error(form) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return "Please check the form."


def _outcome_url(booking_id: int) -> str | None:
    """The booking engineer's "mark held / no-show" endpoint, when the app has it."""
    if "booking.mark_outcome" not in current_app.view_functions:
        return None
    try:
        return url_for("booking.mark_outcome", booking_id=booking_id)
    except BuildError:
        return None


def _client_url(lead) -> str | None:
    """The coach's client page for the runner behind this lead, once she has a plan."""
    client_page = current_app.extensions.get("lead_client_page")
    if lead.user_id is None or client_page is None:
        return None
    return client_page(db.session, lead.user_id)


# The stage menu's options, built once: with one stage selected (the lead's), or none (a POST of
# something that is not a stage), as WTForms' select renders them.
def _stage_options(selected: str | None) -> Markup:
    return Markup("").join(
        Markup('<option {}value="{}">{}</option>').format(
            Markup("selected ") if value == selected else "", value, label
        )
        for value, label in ((c.value, c.label) for c in STAGE_CHOICES)
    )


_STAGE_OPTIONS = {s.value: _stage_options(s.value) for s in Stage}
_CSRF_INPUT = Markup('<input id="{0}csrf_token" name="{0}csrf_token" type="hidden" value="{1}">')


def _render_detail(lead_id: int, *, stage_form=None, note_form=None, undo=None):
    """The lead page. On GET its forms are plain markup filled from the lead (no form objects);
    a POST that fails validation passes its form, whose values and errors are shown."""
    try:
        detail = services.lead_detail(db.session, lead_id)
    except services.LeadNotFound:
        abort(404)
    lead = detail.lead
    if stage_form is None:
        stage = {"options": _STAGE_OPTIONS[lead.stage.value], "errors": [], "lost_reason": "",
                 "lost_reason_errors": []}  # fmt: skip
    else:
        selected = stage_form.stage.data
        stage = {
            "options": _STAGE_OPTIONS.get(selected) or _stage_options(selected),
            "errors": stage_form.stage.errors,
            "lost_reason": stage_form.lost_reason._value(),
            "lost_reason_errors": stage_form.lost_reason.errors,
        }
    csrf_input = offer_csrf_input = ""
    if current_app.config.get("WTF_CSRF_ENABLED", True):  # as FlaskForm renders its token field
        token = generate_csrf()
        csrf_input = _CSRF_INPUT.format("", token)
        offer_csrf_input = _CSRF_INPUT.format("offer-", token)
    note = {"body": "", "errors": []}
    if note_form is not None:
        note = {"body": note_form.body._value(), "errors": note_form.body.errors}
    return render_template(
        "leads/detail.html",
        lead=lead,
        bookings=detail.bookings,
        enrolments=detail.enrolments,
        client_url=_client_url(lead),
        timeline=detail.timeline,
        notes=detail.notes,
        stage=stage,
        note=note,
        offer_programmes=detail.offer_programmes,
        csrf_input=csrf_input,
        offer_csrf_input=offer_csrf_input,
        outcome_url=_outcome_url,
        tz_name=detail.tz_name,
        undo=undo,
    )


@bp.get("/coach/leads/<int:lead_id>")
@coach_required
def lead_detail(lead_id: int):
    return _render_detail(lead_id, undo=_pop_undo())


@bp.post("/coach/leads/<int:lead_id>/notes")
@coach_required
def add_note(lead_id: int):
    lead = db.get_or_404(Lead, lead_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _render_detail(lead.id, note_form=form), 400
    try:
        services.add_note(db.session, lead.id, form.body.data, author_id=current_user.id)
    except services.LeadError as exc:
        form.body.errors = [str(exc)]
        return _render_detail(lead.id, note_form=form), 400
    flash("Note added.", "success")
    return redirect(url_for("leads.lead_detail", lead_id=lead.id, _anchor="notes"))


@bp.post("/coach/leads/<int:lead_id>/notes/<int:note_id>")
@coach_required
def edit_note(lead_id: int, note_id: int):
    form = NoteForm()
    if not form.validate_on_submit():
        flash(f"The note was not saved: {_first_error(form)}", "error")
        return redirect(url_for("leads.lead_detail", lead_id=lead_id, _anchor="notes"))
    try:
        services.update_note(db.session, lead_id, note_id, form.body.data, actor_id=current_user.id)
    except services.LeadNotFound:
        abort(404)
    except services.LeadError as exc:
        flash(str(exc), "error")
    else:
        flash("Note saved.", "success")
    return redirect(url_for("leads.lead_detail", lead_id=lead_id, _anchor="notes"))


@bp.post("/coach/leads/<int:lead_id>/notes/<int:note_id>/delete")
@coach_required
def delete_note(lead_id: int, note_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.delete_note(db.session, lead_id, note_id, actor_id=current_user.id)
    except services.LeadNotFound:
        abort(404)
    flash("Note deleted.", "success")
    return redirect(url_for("leads.lead_detail", lead_id=lead_id, _anchor="notes"))


@bp.post("/coach/leads/<int:lead_id>/automation")
@coach_required
def toggle_automation(lead_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    paused = request.form.get("paused") == "1"
    try:
        services.set_automation_paused(db.session, lead_id, paused, actor_id=current_user.id)
    except services.LeadNotFound:
        abort(404)
    flash("Automatic emails paused." if paused else "Automatic emails resumed.", "success")
    return redirect(url_for("leads.lead_detail", lead_id=lead_id))


@bp.route("/coach/leads/import", methods=["GET", "POST"])
@coach_required
def import_leads():
    form = ImportForm()
    report = None
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read(importer.MAX_IMPORT_BYTES + 1)
        try:
            report = importer.import_leads(db.session, data, actor_id=current_user.id)
        except importer.ImportFileError as exc:
            form.file.errors.append(str(exc))
            status = 400
        else:
            flash(
                f"Imported: {report.created} new, {report.updated} updated, "
                f"{report.skipped} rows skipped.",
                "success" if not report.errors else "warning",
            )
    elif request.method == "POST":
        status = 400
    return render_template(
        "leads/import.html",
        form=form,
        report=report,
        max_mb=importer.MAX_IMPORT_BYTES // (1024 * 1024),
        max_rows=importer.MAX_IMPORT_ROWS,
    ), status

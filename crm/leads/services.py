"""Lead rules shared by booking, the CRM pages, the API, CSV import and the tasks."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import (
    JSON,
    Row,
    ScalarSelect,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, selectinload

from crm.billing.catalogue import on_sale
from crm.billing.models import Enrolment, Programme
from crm.booking.models import Booking, BookingStatus, CoachSettings
from crm.forms import normalise_email
from crm.leads.models import Lead, LeadEvent, Note, Stage
from crm.time import utcnow, zone


class LeadError(Exception):
    """A domain error about a lead, with a message fit to show the coach.

    `field` names the input at fault, when there is one (for per-field API errors).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LeadNotFound(LeadError):
    """No lead (or note) with that id."""


# Where a lead may go from each stage. "lost" can be reopened to "new".
ALLOWED_MOVES: dict[Stage, set[Stage]] = {
    Stage.NEW: {Stage.CALL_BOOKED, Stage.OFFER_SENT, Stage.ENROLLED, Stage.LOST},
    Stage.CALL_BOOKED: {Stage.NEW, Stage.CALL_HELD, Stage.OFFER_SENT, Stage.ENROLLED, Stage.LOST},
    Stage.CALL_HELD: {Stage.CALL_BOOKED, Stage.OFFER_SENT, Stage.ENROLLED, Stage.LOST},
    Stage.OFFER_SENT: {Stage.CALL_HELD, Stage.CALL_BOOKED, Stage.ENROLLED, Stage.LOST},
    Stage.ENROLLED: {Stage.LOST},
    Stage.LOST: {Stage.NEW, Stage.CALL_BOOKED},
}


def record_event(
    session: Session,
    lead: Lead,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> LeadEvent:
    """Add an entry to the lead's timeline (in the caller's transaction; does not commit)."""
    event = LeadEvent(
        lead=lead, kind=kind, summary=summary[:300], data=data or {}, actor_id=actor_id
    )
    session.add(event)
    return event


# A timeline entry as `record_event` takes it: (kind, summary, data).
Entry = tuple[str, str, dict[str, Any]]


def add_events(session: Session, lead_id: int, entries: Iterable[Entry]) -> None:
    """Entries on one lead's timeline in one INSERT, as `record_event` would add them, for a
    caller that needs neither their ids nor the objects (a booking's three). Core, on the
    session's connection: no ORM bulk machinery for rows nobody reads here. Does not commit."""
    session.connection().execute(
        _INSERT_EVENTS,
        [
            {"lead_id": lead_id, "kind": kind, "summary": summary[:300], "data": data or {},
             "actor_id": None}
            for kind, summary, data in entries
        ],
    ).close()  # fmt: skip


# RETURNING (the ids, unread) makes SQLAlchemy send the rows as one multi-row INSERT
# ("insertmanyvalues"): a fifth less CPU than the driver's executemany for a booking's three.
_INSERT_EVENTS = LeadEvent.__table__.insert().returning(LeadEvent.__table__.c.id)


def find_lead(session: Session, email: str) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.email == normalise_email(email)))


# A lead's id by address, asked beside the booking's clash check (one round trip for both:
# crm.booking.availability._check_free).
LEAD_ID_BY_EMAIL = select(Lead.id).where(Lead.email == bindparam("email"))


def upsert_lead(session: Session, *, email: str, name: str, **fields: Any) -> tuple[Lead, bool]:
    """The lead for this email, created or updated with the non-empty fields given.

    Returns (lead, created). First-touch attribution (`source`, `utm`) is kept from the first
    visit; marketing consent is only ever granted here, never silently withdrawn, and stamped with
    `consent_at` (or `fields["consent_at"]`) the first time. Does not commit.
    """
    lead, created = merge_lead(session, email=email, name=name, **fields)
    if created:
        session.flush()
        record_event(session, lead, *created_entry(lead))
    return lead, created


def merge_lead(session: Session, *, email: str, name: str, **fields: Any) -> tuple[Lead, bool]:
    """`upsert_lead`'s rules without its writes: a new lead is added to the session unflushed
    (no id yet) and without its "created" event, which the caller records (`created_entry`)
    once it has flushed, so whatever else it changes (a stage) goes into the same INSERT."""
    lead = find_lead(session, email)
    if lead is None:
        lead = new_lead(email=email, name=name, **fields)
        session.add(lead)
        return lead, True
    merge_into(lead, name=name, **fields)
    return lead, False


def new_lead(*, email: str, name: str, **fields: Any) -> Lead:
    """A lead not seen before, by `upsert_lead`'s rules, in no session (`merge_lead` adds it;
    a booking INSERTs it itself)."""
    # The defaults a caller reads before the INSERT (the timeline's summaries), spelled out.
    lead = Lead(email=normalise_email(email), name=name.strip(), stage=Stage.NEW,
                source="direct", lost_reason="")  # fmt: skip
    _merge_fields(lead, fields, first_touch=True)
    return lead


def merge_into(lead: Lead, *, name: str, **fields: Any) -> None:
    """A known lead brought up to date by `upsert_lead`'s rules (first touch kept)."""
    lead.name = name.strip() or lead.name
    _merge_fields(lead, fields, first_touch=False)


def _merge_fields(lead: Lead, fields: dict[str, Any], *, first_touch: bool) -> None:
    consent_at = fields.pop("consent_at", None)
    for key, value in fields.items():
        if value in (None, "", {}):
            continue
        if not first_touch and key in {"source", "utm"}:
            continue
        if key == "marketing_consent" and not value:
            continue
        setattr(lead, key, value)
    if lead.marketing_consent and lead.consent_at is None:
        lead.consent_at = consent_at or utcnow()


def created_entry(lead: Lead) -> Entry:
    """The entry that starts a new lead's timeline."""
    return "created", f"Lead created ({lead.source})", {}


def change_stage(
    session: Session,
    lead: Lead,
    stage: Stage,
    *,
    lost_reason: str = "",
    actor_id: int | None = None,
    force: bool = False,
) -> LeadEvent | None:
    """Move a lead to another pipeline stage and put it on the timeline (does not commit).

    Returns the timeline event, or None when the lead already is in that stage. Raises LeadError
    for a move the pipeline does not allow, or "lost" without a reason. `force` is for system
    moves (payment, booking) that are always right.
    """
    move = move_stage(lead, stage, lost_reason=lost_reason, force=force)
    if move is None:
        return None
    return record_event(session, lead, *stage_change_entry(move), actor_id)


def move_stage(
    lead: Lead, stage: Stage, *, lost_reason: str = "", force: bool = False
) -> dict[str, str] | None:
    """`change_stage` without its timeline entry: moves the lead and returns what the entry says
    (for `stage_change_entry`), or None when the lead already is in that stage. Raises
    LeadError like `change_stage`."""
    stage = Stage(stage)
    if stage == lead.stage:
        return None
    if not force and stage not in ALLOWED_MOVES[lead.stage]:
        raise LeadError(
            f"A lead can't move from {lead.stage.label} to {stage.label}.", field="stage"
        )
    if stage == Stage.LOST and not lost_reason.strip():
        raise LeadError("Say why the lead was lost.", field="lost_reason")
    previous = lead.stage
    previous_reason = lead.lost_reason
    lead.stage = stage
    lead.lost_reason = lost_reason.strip() if stage == Stage.LOST else ""
    # previous_lost_reason lets an undo restore a "lost" lead exactly as it was.
    return {
        "from": previous.value,
        "to": stage.value,
        "lost_reason": lead.lost_reason,
        "previous_lost_reason": previous_reason,
    }


def stage_change_entry(move: dict[str, str]) -> Entry:
    """The timeline entry of a `move_stage`."""
    summary = f"Stage: {Stage(move['from']).label} → {Stage(move['to']).label}"
    if move["to"] == Stage.LOST:
        summary += f" ({move['lost_reason']})"
    return "stage_changed", summary, move


# --- The coach's lead list: filters, sort orders, keyset pagination -------------------------------

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SORTS = ("newest", "oldest", "name")


@dataclass(frozen=True)
class LeadFilters:
    """What the coach asked the lead list for. Dates are days in the coach's time zone."""

    q: str = ""
    stage: Stage | None = None
    source: str = ""
    created_from: date | None = None
    created_to: date | None = None
    sort: str = "newest"

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (empty ones left out), for links and exports."""
        args = {
            "q": self.q,
            "stage": self.stage.value if self.stage else "",
            "source": self.source,
            "created_from": self.created_from.isoformat() if self.created_from else "",
            "created_to": self.created_to.isoformat() if self.created_to else "",
            "sort": self.sort if self.sort != "newest" else "",
        }
        return {k: v for k, v in args.items() if v}


@dataclass
class LeadPage:
    items: list[Lead] | list[Row]
    next_cursor: str | None


def coach_timezone(session: Session) -> str:
    """The coach's IANA time zone: her booking settings, else the COACH_TIMEZONE setting."""
    name = session.scalar(select(CoachSettings.timezone).order_by(CoachSettings.id).limit(1))
    return timezone_or_default(name)


def coach_timezone_subquery() -> ScalarSelect:
    """The zone of the coach's booking settings (or NULL), as a column to read along with
    another statement; pass what it gives to `timezone_or_default`."""
    return select(CoachSettings.timezone).order_by(CoachSettings.id).limit(1).scalar_subquery()


def timezone_or_default(name: str | None) -> str:
    return name or current_app.config.get("COACH_TIMEZONE", "UTC")


def _day_start_utc(day: date, tz_name: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone(tz_name)).astimezone(UTC)


def _shape(filters: LeadFilters) -> tuple[bool, bool, bool, bool, bool]:
    """Which filters are set: what a statement's WHERE clause depends on (its values do not)."""
    return (
        bool(filters.q.strip()),
        bool(filters.stage),
        bool(filters.source),
        bool(filters.created_from),
        bool(filters.created_to),
    )


@cache  # per shape, per process: the values are bound at execution (`_filter_values`)
def _filter_clauses(
    q: bool, stage: bool, source: bool, created_from: bool, created_to: bool
) -> tuple[Any, ...]:
    """The lead list's filters as a WHERE clause's terms: the one definition of what matches, for
    the page, its count, the API and the export."""
    where: list[Any] = []
    if q:
        pattern = bindparam("q")
        searched = (Lead.name, Lead.email, Lead.phone)
        where.append(or_(*(column.ilike(pattern, escape="/") for column in searched)))
    if stage:
        where.append(Lead.stage == bindparam("stage"))
    if source:
        where.append(Lead.source == bindparam("source"))
    if created_from:
        where.append(Lead.created_at >= bindparam("created_from"))
    if created_to:
        where.append(Lead.created_at < bindparam("created_to"))
    return tuple(where)


def _filter_values(filters: LeadFilters, tz_name: str) -> dict[str, Any]:
    """The values of `_filter_clauses`' parameters; the days are the coach's (`tz_name`)."""
    values: dict[str, Any] = {}
    q = filters.q.strip()
    if q:
        values["q"] = _like_pattern(q)
    if filters.stage:
        values["stage"] = filters.stage
    if filters.source:
        values["source"] = filters.source
    if filters.created_from:
        values["created_from"] = _day_start_utc(filters.created_from, tz_name)
    if filters.created_to:
        values["created_to"] = _day_start_utc(filters.created_to + timedelta(days=1), tz_name)
    return values


def _like_pattern(q: str) -> str:
    """`q` as an ILIKE substring pattern, its own %, _ and / taken literally (escape "/")."""
    return "%" + q.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def _filtered(filters: LeadFilters, tz_name: str, *columns: Any) -> Select:
    stmt = select(*columns) if columns else select(Lead)
    return stmt.where(*_filter_clauses(*_shape(filters))).params(_filter_values(filters, tz_name))


def encode_cursor(sort: str, lead: Lead | Row) -> str:
    key = lead.name if sort == "name" else lead.created_at.isoformat()
    raw = json.dumps([sort, key, lead.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """(sort key, id) from a cursor; LeadError when it is garbled or made for another sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, key, lead_id = json.loads(raw)
        if cursor_sort != sort or not isinstance(lead_id, int) or not isinstance(key, str):
            raise ValueError("cursor for another sort order")
        if sort != "name":
            key = datetime.fromisoformat(key)
            if key.tzinfo is None:
                raise ValueError("naive cursor time")
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise LeadError("That page link is no longer valid; start from the first page.") from exc
    return key, lead_id


@cache
def _keyset(sort: str) -> tuple[Any, tuple[Any, Any]]:
    """(the "after this row" term, the ORDER BY) of a sort order. Keyset pagination: each page
    starts strictly after the last row of the previous one, on a total order (sort key, id) that
    an index covers, so page 2,000 costs what page 1 costs. Parameters: `key` and `id`."""
    column = Lead.name if sort == "name" else Lead.created_at
    key, lead_id = bindparam("key", type_=column.type), bindparam("id", type_=Lead.id.type)
    if sort == "newest":
        after = and_(column <= key, or_(column < key, Lead.id < lead_id))
        return after, (column.desc(), Lead.id.desc())
    after = and_(column >= key, or_(column > key, Lead.id > lead_id))
    return after, (column.asc(), Lead.id.asc())


def _ordered(stmt: Select, sort: str, cursor: str | None) -> Select:
    if sort not in SORTS:
        raise LeadError(f"Unknown sort order {sort!r}.")
    after, order = _keyset(sort)
    if cursor:
        key, lead_id = decode_cursor(cursor, sort)
        stmt = stmt.where(after).params(key=key, id=lead_id)
    return stmt.order_by(*order)


def list_leads(
    session: Session,
    filters: LeadFilters,
    *,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    tz_name: str = "UTC",
) -> LeadPage:
    """One page of leads matching `filters`, and the cursor of the next page (None on the last).

    One query: it fetches limit + 1 rows to know whether there is a next page. Raises LeadError
    for a bad cursor or sort order.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    stmt = _ordered(_filtered(filters, tz_name), filters.sort, cursor).limit(limit + 1)
    rows = list(session.scalars(stmt))
    items = rows[:limit]
    next_cursor = encode_cursor(filters.sort, items[-1]) if len(rows) > limit else None
    return LeadPage(items=items, next_cursor=next_cursor)


def _match_count(where: Iterable[Any], cap: int | None) -> Select:
    """How many leads match `where`; with `cap`, counting stops at cap + 1."""
    matches = select(Lead.id).where(*where)
    if cap is not None:
        # An exact COUNT of 100,000 rows, or of thousands of trigram matches, costs more than
        # the page it heads; past the cap the figure says nothing the coach would act on.
        matches = matches.limit(cap + 1)
    return select(func.count()).select_from(matches.subquery())


def count_leads(
    session: Session, filters: LeadFilters, *, tz_name: str = "UTC", cap: int | None = None
) -> int:
    """How many leads match `filters` (one COUNT query); with `cap`, counting stops at cap + 1,
    so a result above `cap` means "more than cap" (the list shows "1,000+")."""
    count = _match_count(_filter_clauses(*_shape(filters)), cap)
    return session.scalar(count, _filter_values(filters, tz_name)) or 0


COUNT_CAP = 1000


def page_total(
    session: Session,
    filters: LeadFilters,
    page: LeadPage,
    *,
    first_page: bool,
    tz_name: str = "UTC",
    cap: int | None = None,
) -> int:
    """The "N found" figure over a list page: the page's own length when the first page holds
    every match (no query), else a COUNT that stops past `cap` (above `cap` means "cap+")."""
    if first_page and page.next_cursor is None:
        return len(page.items)
    return count_leads(session, filters, tz_name=tz_name, cap=COUNT_CAP if cap is None else cap)


# What a row of the coach's lead list shows.
LIST_COLUMNS = (
    Lead.id,
    Lead.name,
    Lead.email,
    Lead.phone,
    Lead.stage,
    Lead.source,
    Lead.created_at,
)


@dataclass
class LeadListPage:
    rows: list[Row]  # LIST_COLUMNS, by name
    next_cursor: str | None
    total: int  # the "N found" figure: above COUNT_CAP means "COUNT_CAP+"
    tz_name: str  # the coach's
    sources: list[str]  # every lead source, in order (the filter menu)


@cache  # one statement per shape of filters, per process: the values are parameters
def _lead_list_statement(
    dialect: str,
    shape: tuple[bool, bool, bool, bool, bool],
    sort: str,
    cursor: bool,
    count_along: bool,
    zone_along: bool,
) -> Select:
    """`lead_list_page`'s statement: LIST_COLUMNS, then as asked the capped count ("total"),
    the coach's zone ("tz") and the sources as a JSON array's text ("sources") read once by
    PostgreSQL (uncorrelated subqueries) beside the rows."""
    where = list(_filter_clauses(*shape))
    columns: list[Any] = list(LIST_COLUMNS)
    if count_along:
        columns.append(_match_count(where, COUNT_CAP).scalar_subquery().label("total"))
    if zone_along:
        sources = _sources_cte()
        if dialect == "postgresql":
            listed = func.json_agg(aggregate_order_by(sources.c.source, sources.c.source))
        else:  # SQLite: the CTE yields the sources in order
            listed = func.json_group_array(sources.c.source)
        listed = select(listed).where(sources.c.source.is_not(None)).scalar_subquery()
        columns.append(coach_timezone_subquery().label("tz"))
        # As text: the value repeats on every row, and only the first row's is parsed.
        columns.append(cast(listed, Text).label("sources"))
    after, order = _keyset(sort)
    if cursor:
        where.append(after)
    return select(*columns).where(*where).order_by(*order).limit(PAGE_SIZE + 1)


def lead_list_page(
    session: Session, filters: LeadFilters, *, cursor: str | None = None
) -> LeadListPage:
    """A page of the coach's lead list (PAGE_SIZE rows of LIST_COLUMNS, no ORM objects), its
    "N found" figure, the coach's zone and the lead sources. Raises LeadError for a bad cursor or
    sort order.

    Usually one statement: the capped COUNT, the zone and the sources ride along. A date filter
    needs the zone before the page (`timezone_and_sources` first), and so does an empty page
    after it. A search's first page counts only when the matches overflow the page, as a second
    statement (`page_total`): its COUNT repeats the trigram scan, as costly as the page."""
    if filters.sort not in SORTS:
        raise LeadError(f"Unknown sort order {filters.sort!r}.")
    # A date filter needs the coach's zone before the page; otherwise it rides with the rows.
    tz_name, sources = None, None
    if filters.created_from or filters.created_to:
        tz_name, sources = timezone_and_sources(session)
    params = _filter_values(filters, tz_name or "UTC")
    if cursor:
        params["key"], params["id"] = decode_cursor(cursor, filters.sort)
    count_along = cursor is not None or not filters.q.strip()
    stmt = _lead_list_statement(
        session.get_bind().dialect.name, _shape(filters), filters.sort, cursor is not None,
        count_along, tz_name is None,
    )  # fmt: skip
    rows = session.connection().execute(stmt, params).all()
    page = LeadPage(items=rows[:PAGE_SIZE], next_cursor=None)
    if len(rows) > PAGE_SIZE:
        page.next_cursor = encode_cursor(filters.sort, rows[PAGE_SIZE - 1])
    if tz_name is None:
        if rows:
            tz_name = timezone_or_default(rows[0].tz)
            sources = json.loads(rows[0].sources) if rows[0].sources else []
        else:
            tz_name, sources = timezone_and_sources(session)
    if count_along and rows:
        count = rows[0].total
    else:  # a search's first page, or a page past the end (its leads deleted since)
        count = page_total(session, filters, page, first_page=cursor is None, tz_name=tz_name)
    return LeadListPage(page.items, page.next_cursor, count, tz_name, sources or [])


def iter_leads(
    session: Session, filters: LeadFilters, *, tz_name: str = "UTC", batch: int = 1000
) -> Iterator[Lead]:
    """Every lead matching `filters` in sort order, fetched in keyset batches (for exports)."""
    cursor = None
    while True:
        page = list_leads(session, filters, cursor=cursor, limit=batch, tz_name=tz_name)
        yield from page.items
        session.expunge_all()  # keep memory flat on a 100,000-row export
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


EXPORT_COLUMNS = (
    "id", "name", "email", "phone", "stage", "lost_reason", "source", "goal_race", "goal_date",
    "pain_level", "pain_notes", "heard_from", "marketing_consent", "created_at",
)  # fmt: skip


def export_row(lead: Lead) -> list[str]:
    """A lead as a CSV row in EXPORT_COLUMNS order, defused by `spreadsheet_cells`."""
    values = [
        lead.id, lead.name, lead.email, lead.phone, lead.stage.value, lead.lost_reason,
        lead.source, lead.goal_race, lead.goal_date.isoformat() if lead.goal_date else "",
        "" if lead.pain_level is None else lead.pain_level, lead.pain_notes, lead.heard_from,
        "yes" if lead.marketing_consent else "no", lead.created_at.isoformat(),
    ]  # fmt: skip
    return spreadsheet_cells(values)


def spreadsheet_cells(values: Iterable[object]) -> list[str]:
    """CSV cells a spreadsheet shows as text: a cell it would run as a formula (starting with
    = + - @, a tab or a carriage return) is prefixed with a quote (CSV injection). Numbers stay
    numbers. Every CSV export uses this."""
    cells = []
    for value in values:
        text = str(value)
        if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not isinstance(value, int):
            text = "'" + text
        cells.append(text)
    return cells


def _sources_cte():
    # A loose index scan: one probe of ix_leads_source_created per distinct source (a handful)
    # instead of DISTINCT over every lead (24 ms at 100,000 leads, on every list page). The
    # first row is always there (NULL when there are no leads), and the last one is NULL.
    sources = select(func.min(Lead.source).label("source")).cte("sources", recursive=True)
    following = (
        select(func.min(Lead.source)).where(Lead.source > sources.c.source).scalar_subquery()
    )
    return sources.union_all(select(following.label("source")).where(sources.c.source.is_not(None)))


@cache  # a constant statement: built once per process, not per page
def _timezone_and_sources_statement() -> Select:
    sources = _sources_cte()
    tz = coach_timezone_subquery().label("tz")
    return select(tz, sources.c.source).order_by(sources.c.source)


def timezone_and_sources(session: Session) -> tuple[str, list[str]]:
    """`coach_timezone`, and the distinct sources the leads came from in order (the filter
    menu), in one statement: the lead list needs both."""
    rows = session.execute(_timezone_and_sources_statement()).all()  # the CTE's first row, at least
    return timezone_or_default(rows[0].tz), [row.source for row in rows if row.source is not None]


# --- The pipeline board ---------------------------------------------------------------------------


def stage_counts(session: Session) -> dict[Stage, int]:
    """How many leads are in each stage (every stage present, zero included)."""
    counts = dict.fromkeys(Stage, 0)
    for stage, n in session.execute(select(Lead.stage, func.count()).group_by(Lead.stage)):
        counts[Stage(stage)] = n
    return counts


def recent_by_stage(session: Session, per_stage: int = 8) -> dict[Stage, list[Lead]]:
    """The most recently updated leads of each stage, in one query (a window function)."""
    ranked = select(
        Lead.id,
        func.row_number()
        .over(partition_by=Lead.stage, order_by=(Lead.updated_at.desc(), Lead.id.desc()))
        .label("rank"),
    ).subquery()
    stmt = (
        select(Lead)
        .join(ranked, ranked.c.id == Lead.id)
        .where(ranked.c.rank <= per_stage)
        .order_by(Lead.updated_at.desc(), Lead.id.desc())
    )
    board: dict[Stage, list[Lead]] = {stage: [] for stage in Stage}
    for lead in session.scalars(stmt):
        board[lead.stage].append(lead)
    return board


def get_lead(session: Session, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise LeadNotFound("No such lead.")
    return lead


def move_lead(
    session: Session,
    lead_id: int,
    stage: Stage | str,
    *,
    lost_reason: str = "",
    actor_id: int | None = None,
) -> LeadEvent | None:
    """The coach moves a lead to another stage (commits).

    Returns the timeline event (its id is the undo handle), or None when the lead already was in
    that stage. Raises LeadNotFound, or LeadError for an illegal move or "lost" without a reason.
    """
    lead = get_lead(session, lead_id)
    try:
        stage = Stage(stage)
    except ValueError as exc:
        raise LeadError(f"Unknown stage {stage!r}.", field="stage") from exc
    event = change_stage(session, lead, stage, lost_reason=lost_reason, actor_id=actor_id)
    if event is not None:
        session.commit()
    return event


def undo_stage_change(
    session: Session, lead_id: int, event_id: int, *, actor_id: int | None = None
) -> Stage:
    """Put a lead back where a stage change (`event_id`) took it from (commits); returns the stage.

    Only the lead's latest stage change can be undone, and only while the lead is still where that
    change put it; otherwise LeadError.
    """
    lead = get_lead(session, lead_id)
    latest = session.scalar(
        select(LeadEvent)
        .where(LeadEvent.lead_id == lead.id, LeadEvent.kind == "stage_changed")
        .order_by(LeadEvent.id.desc())
        .limit(1)
    )
    if latest is None or latest.id != event_id or latest.data.get("to") != lead.stage.value:
        raise LeadError("That change can no longer be undone.")
    previous = Stage(latest.data["from"])
    # The move back is always allowed (it is the state the lead was in a moment ago), so force it.
    event = change_stage(
        session,
        lead,
        previous,
        lost_reason=latest.data.get("previous_lost_reason") or "undone",
        actor_id=actor_id,
        force=True,
    )
    event.summary = f"Undone: back to {previous.label}"
    event.data = {**event.data, "undo_of": latest.id}
    session.commit()
    return previous


def set_automation_paused(
    session: Session, lead_id: int, paused: bool, *, actor_id: int | None = None
) -> Lead:
    """Pause or resume the automatic emails for a lead (commits; timeline entry)."""
    lead = get_lead(session, lead_id)
    if lead.automation_paused != paused:
        lead.automation_paused = paused
        summary = "Automation paused" if paused else "Automation resumed"
        record_event(session, lead, "automation_paused" if paused else "automation_resumed",
                     summary, actor_id=actor_id)  # fmt: skip
        session.commit()
    return lead


# --- Notes ----------------------------------------------------------------------------------------

NOTE_MAX_LENGTH = 5000


def _clean_note(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise LeadError("Write something in the note.")
    if len(body) > NOTE_MAX_LENGTH:
        raise LeadError(f"Keep a note under {NOTE_MAX_LENGTH} characters.")
    return body


def add_note(session: Session, lead_id: int, body: str, *, author_id: int | None = None) -> Note:
    """Add a note to a lead (commits; timeline entry). LeadError for an empty or huge note."""
    lead = get_lead(session, lead_id)
    note = Note(lead=lead, body=_clean_note(body), author_id=author_id)
    session.add(note)
    record_event(session, lead, "note_added", f"Note: {note.body[:120]}", actor_id=author_id)
    session.commit()
    return note


def _get_note(session: Session, lead_id: int, note_id: int) -> Note:
    note = session.get(Note, note_id)
    if note is None or note.lead_id != lead_id:
        raise LeadNotFound("No such note.")
    return note


def update_note(
    session: Session, lead_id: int, note_id: int, body: str, *, actor_id: int | None = None
) -> Note:
    """Change a note's text (commits; timeline entry)."""
    note = _get_note(session, lead_id, note_id)
    note.body = _clean_note(body)
    record_event(session, note.lead, "note_edited", f"Note edited: {note.body[:120]}",
                 {"note_id": note.id}, actor_id)  # fmt: skip
    session.commit()
    return note


def delete_note(
    session: Session, lead_id: int, note_id: int, *, actor_id: int | None = None
) -> None:
    """Delete a note (commits; the timeline keeps a trace)."""
    note = _get_note(session, lead_id, note_id)
    lead = note.lead
    session.delete(note)
    record_event(session, lead, "note_deleted", "Note deleted", {"note_id": note_id}, actor_id)
    session.commit()


# The lead page's statements are built once per process (the lead's id is a parameter): building
# one costs about as much as running it. Those of plain columns run on the session's connection,
# as Core: the ORM's handling of a statement costs more than a small one's rows (the page only
# reads, so there is nothing for the session to flush first).


@cache
def _enrolments_statement() -> Select:
    return (
        select(Enrolment)
        .where(Enrolment.lead_id == bindparam("lead_id"))
        .options(
            selectinload(Enrolment.programme),
            selectinload(Enrolment.price),
            selectinload(Enrolment.payments),
        )
        .order_by(Enrolment.started_at.desc(), Enrolment.id.desc())
    )


def lead_enrolments(session: Session, lead_id: int) -> list:
    """The lead's paid enrolments (billing), newest first, with programme, price and payments."""
    return list(session.scalars(_enrolments_statement(), {"lead_id": lead_id}))


@cache
def _notes_statement() -> Select:
    return (
        select(Note.id, Note.body, Note.created_at, Note.updated_at)
        .where(Note.lead_id == bindparam("lead_id"))
        .order_by(Note.id.desc())
    )


def lead_notes(session: Session, lead_id: int) -> list[Row]:
    """The lead's notes, newest first: id, body, created_at and updated_at."""
    return list(session.connection().execute(_notes_statement(), {"lead_id": lead_id}))


class Call(NamedTuple):
    """One of the lead's calls, as the lead page shows it."""

    id: int
    start_at: datetime
    timezone: str
    status: BookingStatus


class TimelineEntry(NamedTuple):
    created_at: datetime
    summary: str


TIMELINE_SHOWN = 200  # the lead page's timeline: the newest entries


def _json_rows(
    dialect: str,
    columns: list,
    where: Any,
    keys: list,
    *,
    newest_first: bool = True,
    limit: int | None = None,
):
    """Rows as a JSON array of arrays of `columns`, ordered by `keys` (descending when
    `newest_first`), NULL when there are none: a column of the lead's statement (correlated to
    the lead when `where` names it), so the list costs no statement of its own."""
    inner = select(
        *(column.label(f"v{i}") for i, column in enumerate(columns)),
        *(column.label(f"k{i}") for i, column in enumerate(keys)),
    ).where(where)
    inner = inner.correlate(Lead).order_by(*(k.desc() if newest_first else k for k in keys))
    if limit is not None:
        inner = inner.limit(limit)
    inner = inner.subquery()
    values = [inner.c[f"v{i}"] for i in range(len(columns))]
    if dialect == "postgresql":
        order = [inner.c[f"k{i}"] for i in range(len(keys))]
        order = [k.desc() for k in order] if newest_first else order
        listed = func.json_agg(aggregate_order_by(func.json_build_array(*values), *order))
        return type_coerce(select(listed).scalar_subquery(), JSON)
    row = func.json_array(*values)  # SQLite aggregates in the subquery's order
    return type_coerce(select(func.json_group_array(func.json(row))).scalar_subquery(), JSON)


def _utc(value: str) -> datetime:
    """A timestamp from a JSON list: PostgreSQL writes its offset, SQLite's values are UTC."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class LeadDetail:
    """What the lead page shows besides the forms."""

    lead: Lead
    tz_name: str  # the coach's
    bookings: list[Call]  # newest first
    enrolments: list[Enrolment]
    notes: list[Row]
    timeline: list[TimelineEntry]  # newest first, TIMELINE_SHOWN at most
    offer_programmes: list[tuple[int, str]]  # on sale (an active price), by name: the offer menu


@cache
def _lead_detail_statement(dialect: str) -> Select:
    def has(model) -> Any:
        return select(model.id).where(model.lead_id == Lead.id).exists()

    # The programmes an offer can be for (on sale: an active price), [id, name] by name.
    programmes = _json_rows(
        dialect, [Programme.id, Programme.name], on_sale(), [Programme.name], newest_first=False
    )
    calls = _json_rows(
        dialect,
        [Booking.id, Booking.start_at, Booking.timezone, Booking.status],
        Booking.lead_id == Lead.id,
        [Booking.start_at, Booking.id],
    )
    timeline = _json_rows(
        dialect,
        [LeadEvent.created_at, LeadEvent.summary],
        LeadEvent.lead_id == Lead.id,
        [LeadEvent.created_at, LeadEvent.id],
        limit=TIMELINE_SHOWN,
    )
    return select(
        Lead, coach_timezone_subquery(), calls, has(Enrolment), has(Note), programmes, timeline
    ).where(Lead.id == bindparam("lead_id"))


def lead_detail(session: Session, lead_id: int) -> LeadDetail:
    """The lead page's data; LeadNotFound. One statement reads the lead, the coach's zone, her
    calls and her timeline (as JSON lists), which of her other lists have rows, so an empty one
    (no notes, not a client: most leads) costs no query, and the programmes on sale (the offer
    menu)."""
    stmt = _lead_detail_statement(session.get_bind().dialect.name)
    row = session.execute(stmt, {"lead_id": lead_id}).first()
    if row is None:
        raise LeadNotFound("No such lead.")
    lead, tz_name, calls, enrolments, notes, programmes, timeline = row
    return LeadDetail(
        lead=lead,
        tz_name=timezone_or_default(tz_name),
        bookings=[
            Call(call_id, _utc(start), zone_name, BookingStatus[status])
            for call_id, start, zone_name, status in calls or ()
        ],
        enrolments=lead_enrolments(session, lead_id) if enrolments else [],
        notes=lead_notes(session, lead_id) if notes else [],
        timeline=[TimelineEntry(_utc(at), summary) for at, summary in timeline or ()],
        offer_programmes=[(pid, name) for pid, name in programmes or ()],
    )

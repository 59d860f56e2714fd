"""Pages run a number of queries that does not grow with the rows they show (no N+1), and the lead
search is answered from the trigram indexes on PostgreSQL at a realistic size."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from crm.booking import availability as coach_availability
from crm.booking import services as booking_services
from crm.booking.models import Booking
from crm.leads import services as lead_services
from crm.leads.services import LeadFilters, _filtered, _ordered
from extensions import db
from programs.intake import submit_intake
from programs.logs import record_workout
from programs.plans import active_plan, load_plan
from tasks.models import OutboxEmail
from tasks.outbox import queue_email
from tests.querycount import statements_for
from tests.security.conftest import intake


def assert_constant(client, url: str | Callable[[], str], grow: Callable[[int], None]) -> None:
    grow(3)
    few = statements_for(client, url() if callable(url) else url)
    grow(30)
    many = statements_for(client, url() if callable(url) else url)
    assert few == many, f"{url}: {few} queries with few rows, {many} with many"


@pytest.fixture
def as_coach(client, auth, coach):
    auth.login(coach)
    return client


def test_dashboard_queries_do_not_grow_with_calls_and_leads(as_coach, db_session):
    coach_availability.ensure_default_availability(db_session)
    slots = iter(coach_availability.free_slots(db_session, days=14))

    def grow(n):
        for _ in range(n):
            k = next(slots)
            booking_services.book_call(
                db_session,
                name=f"Runner {k.start:%H%M%d}",
                email=f"r{k.start:%H%M%d}@example.com",
                slot_start=k.start,
                timezone="America/New_York",
            )

    as_coach.get("/coach")  # the first visit counts the funnel and revenue (beat keeps them)
    assert_constant(as_coach, "/coach", grow)


def test_pipeline_and_lead_api_queries_do_not_grow_with_leads(as_coach, make_lead):
    def grow(n):
        for _ in range(n):
            make_lead()

    assert_constant(as_coach, "/coach/pipeline", grow)
    assert_constant(as_coach, "/api/v1/leads", grow)


def test_lead_detail_queries_do_not_grow_with_notes_and_events(as_coach, db_session, make_lead):
    lead = make_lead(name="Nora Notes")

    def grow(n):
        for i in range(n):
            lead_services.add_note(db_session, lead.id, f"note {i}")

    assert_constant(as_coach, f"/coach/leads/{lead.id}", grow)


def test_outbox_queries_do_not_grow_with_emails(as_coach, db_session):
    seq = iter(range(10_000))

    def grow(n):
        for _ in range(n):
            i = next(seq)
            queue_email(
                db_session,
                to=f"o{i}@example.com",
                template="password_reset",
                context={"first_name": "O", "token": "t", "max_age_minutes": 60},
                idempotency_key=f"qc-{i}",
            )
        db_session.commit()

    assert_constant(as_coach, "/coach/outbox", grow)


def test_client_list_queries_do_not_grow_with_clients(as_coach, db_session, make_user):
    def grow(n):
        for _ in range(min(n, 6)):  # plans are generated for real: keep it short
            runner = make_user(role="runner")
            submit_intake(db_session, runner.id, intake())

    assert_constant(as_coach, "/coach/clients", grow)


def test_runner_pages_queries_do_not_grow_with_logs(client, auth, db_session, make_user):
    runner = make_user(role="runner", first_name="Logan")
    start = date.today() - timedelta(weeks=4)
    submit_intake(db_session, runner.id, intake(start_date=start))
    plan = load_plan(active_plan(db_session, runner.id))
    days = iter(sorted({s.date for w in plan.weeks for s in w.sessions if s.date < date.today()}))
    auth.login(runner)

    def grow(n):
        for _ in range(n):
            day = next(days, None)
            if day is not None:
                record_workout(db_session, runner.id, day, "done", 5, 1, today=day)

    for url in ("/portal", "/portal/progress", "/portal/week"):
        assert_constant(client, url, grow)


# --- the lead search on PostgreSQL --------------------------------------------------------------


def test_lead_search_uses_the_trigram_indexes_at_100k_leads(app_ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's (SQLite scans; see BENCHMARKS.md)")
    db.session.rollback()  # no transaction of ours may hold a lock on leads during the DDL
    try:
        _search_at_100k_leads()
    finally:  # 100,000 rows under three GIN indexes: TRUNCATE, not the suite's row-by-row DELETE
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE leads CASCADE"))


def _search_at_100k_leads() -> None:
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                """
                INSERT INTO leads (email, name, phone, goal_race, pain_notes, heard_from, timezone,
                    marketing_consent, source, utm, stage, lost_reason, automation_paused,
                    created_at, updated_at)
                SELECT 'lead' || i || '@example.com',
                       (ARRAY['Maria','Ana','Rosa','Emma','Olivia'])[1 + i % 5] || ' ' ||
                       (ARRAY['Lopez','Smith','Garcia','Brown','Davis'])[1 + i % 5] || i,
                       '+1702' || lpad((i * 7919 % 10000000)::text, 7, '0'),
                       '', '', '', 'America/Los_Angeles', false, 'direct', '{}', 'NEW', '',
                       false, now() - (i || ' minutes')::interval, now()
                FROM generate_series(1, 100000) AS i
                """
            )
        )
        conn.execute(sa.text("ANALYZE leads"))
    for q in ("lead4242@", "Garcia9999", "7025550"):
        stmt = _ordered(_filtered(LeadFilters(q=q), "UTC"), "newest", None).limit(51)
        compiled = stmt.compile(dialect=db.engine.dialect)
        with db.engine.connect() as conn:
            # The driver gets the statement and its parameters as the app sends them.
            rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
            plan = "\n".join(row[0] for row in rows)
        assert "_trgm" in plan, f"search {q!r} does not use a trigram index:\n{plan}"
        assert "Seq Scan on leads" not in plan, plan
    page = lead_services.list_leads(db.session, LeadFilters(q="lead4242@"))
    assert [lead.email for lead in page.items] == ["lead4242@example.com"]


# --- writes -------------------------------------------------------------------------------------


def test_a_booking_costs_a_fixed_handful_of_statements(app_ctx, db_session, booking_worker):
    """Booking a call writes the lead, the booking and its timeline entries and nothing else:
    the consent stamped in the lead's INSERT (no UPDATE for it), no look-up of nurture emails to
    stop for a lead who is new, and no email (the worker queues the three once it commits, and
    renders each when it sends it)."""
    coach_availability.ensure_default_availability(db_session)
    db_session.commit()
    slot = coach_availability.free_slots(db_session, days=14)[-1]
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        with app_ctx.app_context():  # a request's own: nothing of the coach's kept from before
            booking_id = booking_services.book_call(
                db.session,
                name="Ada Runner",
                email="ada.runner@example.com",
                slot_start=slot.start,
                timezone="America/New_York",
                marketing_consent=True,
            ).id
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    # the settings, windows, days off and whether she has a calendar feed (one statement; with
    # none there is no copy to read again); a booking that clashes with the slot and her lead
    # (one statement); INSERT lead (already in its stage: no UPDATE), booking; the timeline's
    # three entries in one INSERT.
    assert len(seen) == 5, seen
    assert len([s for s in seen if s.startswith("INSERT INTO lead_events")]) == 1
    assert not [s for s in seen if s.startswith("UPDATE leads")]
    assert not [s for s in seen if "outbox_emails" in s or "email_overrides" in s]
    booking = db_session.get(Booking, booking_id)
    assert booking.lead.consent_at is not None
    lead_id = booking.lead_id

    # The worker's half: the three emails in one INSERT, not rendered (the sender renders them).
    seen.clear()
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert booking_worker() == 1
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert len([s for s in seen if s.startswith("INSERT INTO outbox_emails")]) == 1
    queued = db_session.scalars(
        sa.select(OutboxEmail.template).where(OutboxEmail.lead_id == lead_id)
    ).all()
    assert sorted(queued) == ["booking_confirmation", "booking_reminder", "booking_reminder"]
    bodies = db_session.execute(
        sa.select(OutboxEmail.html, OutboxEmail.text).where(OutboxEmail.lead_id == lead_id)
    ).all()
    assert bodies == [("", "")] * 3

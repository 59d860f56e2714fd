"""`flask --app app seed-bench`: a coach's five years of data, fast and deterministic by seed.

    flask --app app seed-bench --leads 100000 --clients 10000 --logs 1000000 --seed 1

Rows go in with SQLAlchemy Core `insert()` executemany in batches (psycopg 3 sends each batch as
one multi-row INSERT, "insertmanyvalues"), not one ORM object at a time, so column types and
Python-side defaults are the models' own. Each runner's intake and plan come from the real
services for a handful of template runners and are copied to the rest (the plan engine is
benchmarked on its own in bench/bench_plans.py). The same seed and `--anchor` day give the same
rows; the anchor defaults to today so "today's calls" and the runner's "today" page have data.

Every bench account's password is BENCH_PASSWORD; the coach is BENCH_COACH.
"""

from __future__ import annotations

import enum
import itertools
import json
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext

from extensions import db

BENCH_COACH = "coach@bench.example"
BENCH_PASSWORD = "bench password 1"
BATCH = 5000

FIRST = [
    *[
        "Maria",
        "Ana",
        "Rosa",
        "Emma",
        "Olivia",
        "Ava",
        "Sophia",
        "Mia",
        "Isabella",
        "Amelia",
        "Harper",
        "Evelyn",
        "Abigail",
        "Ella",
    ],
    *[
        "Grace",
        "Chloe",
        "Lily",
        "Nora",
        "Zoe",
        "Hannah",
        "Layla",
        "Aria",
        "Riley",
        "Aubrey",
        "Penelope",
        "Camila",
        "Luna",
        "Leah",
    ],
]
LAST = [
    *[
        "Lopez",
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Jones",
        "Garcia",
        "Miller",
        "Davis",
        "Rodriguez",
        "Martinez",
    ],
    *[
        "Hernandez",
        "Wilson",
        "Anderson",
        "Thomas",
        "Taylor",
        "Moore",
        "Jackson",
        "Martin",
        "Lee",
        "Perez",
        "Thompson",
    ],
]
SOURCES = ["direct", "google", "instagram", "facebook", "article", "friend", "rundisney-forum"]
RACES = ["", "", "runDisney 5K", "Turkey Trot", "Color Run", "Parkrun", "Princess 5K"]
STAGE_WEIGHTS = {
    "new": 30,
    "call_booked": 10,
    "call_held": 15,
    "offer_sent": 8,
    "enrolled": 0,  # clients are the enrolled leads
    "lost": 37,
}


def batched(rows: Iterator[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _with_defaults(table: sa.Table, row: dict) -> dict:
    """The row with every column the model defaults in Python filled in (COPY runs none)."""
    for column in table.columns:
        if column.name in row or column.default is None:
            continue
        default = column.default
        row[column.name] = default.arg(None) if default.is_callable else default.arg
    return row


def _copy_rows(table: sa.Table, rows: Iterator[dict], bar) -> int:
    """PostgreSQL: stream rows through COPY, each value converted by its column's own type."""
    dialect = db.engine.dialect
    first = next(rows, None)
    if first is None:
        return 0
    columns = list(_with_defaults(table, first))
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]  # noqa: SLF001

    def convert(row: dict) -> list:
        values = []
        for name, process in zip(columns, processors, strict=True):
            value = row[name]
            if process is not None:
                value = process(value)
            if isinstance(value, dict | list):
                value = json.dumps(value)
            elif isinstance(value, enum.Enum):
                value = value.value
            values.append(value)
        return values

    done = 0
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(sql) as copy:
            for row in itertools.chain([first], rows):
                copy.write_row(convert(_with_defaults(table, row)))
                done += 1
                if done % BATCH == 0:
                    bar.update(BATCH)
        raw.commit()
    finally:
        raw.close()
    bar.update(done % BATCH)
    return done


def insert_rows(table: sa.Table, rows: Iterator[dict], total: int, label: str) -> int:
    """Bulk-insert `rows` into `table` with a progress bar: COPY on PostgreSQL, else Core
    executemany in batches. Returns the row count."""
    with click.progressbar(length=total, label=label.ljust(16), show_pos=True) as bar:
        if db.engine.dialect.name == "postgresql":
            return _copy_rows(table, rows, bar)
        done = 0
        for batch in batched(rows):
            db.session.execute(table.insert(), batch)
            db.session.commit()
            done += len(batch)
            bar.update(len(batch))
        return done


def seed_bench(
    *,
    leads: int,
    clients: int,
    logs: int,
    seed: int,
    anchor: date,
    echo: Callable[[str], None] = click.echo,
) -> dict[str, int]:
    """Fill an EMPTY database with bench data; returns the row count per table."""
    from crm.accounts.models import Role, User
    from crm.accounts.services import hash_password
    from crm.booking import availability as coach_availability
    from crm.booking.models import Booking, BookingStatus
    from crm.leads.models import Lead, LeadEvent, Stage
    from programs.intake import submit_intake
    from programs.models import LogStatus, PlanRecord, RunnerProfile, WorkoutLog
    from programs.plans import load_plan

    if db.session.scalar(sa.select(Lead.id).limit(1)) is not None:
        raise click.ClickException("The database already has leads; seed-bench needs an empty one.")
    if clients > leads:
        raise click.ClickException("--clients cannot exceed --leads (every client was a lead).")
    rng = random.Random(seed)
    now = datetime.combine(anchor, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    five_years = 5 * 365 * 24 * 3600
    counts: dict[str, int] = {}
    password_hash = hash_password(BENCH_PASSWORD)  # one hash: argon2 is slow on purpose

    # The coach, her availability, and the template runners whose plans the clients share.
    coach = User(email=BENCH_COACH, role=Role.COACH, first_name="Ali", password_hash=password_hash)
    db.session.add(coach)
    db.session.commit()
    coach_availability.ensure_default_availability(db.session)

    templates = []
    weekday = anchor.weekday()
    for i, (ability, pain_area) in enumerate(
        [("walk_only", "knee"), ("run_minutes", "shin"), ("run_minutes", "hip"), ("run_5k", "none")]
    ):
        user = User(
            email=f"template{i}@bench.example",
            role=Role.RUNNER,
            first_name="Template",
            password_hash=password_hash,
        )
        db.session.add(user)
        db.session.commit()
        submit_intake(
            db.session,
            user.id,
            {
                "ability": ability,
                "run_minutes": 5 if ability == "run_minutes" else None,
                "days": sorted({weekday, (weekday + 2) % 7, (weekday + 4) % 7}),
                "long_run_day": weekday,
                "equipment": ["none", "band"],
                "pain_area": pain_area,
                "pain_level": 2 if pain_area != "none" else 0,
                "start_date": anchor - timedelta(weeks=6),
                "race_date": None,
                "race_type": None,
                "age": 40,
                "timezone": "America/Los_Angeles",
            },
        )
        profile = db.session.scalar(sa.select(RunnerProfile).filter_by(user_id=user.id))
        plan = db.session.scalar(sa.select(PlanRecord).filter_by(user_id=user.id))
        templates.append((profile, plan))

    # Clients (runner accounts) first, so leads can point at them.
    first_client_id = (db.session.scalar(sa.select(sa.func.max(User.id))) or 0) + 1

    def client_rows():
        for i in range(clients):
            yield {
                "id": first_client_id + i,
                "email": f"client{i}@bench.example",
                "role": Role.RUNNER,
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "password_hash": password_hash,
                "timezone": "America/Los_Angeles",
                "active": True,
                "created_at": now - timedelta(days=rng.randint(1, 5 * 365)),
            }

    counts["users"] = insert_rows(User.__table__, client_rows(), clients, "users")

    stages = [Stage(s) for s in STAGE_WEIGHTS]
    weights = list(STAGE_WEIGHTS.values())

    def lead_rows():
        for i in range(leads):
            is_client = i < clients
            created = now - timedelta(seconds=rng.randint(0, five_years))
            stage = Stage.ENROLLED if is_client else rng.choices(stages, weights)[0]
            source = rng.choice(SOURCES)
            yield {
                "id": i + 1,
                "email": f"client{i}@bench.example" if is_client else f"lead{i}@bench.example",
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "phone": f"+1702{rng.randint(0, 9_999_999):07d}",
                "goal_race": rng.choice(RACES),
                "pain_level": rng.randint(0, 10) if rng.random() < 0.6 else None,
                "pain_notes": "knee hurts on stairs" if rng.random() < 0.3 else "",
                "heard_from": source,
                "timezone": "America/Los_Angeles",
                "marketing_consent": rng.random() < 0.5,
                "source": source,
                "utm": {"utm_source": source} if source != "direct" else {},
                "stage": stage,
                "lost_reason": "not now" if stage == Stage.LOST else "",
                "automation_paused": False,
                "user_id": first_client_id + i if is_client else None,
                "created_at": created,
                "updated_at": created,
            }

    counts["leads"] = insert_rows(Lead.__table__, lead_rows(), leads, "leads")

    def event_rows():
        for i in range(leads):
            yield {
                "lead_id": i + 1,
                "kind": "created",
                "summary": "Lead created",
                "data": {},
                "created_at": now - timedelta(days=rng.randint(0, 5 * 365)),
            }

    counts["lead_events"] = insert_rows(LeadEvent.__table__, event_rows(), leads, "lead events")

    # Past calls for a fifth of the leads on a 30-minute grid (slot_start is unique), and the
    # coach's calls over the next week on business hours.
    n_past = leads // 5
    first_past = now - timedelta(minutes=30 * (n_past + 10))

    def booking_rows():
        for k in range(n_past):
            start = first_past + timedelta(minutes=30 * k)
            yield {
                "lead_id": rng.randint(1, leads),
                "start_at": start,
                "end_at": start + timedelta(minutes=20),
                "slot_start": None,  # a past call no longer holds its slot
                "status": rng.choice([BookingStatus.HELD, BookingStatus.NO_SHOW]),
                "timezone": "America/Los_Angeles",
                "created_at": start - timedelta(days=3),
            }
        for k in range(40):
            day = now + timedelta(days=k // 8)
            start = day.replace(hour=16, minute=0) + timedelta(minutes=30 * (k % 8))
            yield {
                "lead_id": clients + 1 + k if clients + 1 + k <= leads else 1 + k,
                "start_at": start,
                "end_at": start + timedelta(minutes=20),
                "slot_start": start,
                "status": BookingStatus.BOOKED,
                "timezone": "America/Los_Angeles",
                "created_at": now - timedelta(days=1),
            }

    counts["bookings"] = insert_rows(Booking.__table__, booking_rows(), n_past + 40, "bookings")

    def profile_rows():
        for i in range(clients):
            profile, _ = templates[i % len(templates)]
            yield {
                "user_id": first_client_id + i,
                "profile": profile.profile,
                "ability": profile.ability,
                "run_minutes": profile.run_minutes,
                "days_per_week": profile.days_per_week,
                "pain_area": profile.pain_area,
                "pain_level": profile.pain_level,
                "race_date": profile.race_date,
                "race_type": profile.race_type,
                "start_date": profile.start_date,
                "timezone": profile.timezone,
                "pain_threshold": profile.pain_threshold,
            }

    def plan_rows():
        for i in range(clients):
            _, plan = templates[i % len(templates)]
            yield {
                "user_id": first_client_id + i,
                "engine_version": plan.engine_version,
                "base_plan": plan.base_plan,
                "plan": plan.plan,
                "calendar": plan.calendar,
                "coach_edits": [],
                "active": True,
            }

    counts["runner_profiles"] = insert_rows(
        RunnerProfile.__table__, profile_rows(), clients, "runner profiles"
    )
    counts["plan_records"] = insert_rows(PlanRecord.__table__, plan_rows(), clients, "plans")

    # Logs: spread over the clients, one per (runner, day, kind), going back from yesterday.
    per_client, extra = divmod(logs, clients) if clients else (0, 0)
    statuses = [LogStatus.DONE] * 7 + [LogStatus.PARTIAL, LogStatus.SKIPPED]

    # Each run/walk keeps the longest run its template's plan set that day, as a logged one does.
    runs = [
        {s.date: s.longest_run_seconds for s in load_plan(plan).sessions if s.kind == "run_walk"}
        for _, plan in templates
    ]

    def log_rows():
        for i in range(clients):
            n = per_client + (1 if i < extra else 0)
            for k in range(n):
                status = rng.choice(statuses)
                skipped = status == LogStatus.SKIPPED
                session_date = anchor - timedelta(days=1 + k // 2)
                yield {
                    "user_id": first_client_id + i,
                    "session_date": session_date,
                    "kind": "run_walk" if k % 2 == 0 else "strength",
                    "run_seconds": runs[i % len(runs)].get(session_date) if k % 2 == 0 else None,
                    "status": status,
                    "effort": None if skipped else rng.randint(3, 9),
                    "pain_during": None if skipped else rng.choice([0, 0, 0, 1, 2, 3, 5]),
                    "pain_next_morning": None,
                    "note": "",
                }

    counts["workout_logs"] = insert_rows(WorkoutLog.__table__, log_rows(), logs, "workout logs")

    if db.engine.dialect.name == "postgresql":
        # Fix the sequences after explicit ids; then VACUUM ANALYZE, as autovacuum would leave
        # the tables: fresh statistics, and a visibility map so index-only scans skip the heap.
        with db.engine.begin() as conn:
            for table in ("users", "leads"):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    return counts


@click.command("seed-bench")
@click.option("--leads", default=100_000, show_default=True, help="Leads (five years of them).")
@click.option("--clients", default=10_000, show_default=True, help="Enrolled runners.")
@click.option("--logs", default=1_000_000, show_default=True, help="Workout logs in all.")
@click.option("--seed", default=1, show_default=True, help="Random seed: same seed, same rows.")
@click.option(
    "--anchor",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the data is 'today' for (default: today, UTC).",
)
@click.option("--create-tables", is_flag=True, help="Create the tables first (a scratch database).")
@with_appcontext
def seed_bench_command(leads, clients, logs, seed, anchor, create_tables) -> None:
    """Fill an empty database with a coach's five years of leads, clients and logs."""
    if create_tables:
        db.create_all()
    started = time.perf_counter()
    day = anchor.date() if anchor else datetime.now(UTC).date()
    counts = seed_bench(leads=leads, clients=clients, logs=logs, seed=seed, anchor=day)
    elapsed = time.perf_counter() - started
    total = sum(counts.values())
    click.echo(
        f"Seeded {total:,} rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s): "
        + ", ".join(f"{name} {n:,}" for name, n in counts.items())
    )
    click.echo(f"Coach login: {BENCH_COACH} / {BENCH_PASSWORD}")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_bench_command)

"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from extensions import db, include_in_migrations
from tests.conftest import PG_URL, _drop_database, _recreate_database, make_test_config

SCRATCH_DB = PG_URL.rsplit("/", 1)[1] + "_migrations"


def _scratch_url(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    _recreate_database(SCRATCH_DB)
    return PG_URL.rsplit("/", 1)[0] + f"/{SCRATCH_DB}"


def _index_definitions() -> set[str]:
    """Every index as PostgreSQL spells it (INCLUDE columns, GIN operator classes, WITH options:
    what Alembic's comparison does not look at)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
        )
        return {row[0] for row in rows}


def _insert_runner(conn) -> int:
    """A runner's row, as the schema of an older revision takes it; her id."""
    return conn.execute(
        sa.text(
            "INSERT INTO users (email, password_hash, role, first_name, last_name,"
            " timezone, active, created_at) VALUES ('r@example.com', '', 'RUNNER', 'R',"
            " '', 'UTC', true, CURRENT_TIMESTAMP) RETURNING id"
        )
    ).scalar()


def _insert_plans_and_logs(conn, *, plans, logs) -> None:
    """A runner with these (plan, active) records and a log for each (day, kind), as the
    schema of an older revision takes them."""
    user_id = _insert_runner(conn)
    for stored, is_active in plans:
        conn.execute(
            sa.text(
                "INSERT INTO plan_records (user_id, engine_version, base_plan, plan,"
                " calendar, coach_edits, active, created_at, updated_at) VALUES (:u, '1',"
                " :p, :p, '[]', '[]', :a, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"u": user_id, "p": json.dumps(stored), "a": is_active},
        )
    for day, kind in logs:
        conn.execute(
            sa.text(
                "INSERT INTO workout_logs (user_id, session_date, kind, status, note,"
                " created_at, updated_at) VALUES (:u, :d, :k, 'DONE', '',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"u": user_id, "d": day, "k": kind},
        )


def test_migrations_match_the_models(backend, tmp_path):
    app = create_app(make_test_config(_scratch_url(backend, tmp_path), tmp_path))
    with app.app_context():
        upgrade()
        migrated_indexes = _index_definitions() if backend == "postgresql" else set()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": True,
                    "include_object": include_in_migrations(conn.dialect.name),
                },
            )
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        if backend == "postgresql":
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
            db.create_all()
            assert _index_definitions() == migrated_indexes
        db.engine.dispose()
    if backend == "postgresql":
        _drop_database(SCRATCH_DB)


def test_plan_calendars_are_filled_for_existing_plans(backend, tmp_path):
    """0003 adds plan_records.calendar and fills it from each plan that is already there."""
    app = create_app(make_test_config(_scratch_url(backend, tmp_path), tmp_path))
    plan = {"weeks": [{"sessions": [
        {"date": "2026-12-01", "title": "Run/walk 1:2 x 8", "kind": "run", "steps": [1, 2]},
        {"date": "2026-12-03", "title": "Hips, standing", "kind": "strength"},
    ]}, {"sessions": [{"date": "2026-12-08", "title": "Rest", "kind": "rest"}]}]}  # fmt: skip
    with app.app_context():
        upgrade(revision="0002")
        with db.engine.begin() as conn:
            user_id = _insert_runner(conn)
            conn.execute(
                sa.text(
                    "INSERT INTO plan_records (user_id, engine_version, base_plan, plan,"
                    " coach_edits, active, created_at, updated_at) VALUES (:u, '1', :p, :p, '[]',"
                    " true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"u": user_id, "p": json.dumps(plan)},
            )
        upgrade()
        with db.engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT calendar FROM plan_records")).scalar()
        stored = json.loads(stored) if isinstance(stored, str) else stored
        assert stored == [
            {"date": "2026-12-01", "title": "Run/walk 1:2 x 8", "kind": "run"},
            {"date": "2026-12-03", "title": "Hips, standing", "kind": "strength"},
            {"date": "2026-12-08", "title": "Rest", "kind": "rest"},
        ]
        db.engine.dispose()
    if backend == "postgresql":
        _drop_database(SCRATCH_DB)


def test_run_seconds_are_filled_for_logged_run_walks(backend, tmp_path):
    """0007 adds workout_logs.run_seconds and fills it for the run/walks already logged: the
    longest run of that day's session in her active plan, else in her newest older plan."""
    app = create_app(make_test_config(_scratch_url(backend, tmp_path), tmp_path))

    def run_walk(day: str, *runs: int) -> dict:
        segments = [{"kind": "walk", "seconds": 60}] + [{"kind": "run", "seconds": s} for s in runs]
        return {"date": day, "title": "Run/walk", "kind": "run_walk", "segments": segments}

    active = {
        "weeks": [{"sessions": [run_walk("2026-12-01", 300, 600), run_walk("2026-12-03", 90)]}]
    }
    older = {"weeks": [{"sessions": [run_walk("2026-12-03", 1200), run_walk("2026-11-28", 240)]}]}
    with app.app_context():
        upgrade(revision="0006_booking_emails_later")
        with db.engine.begin() as conn:
            _insert_plans_and_logs(
                conn,
                plans=((older, False), (active, True)),
                logs=(("2026-12-01", "run_walk"), ("2026-12-03", "run_walk"),
                      ("2026-11-28", "run_walk"), ("2026-11-20", "run_walk"),
                      ("2026-12-01", "strength")),
            )  # fmt: skip
        upgrade()
        with db.engine.connect() as conn:
            filled = conn.execute(
                sa.text("SELECT session_date, kind, run_seconds FROM workout_logs")
            ).all()
        filled = {(str(day), kind): seconds for day, kind, seconds in filled}
        assert filled == {
            ("2026-12-01", "run_walk"): 600,  # the active plan's longest run that day
            ("2026-12-03", "run_walk"): 90,  # the active plan wins over the older one
            ("2026-11-28", "run_walk"): 240,  # only the older plan had that day
            ("2026-11-20", "run_walk"): None,  # in no plan
            ("2026-12-01", "strength"): None,
        }
        db.engine.dispose()
    if backend == "postgresql":
        _drop_database(SCRATCH_DB)


def test_logs_keep_the_sessions_their_plans_show_now(backend, tmp_path):
    """0008 adds workout_logs.planned and fills it for the logs already there: that day's
    sessions of the log's kind in her active plan, else in her newest older plan."""
    app = create_app(make_test_config(_scratch_url(backend, tmp_path), tmp_path))

    def session(day: str, kind: str, title: str) -> dict:
        return {"date": day, "title": title, "kind": kind, "segments": []}

    def plan(*sessions: dict) -> dict:
        return {"weeks": [{"sessions": list(sessions)}]}

    active = plan(
        session("2026-12-01", "run_walk", "Active run"),
        session("2026-12-01", "strength", "Active hips"),
    )
    older = plan(
        session("2026-12-01", "run_walk", "Older run"),
        session("2026-11-28", "run_walk", "Older only"),
    )
    with app.app_context():
        upgrade(revision="0007_log_run_seconds")
        with db.engine.begin() as conn:
            _insert_plans_and_logs(
                conn,
                plans=((older, False), (active, True)),
                logs=(("2026-12-01", "run_walk"), ("2026-12-01", "strength"),
                      ("2026-11-28", "run_walk"), ("2026-11-20", "run_walk")),
            )  # fmt: skip
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    sa.column("session_date"), sa.column("kind"), sa.column("planned", sa.JSON)
                ).select_from(sa.table("workout_logs"))
            ).all()
        titles = {
            (str(day), kind): [s["title"] for s in planned] if planned else None
            for day, kind, planned in rows
        }
        assert titles == {
            ("2026-12-01", "run_walk"): ["Active run"],  # the active plan wins
            ("2026-12-01", "strength"): ["Active hips"],  # the log's own kind
            ("2026-11-28", "run_walk"): ["Older only"],  # only the older plan had that day
            ("2026-11-20", "run_walk"): None,  # in no plan
        }
        db.engine.dispose()
    if backend == "postgresql":
        _drop_database(SCRATCH_DB)

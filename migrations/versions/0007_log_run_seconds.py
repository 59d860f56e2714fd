"""workout_logs.run_seconds: a run/walk's longest continuous run as her plan set it when she
logged it, so her milestones are read from her logs without parsing her plans

Revision ID: 0007_log_run_seconds
Revises: 0006_booking_emails_later
Create Date: 2026-12-06 04:00:00

Filled here for the run/walks already logged, from her plans as they stand (the active plan's
session of that day first, then her older plans', newest first: what the day page read until
this revision); the log keeps it from now on.
"""

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0007_log_run_seconds"
down_revision = "0006_booking_emails_later"
branch_labels = None
depends_on = None

plan_records = sa.table(
    "plan_records", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
    sa.column("plan", sa.JSON), sa.column("active", sa.Boolean),
    sa.column("created_at", sa.DateTime),
)  # fmt: skip
workout_logs = sa.table(
    "workout_logs", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
    sa.column("session_date", sa.Date), sa.column("kind", sa.String),
    sa.column("run_seconds", sa.Integer),
)  # fmt: skip


def longest_runs(plan: dict | None) -> dict[date, int]:
    # A copy of the engine's Session.longest_run_seconds over a stored plan as it is at this
    # revision: a migration must not change when the application code does.
    return {
        date.fromisoformat(s["date"]): max(
            (seg["seconds"] for seg in s.get("segments", ()) if seg.get("kind") == "run"),
            default=0,
        )
        for week in (plan or {}).get("weeks", ())
        for s in week.get("sessions", ())
        if s.get("kind") == "run_walk"
    }


def upgrade():
    with op.batch_alter_table("workout_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_seconds", sa.Integer(), nullable=True))
    conn = op.get_bind()
    runs: dict[int, dict[date, int]] = defaultdict(dict)
    plans = conn.execute(
        sa.select(plan_records.c.user_id, plan_records.c.plan).order_by(
            plan_records.c.user_id,
            plan_records.c.active.desc(),
            plan_records.c.created_at.desc(),
            plan_records.c.id.desc(),
        )
    )
    for user_id, plan in plans:
        for day, seconds in longest_runs(plan).items():
            runs[user_id].setdefault(day, seconds)  # the first plan to set the day wins
    logs = conn.execute(
        sa.select(workout_logs.c.id, workout_logs.c.user_id, workout_logs.c.session_date).where(
            workout_logs.c.kind == "run_walk"
        )
    ).all()
    values = [
        {"log_id": log_id, "seconds": runs[user_id][day]}
        for log_id, user_id, day in logs
        if day in runs.get(user_id, {})
    ]
    if values:
        conn.execute(
            workout_logs.update()
            .where(workout_logs.c.id == sa.bindparam("log_id"))
            .values(run_seconds=sa.bindparam("seconds")),
            values,
        )


def downgrade():
    with op.batch_alter_table("workout_logs", schema=None) as batch_op:
        batch_op.drop_column("run_seconds")

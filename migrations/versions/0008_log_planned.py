"""workout_logs.planned: the session(s) a log was made against, as her plan showed them then,
so that working her plan out again after later logs leaves the days she logged as she did them

Revision ID: 0008_log_planned
Revises: 0007_log_run_seconds
Create Date: 2026-12-06 07:00:00

Filled here for the logs already there from her plans as they stand (the active plan's sessions
of that day and kind first, then her older plans', newest first): what the day page shows now,
which is the best record there is of what she was asked to do; the log keeps it from now on.
"""

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0008_log_planned"
down_revision = "0007_log_run_seconds"
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
    sa.column("planned", sa.JSON),
)  # fmt: skip


def sessions_by_day(plan: dict | None) -> dict[tuple[date, str], list[dict]]:
    # The stored plan's sessions as they are at this revision, by day and kind: a migration
    # must not change when the application code does.
    found: dict[tuple[date, str], list[dict]] = defaultdict(list)
    for week in (plan or {}).get("weeks", ()):
        for session in week.get("sessions", ()):
            found[(date.fromisoformat(session["date"]), session.get("kind"))].append(session)
    return found


def upgrade():
    with op.batch_alter_table("workout_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned", sa.JSON(), nullable=True))
    conn = op.get_bind()
    planned: dict[int, dict[tuple[date, str], list[dict]]] = defaultdict(dict)
    plans = conn.execute(
        sa.select(plan_records.c.user_id, plan_records.c.plan).order_by(
            plan_records.c.user_id,
            plan_records.c.active.desc(),
            plan_records.c.created_at.desc(),
            plan_records.c.id.desc(),
        )
    )
    for user_id, plan in plans:
        for key, sessions in sessions_by_day(plan).items():
            planned[user_id].setdefault(key, sessions)  # the first plan to have the day wins
    logs = conn.execute(
        sa.select(
            workout_logs.c.id,
            workout_logs.c.user_id,
            workout_logs.c.session_date,
            workout_logs.c.kind,
        )  # fmt: skip
    ).all()
    values = [
        {"log_id": log_id, "sessions": planned[user_id][(day, kind)]}
        for log_id, user_id, day, kind in logs
        if (day, kind) in planned.get(user_id, {})
    ]
    if values:
        conn.execute(
            workout_logs.update()
            .where(workout_logs.c.id == sa.bindparam("log_id"))
            .values(planned=sa.bindparam("sessions")),
            values,
        )


def downgrade():
    with op.batch_alter_table("workout_logs", schema=None) as batch_op:
        batch_op.drop_column("planned")

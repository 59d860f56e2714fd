"""plan_records.calendar: each plan's sessions as {date, title, kind}, kept beside the plan

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 03:50:00

Filled here for the plans that exist (the model keeps it in step from now on); a fan-out that
shows one week of many plans (the Sunday check-ins) reads it instead of each whole plan.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

plan_records = sa.table(
    "plan_records", sa.column("id", sa.Integer), sa.column("plan", sa.JSON),
    sa.column("calendar", sa.JSON),
)  # fmt: skip


def calendar_of(plan: dict | None) -> list[dict[str, str]]:
    # A copy of programs.models.plan_calendar as it was at this revision: a migration must not
    # change when the application code does.
    return [
        {"date": s["date"], "title": s.get("title", ""), "kind": s.get("kind", "")}
        for week in (plan or {}).get("weeks", ())
        for s in week.get("sessions", ())
    ]


def upgrade():
    with op.batch_alter_table("plan_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar", sa.JSON(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.select(plan_records.c.id, plan_records.c.plan)).all()
    for row_id, plan in rows:
        conn.execute(
            plan_records.update()
            .where(plan_records.c.id == row_id)
            .values(calendar=calendar_of(plan))
        )
    with op.batch_alter_table("plan_records", schema=None) as batch_op:
        batch_op.alter_column("calendar", existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table("plan_records", schema=None) as batch_op:
        batch_op.drop_column("calendar")

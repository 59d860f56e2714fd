"""busy_feeds: the coach's own calendar (iCal busy feed); workout_logs.client_id: logs made
offline on the runner's phone, replayed idempotently

Revision ID: 0005_busy_feed_offline_logs
Revises: 0005_access
Create Date: 2026-12-05 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_busy_feed_offline_logs"
down_revision = "0005_access"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "busy_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("busy", sa.JSON(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_busy_feeds")),
    )
    with op.batch_alter_table("workout_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_workout_logs_user_id_client_id"), ["user_id", "client_id"]
        )


def downgrade():
    with op.batch_alter_table("workout_logs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_workout_logs_user_id_client_id"), type_="unique")
        batch_op.drop_column("client_id")
    op.drop_table("busy_feeds")

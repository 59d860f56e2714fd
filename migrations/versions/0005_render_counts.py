"""outbox_emails.render: emails the worker renders at send time; dashboard_counts: the
dashboard's funnel and revenue, refreshed by beat

Revision ID: 0005_render_counts
Revises: 0005_call_kind
Create Date: 2026-12-05 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_render_counts"
down_revision = "0005_call_kind"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("render", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "dashboard_counts",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dashboard_counts")),
    )


def downgrade():
    op.drop_table("dashboard_counts")
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_column("render")

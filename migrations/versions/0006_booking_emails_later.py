"""bookings.emails_queued_at: a booking's confirmation and reminders are queued by the worker,
after the booking request; NULL until then (a partial index finds those still to queue)

Revision ID: 0006_booking_emails_later
Revises: 0005_render_counts
Create Date: 2026-12-06 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_booking_emails_later"
down_revision = "0005_render_counts"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("emails_queued_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Every booking made before this revision had its emails queued in its own request.
    op.execute("UPDATE bookings SET emails_queued_at = created_at")
    op.create_index(
        "ix_bookings_emails_pending",
        "bookings",
        ["created_at"],
        unique=False,
        sqlite_where=sa.text("emails_queued_at IS NULL"),
        postgresql_where=sa.text("emails_queued_at IS NULL"),
    )


def downgrade():
    op.drop_index(
        "ix_bookings_emails_pending",
        table_name="bookings",
        sqlite_where=sa.text("emails_queued_at IS NULL"),
        postgresql_where=sa.text("emails_queued_at IS NULL"),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("emails_queued_at")

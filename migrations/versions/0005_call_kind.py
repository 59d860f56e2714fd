"""How the free call happens: the coach's choice (phone, or video with her own link or a Jitsi
room per booking), and each booking's kind and meeting link

Revision ID: 0005_call_kind
Revises: 0005_stripe_event_order
Create Date: 2026-12-05 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_call_kind"
down_revision = "0005_stripe_event_order"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("coach_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("call_kind", sa.String(length=8), server_default="video", nullable=False)
        )
        batch_op.add_column(
            sa.Column("video_link", sa.String(length=300), server_default="", nullable=False)
        )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("call_kind", sa.String(length=8), server_default="phone", nullable=False)
        )
        batch_op.add_column(
            sa.Column("meeting_url", sa.String(length=300), server_default="", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("meeting_url")
        batch_op.drop_column("call_kind")
    with op.batch_alter_table("coach_settings", schema=None) as batch_op:
        batch_op.drop_column("video_link")
        batch_op.drop_column("call_kind")

"""Stripe events in any order: stripe_events.waiting_for (an event kept until its object
exists) and the disputes table

Revision ID: 0005_stripe_event_order
Revises: 0005_strength
Create Date: 2026-12-05 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_stripe_event_order"
down_revision = "0005_strength"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_for", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_stripe_events_waiting_for"), ["waiting_for"], unique=False
        )
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("stripe_dispute_id", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_disputes_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("stripe_dispute_id", name=op.f("uq_disputes_stripe_dispute_id")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disputes_payment_id"), ["payment_id"], unique=False)


def downgrade():
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_payment_id"))
    op.drop_table("disputes")
    with op.batch_alter_table("stripe_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stripe_events_waiting_for"))
        batch_op.drop_column("waiting_for")

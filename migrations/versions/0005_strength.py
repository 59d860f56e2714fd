"""strength days: exercise demonstrations (photos, video), per-exercise feedback, coach pins

Revision ID: 0005_strength
Revises: 0005_busy_feed_offline_logs
Create Date: 2026-12-05 13:32:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005_strength"
down_revision = "0005_busy_feed_offline_logs"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "exercise_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exercise_id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("START", "END", "VIDEO", name="mediakind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "PROCESSING", "READY", "FAILED", name="mediastatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("key", sa.String(length=64), nullable=True),
        sa.Column("poster_key", sa.String(length=64), nullable=True),
        sa.Column("source_key", sa.String(length=64), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("source_bytes", sa.Integer(), nullable=True),
        sa.Column("worker_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exercise_media")),
        sa.UniqueConstraint("exercise_id", "kind", name=op.f("uq_exercise_media_exercise_id_kind")),
    )
    with op.batch_alter_table("exercise_media", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exercise_media_exercise_id"), ["exercise_id"], unique=False
        )

    op.create_table(
        "strength_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=False),
        sa.Column("exercise_id", sa.String(length=64), nullable=False),
        sa.Column("rating", sa.String(length=8), nullable=True),
        sa.Column("pain", sa.Integer(), nullable=True),
        sa.Column("sets_done", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "pain IS NULL OR (pain BETWEEN 0 AND 10)", name=op.f("ck_strength_feedback_pain_range")
        ),
        sa.CheckConstraint(
            "sets_done IS NULL OR sets_done >= 0", name=op.f("ck_strength_feedback_sets_done_range")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_strength_feedback_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strength_feedback")),
        sa.UniqueConstraint(
            "user_id",
            "session_date",
            "exercise_id",
            name=op.f("uq_strength_feedback_user_id_session_date_exercise_id"),
        ),
    )
    with op.batch_alter_table("strength_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_strength_feedback_user_id"), ["user_id"], unique=False)

    op.create_table(
        "strength_pins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("exercise_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_strength_pins_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strength_pins")),
        sa.UniqueConstraint(
            "user_id", "exercise_id", name=op.f("uq_strength_pins_user_id_exercise_id")
        ),
    )
    with op.batch_alter_table("strength_pins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_strength_pins_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("strength_pins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_strength_pins_user_id"))

    op.drop_table("strength_pins")
    with op.batch_alter_table("strength_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_strength_feedback_user_id"))

    op.drop_table("strength_feedback")
    with op.batch_alter_table("exercise_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exercise_media_exercise_id"))

    op.drop_table("exercise_media")

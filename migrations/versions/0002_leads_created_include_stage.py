"""leads: ix_leads_created_id carries the stage (PostgreSQL INCLUDE) for the dashboard's funnel

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 03:10:00

SQLite has no INCLUDE: there the index stays (created_at, id) and nothing changes.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _recreate(**include) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_leads_created_id", table_name="leads")
    op.create_index("ix_leads_created_id", "leads", ["created_at", "id"], **include)


def upgrade():
    _recreate(postgresql_include=["stage"])


def downgrade():
    _recreate()

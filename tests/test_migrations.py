"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from extensions import db, include_in_migrations
from tests.conftest import PG_URL, _drop_database, _recreate_database, make_test_config

SCRATCH_DB = PG_URL.rsplit("/", 1)[1] + "_migrations"


def _scratch_url(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    _recreate_database(SCRATCH_DB)
    return PG_URL.rsplit("/", 1)[0] + f"/{SCRATCH_DB}"


def _index_definitions() -> set[str]:
    """Every index as PostgreSQL spells it (INCLUDE columns, GIN operator classes, WITH options:
    what Alembic's comparison does not look at)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
        )
        return {row[0] for row in rows}


def test_migrations_match_the_models(backend, tmp_path):
    app = create_app(make_test_config(_scratch_url(backend, tmp_path), tmp_path))
    with app.app_context():
        upgrade()
        migrated_indexes = _index_definitions() if backend == "postgresql" else set()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": True,
                    "include_object": include_in_migrations(conn.dialect.name),
                },
            )
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        if backend == "postgresql":
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
            db.create_all()
            assert _index_definitions() == migrated_indexes
        db.engine.dispose()
    if backend == "postgresql":
        _drop_database(SCRATCH_DB)

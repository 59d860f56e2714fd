"""PostgreSQL connections (crm/connections.py): reads run without BEGIN, a write opens the
transaction that holds everything up to its commit, and a connection the server closed is replaced
at checkout instead of failing the request."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy import event, select

from crm import connections
from crm.leads.models import Lead
from extensions import db
from tests.conftest import PG_SERVER_URL, sign_in
from tests.factories import create_lead, create_user


@pytest.fixture
def pg(app_ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's connections: SQLite keeps SQLAlchemy's usual handling")
    return app_ctx


def status() -> TransactionStatus:
    return db.session.connection().connection.dbapi_connection.info.transaction_status


def test_a_read_runs_without_a_transaction(pg):
    db.session.scalar(select(Lead.id).limit(1))
    assert status() == TransactionStatus.IDLE  # no BEGIN was sent, nothing to roll back


def test_a_write_and_what_follows_it_are_one_transaction(pg):
    create_lead(db.session, name="Kept")  # commits: its own transaction
    db.session.scalar(select(Lead.id).limit(1))
    db.session.execute(sa.update(Lead).values(name="Renamed"))
    assert status() == TransactionStatus.INTRANS
    db.session.scalar(select(Lead.name).limit(1))  # a read after a write is in the transaction
    db.session.execute(sa.insert(Lead).values(email="second@example.com", name="Second"))
    db.session.rollback()  # both writes go: they were one transaction
    assert db.session.scalars(select(Lead.name)).all() == ["Kept"]


def test_a_locking_read_opens_the_transaction_that_holds_its_lock(pg):
    lead = create_lead(db.session)
    db.session.scalar(select(Lead).where(Lead.id == lead.id).with_for_update())
    assert status() == TransactionStatus.INTRANS
    db.session.rollback()


def test_autocommit_asked_for_by_name_is_left_alone(pg):
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(sa.insert(Lead).values(email="durable@example.com", name="Durable"))
        assert conn.connection.dbapi_connection.info.transaction_status == TransactionStatus.IDLE
    # Never committed by name, yet there: each statement committed by itself.
    assert db.session.scalar(select(Lead.id).where(Lead.email == "durable@example.com"))


def test_a_signed_in_page_reads_without_begin(pg, client):
    sign_in(client, create_user(db.session, role="coach"))
    create_lead(db.session)
    in_transaction = []

    def record(conn, cursor, statement, *args):
        in_transaction.append(not cursor.connection.autocommit)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get("/coach/leads").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert in_transaction and not any(in_transaction)


def backend_pid() -> int:
    return db.session.scalar(sa.text("SELECT pg_backend_pid()"))


def kill(pid: int) -> None:
    admin = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    admin.dispose()


def test_a_connection_the_server_closed_is_replaced_at_checkout(pg):
    first = backend_pid()
    db.session.close()  # back to the pool
    kill(first)  # waits (up to 5 s) until that server process has gone
    second = backend_pid()  # no error: the closed one was noticed and replaced
    assert second != first


def test_a_long_idle_connection_is_pinged(pg, monkeypatch):
    pinged = []
    ping = connections._ping
    monkeypatch.setattr(connections, "_ping", lambda conn: pinged.append(1) or ping(conn))
    monkeypatch.setattr(connections, "PING_AFTER_IDLE", -1.0)
    first = backend_pid()
    db.session.close()
    kill(first)
    assert backend_pid() != first
    assert pinged


def test_a_cursor_describes_its_result_when_a_column_is_read(pg):
    """SQLAlchemy reads `description` after every statement; Hero's cursors build psycopg's
    columns only when one is looked at, and describe what psycopg would."""
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    assert isinstance(cursor, connections.DescribedOnRead)
    cursor.execute("SELECT 1 AS a, 'x'::text AS b")
    described = cursor.description
    assert len(described) == 2
    assert [(c.name, c.type_code) for c in described] == [("a", 23), ("b", 25)]  # int4, text
    cursor.execute("SELECT")  # tuples, no columns: described, and empty
    assert cursor.description is not None and len(cursor.description) == 0
    cursor.execute("SET LOCAL statement_timeout = 0")
    assert cursor.description is None
    cursor.execute("SELECT 1 AS a")
    stale = cursor.description
    cursor.execute("SELECT 2 AS z")
    with pytest.raises(RuntimeError):
        stale[0]  # it would describe another result: refused, not wrong
    # Through SQLAlchemy, a statement it has not seen yet is described from the cursor.
    row = db.session.execute(sa.text("SELECT 7 AS seven, 'k' AS kay")).one()
    assert row._mapping == {"seven": 7, "kay": "k"}

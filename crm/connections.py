"""How Hero's PostgreSQL connections spend their round trips.

A signed-in page used to pay three round trips besides its own queries: the pool's pre-ping
(`SELECT 1`), `BEGIN` and, when the pooled connection came back, `ROLLBACK` — about a sixth of
the cheapest page's CPU, in the server and in PostgreSQL. Two rules remove them and keep what they
were for:

- **Alive, without asking.** At checkout an idle connection is polled, not pinged: a server that
  ended the session (`pg_terminate_backend`, a restart, a proxy closing it) has sent its goodbye
  or closed the socket, so the socket is readable; an idle healthy one has nothing to say. Such a
  connection is replaced before anyone uses it (SQLAlchemy's DisconnectionError from a checkout
  listener), as the pre-ping did. A connection idle for longer than `PING_AFTER_IDLE` seconds,
  which a firewall may have dropped without a word, is still pinged.
- **Reads need no transaction; writes get one.** A connection starts each checkout in autocommit,
  so plain SELECTs run alone: PostgreSQL's default READ COMMITTED gives each statement its own
  snapshot either way, so the answers are the same. Before the first statement that is not a plain
  read — an INSERT, UPDATE or DELETE, a SAVEPOINT, a SELECT … FOR UPDATE, a server-side cursor,
  anything else — the connection leaves autocommit, so that statement and everything after it
  until the commit or rollback are one transaction, exactly as before. A connection someone set
  to AUTOCOMMIT on purpose (the sender's marks) is left as it is.

A third rule saves Python, not round trips: **a cursor's description is built when read.**
SQLAlchemy reads `cursor.description` after every statement, but uses it only the first time it
sees a statement's result (it keeps the result's columns with the compiled statement). psycopg
builds a `Column` object per column on every read: a quarter of the client's CPU for a
statement. Hero's cursors (`DescribedOnRead`) hand SQLAlchemy a sequence of the same length that
builds those columns only when one is asked for.

SQLite (the no-server default) keeps SQLAlchemy's usual handling: it has no round trips to save.
"""

from __future__ import annotations

import functools
import re
import select
import time
from collections.abc import Sequence

import psycopg
from flask import Flask
from psycopg.pq import ExecStatus
from sqlalchemy import event, exc

from extensions import db

# Longer idle than this and the connection is pinged at checkout, not just polled.
PING_AFTER_IDLE = 30.0

# A statement that may run outside a transaction: a SELECT (or WITH … SELECT) that neither
# changes rows, nor locks them, nor calls something that needs a transaction of its own
# (advisory transaction locks, set_config). A false alarm only costs a BEGIN.
_PLAIN_READ = re.compile(r"\s*(?:SELECT|WITH)\b", re.IGNORECASE)
_NEEDS_TRANSACTION = re.compile(
    r"\b(?:INSERT|UPDATE|DELETE|MERGE)\b|\bFOR\s+(?:NO\s+KEY\s+|KEY\s+)?SHARE\b"
    r"|pg_advisory_xact|set_config",
    re.IGNORECASE,
)


def init_app(app: Flask) -> None:
    """Apply both rules to the app's engine when it is PostgreSQL through psycopg."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return
    event.listen(engine, "checkout", _checkout)
    event.listen(engine, "checkin", _checkin)
    event.listen(engine, "before_cursor_execute", _transaction_for_writes)


class _Description(Sequence):
    """A result's columns, as psycopg describes them, built on the first look at one of them.
    Each SQLAlchemy statement has a cursor of its own, so the result it describes stays put."""

    __slots__ = ("_cursor", "_result", "_size", "_columns")

    def __init__(self, cursor: psycopg.Cursor, size: int) -> None:
        self._cursor, self._result, self._size = cursor, cursor.pgresult, size
        self._columns: list[psycopg.Column] | None = None

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index):
        if self._columns is None:
            if self._cursor.pgresult is not self._result:
                raise RuntimeError("the cursor has moved on to another result")
            self._columns = [psycopg.Column(self._cursor, i) for i in range(self._size)]
        return self._columns[index]


class DescribedOnRead(psycopg.Cursor):
    """psycopg's cursor, with a `description` that costs nothing until a column is read."""

    @property
    def description(self) -> Sequence[psycopg.Column] | None:
        result = self.pgresult
        if result is None:
            return None
        if result.nfields or result.status in _TUPLES:  # as psycopg decides (a "SELECT ;")
            return _Description(self, result.nfields)
        return None


_TUPLES = frozenset({ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK})


def _checkout(dbapi_connection, record, proxy) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE:
        _ping(dbapi_connection)
    elif _server_has_spoken(dbapi_connection):
        raise exc.DisconnectionError("the database server closed this connection")
    dbapi_connection.autocommit = True
    dbapi_connection.cursor_factory = DescribedOnRead


def _checkin(dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _server_has_spoken(dbapi_connection) -> bool:
    """True when an idle connection's socket is readable (or gone): the server has closed it."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except Exception:  # noqa: BLE001 - a closed connection has no socket left to poll
        return True


def _ping(dbapi_connection) -> None:
    try:
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means: replace it
        raise exc.DisconnectionError("the database did not answer a ping") from error


def _transaction_for_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    dbapi_connection = cursor.connection
    if not dbapi_connection.autocommit:
        return
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # autocommit asked for by name: each statement commits by itself
    if _is_plain_read(statement) and not (
        context is not None and context.execution_options.get("stream_results")
    ):
        return
    dbapi_connection.autocommit = False  # psycopg sends BEGIN before this statement


@functools.lru_cache(maxsize=2048)  # the statements are SQLAlchemy's cached compilations
def _is_plain_read(statement: str) -> bool:
    return bool(_PLAIN_READ.match(statement)) and not _NEEDS_TRANSACTION.search(statement)

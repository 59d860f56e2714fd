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

SQLite (the no-server default) keeps SQLAlchemy's usual handling: it has no round trips to save.
"""

from __future__ import annotations

import functools
import re
import select
import time

from flask import Flask
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


def _checkout(dbapi_connection, record, proxy) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE:
        _ping(dbapi_connection)
    elif _server_has_spoken(dbapi_connection):
        raise exc.DisconnectionError("the database server closed this connection")
    dbapi_connection.autocommit = True


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

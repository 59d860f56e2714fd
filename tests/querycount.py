"""Count the SQL statements a page costs (machine-independent, unlike its time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from extensions import db


@contextmanager
def recorded_statements() -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block, in order."""
    seen: list[str] = []

    def before(_conn, _cursor, statement, *_args, **_kwargs):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def statements_for(client, url: str) -> int:
    """GET `url` (which must answer 200) and return how many statements it executed."""
    with recorded_statements() as seen:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(seen)

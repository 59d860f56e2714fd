"""Count the SQL statements a page costs (machine-independent, unlike its time)."""

from __future__ import annotations

from sqlalchemy import event

from extensions import db


def statements_for(client, url: str) -> int:
    """GET `url` (which must answer 200) and return how many statements it executed."""
    count = 0

    def before(*_args, **_kwargs):
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        response = client.get(url)
        assert response.status_code == 200, url
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return count

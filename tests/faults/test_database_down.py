"""PostgreSQL goes away and comes back: requests fail cleanly (a 503 page, JSON 503 under /api/),
nothing is half-written, and the same app recovers without a restart (connections checked at
checkout, crm/connections.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from crm.booking import availability as coach_availability
from crm.booking.models import Booking
from tests.conftest import PG_SERVER_URL, sign_in


def skip_unless_postgresql(app) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("a PostgreSQL outage: runs on the PostgreSQL backend")


def login(client, user) -> None:
    sign_in(client, user)


def booking_json(slot) -> dict:
    return {
        "name": "Dana Down",
        "email": "dana@example.com",
        "slot_start": slot.start.isoformat(),
        "timezone": "America/New_York",
        "marketing_consent": False,
    }


def test_database_outage_gives_json_503s_and_the_app_recovers_without_restart(
    proxied, coach, db_session
):
    other, proxy = proxied
    coach_availability.ensure_default_availability(db_session)
    slot = coach_availability.free_slots(db_session, days=14)[0]
    client = other.test_client()
    assert client.get("/api/v1/slots").status_code == 200

    proxy.stop()
    # What the process sent the last anonymous visitor is still hers for a few seconds (the
    # public pages' copy, crm/site/caching.py); anything that needs the database gets a 503.
    assert client.get("/api/v1/slots").status_code == 200
    for response in (
        client.get("/api/v1/slots", headers={"Cache-Control": "no-cache"}),
        client.post("/api/v1/bookings", json=booking_json(slot)),
    ):
        assert response.status_code == 503
        assert response.is_json and response.get_json()["code"] == 503
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["database"]["ok"] is False

    proxy.start()  # the database is back; the app was never restarted
    assert client.get("/healthz").status_code == 200
    # The refused booking left nothing behind, and the slot can still be booked.
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 0
    booked = client.post("/api/v1/bookings", json=booking_json(slot))
    assert booked.status_code == 201, booked.get_json()


def test_database_outage_gives_a_503_page_to_a_signed_in_coach(proxied, coach):
    other, proxy = proxied
    client = other.test_client()
    login(client, coach)
    assert client.get("/coach/leads").status_code == 200
    proxy.stop()
    page = client.get("/coach/leads")
    assert page.status_code == 503
    assert "text/html" in page.content_type
    assert "unavailable" in page.get_data(as_text=True).lower()
    proxy.start()
    assert client.get("/coach/leads").status_code == 200


def test_database_outage_gives_a_503_page_to_a_visitor(proxied):
    other, proxy = proxied
    client = other.test_client()
    proxy.stop()
    page = client.get("/book")
    assert page.status_code == 503
    assert "text/html" in page.content_type
    proxy.start()
    assert client.get("/book").status_code == 200


def test_killed_database_connections_are_replaced_at_checkout(app, proxied, coach):
    # The second app: each of its requests has its own app context and session, as in
    # production (the test's own client shares one app context across requests).
    other, proxy = proxied
    client = other.test_client()
    login(client, coach)
    assert client.get("/coach/leads").status_code == 200
    name = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    admin = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND application_name = 'hero-faults'"
            ),
            {"name": name},
        ).scalar()
    admin.dispose()
    assert killed >= 1  # the pooled connections are gone
    # pg_terminate_backend only signals: as after a restart or an operator's kill that happened
    # before the next request, the server has ended them when the requests come.
    proxy.wait_until_backends_closed()
    for url in ("/coach/leads", "/coach", "/api/v1/slots", "/healthz"):
        assert client.get(url).status_code == 200, url
